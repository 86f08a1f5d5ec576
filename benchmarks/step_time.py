"""Time of one full-batch gradient-descent step: skexpreg against its peers.

    python benchmarks/step_time.py                 # workload W1, all peers
    python benchmarks/step_time.py --n 5000        # a smaller workload

Workload W1 (the default): n = 20,000 rows of unit norm, d = 32, m = 2,048,
timed in float32 (the estimator's default training precision) and float64
(``precision="double"``): every peer runs in both, and ratios are taken
within a precision only. The first line names the processor and its widest
vector extension (AVX-512 or AVX2), on which the exp and the products
depend. Every peer runs in its own process (so that its peak resident
memory is its own) and computes the same step,
``grad = X^T (((E a)/sqrt(m) - y) a^T o E) / sqrt(m)`` with ``E = exp(X W)``:

* ``limit``: the unavoidable work at the machine's limit: for each of
  skexpreg's row blocks, the two products (block x d by d x m, and its
  transpose product) and the exp of the block, each thread repeating its own
  block from cache, all threads busy, single-threaded BLAS inside;
* ``skexpreg``: ``ExponentialRegressor.fit`` with a fixed step, ``tol=0``
  and ``precision=None`` (the step in the data's dtype);
  per-step time is the difference between fits of ``2 + steps`` and 2 steps,
  divided by ``steps``, which removes validation and set-up. With numba
  installed (``pip install "skexpreg[fast]"``) blocks use skexpreg's
  vectorised exp kernel of their width where a one-off timing finds it
  faster than numpy's (and so does ``limit``); ``skexpreg np.exp`` and
  ``skexpreg numba`` are the same fit with the kernels forced off
  (``SKEXPREG_NUMBA=0``) and on (``SKEXPREG_NUMBA=1``);
* ``skexpreg defaults``: the estimator with every parameter at its default
  but ``n_neurons``, ``learning_rate=1e-3`` and ``tol=0`` (and
  ``precision="double"`` in float64), per iteration (the same difference
  of fits): the Nesterov solver, all threads, the default input and target
  maps, and ``alpha`` fixed at what ``alpha="auto"`` chooses (its path's
  fits would not drop out of the difference);
* ``skexpreg auto``: the same with ``solver="auto"`` as well, which from
  20,000 rows (W1 has 20,000) trains on mini-batches of 512 rows: per
  epoch, a pass over every row in 40 steps, against peers' one step
  (``--batch-size`` sets another batch size for this peer);
* ``numpy naive``: the formula above with the full n x m matrix;
* ``torch eager``, ``torch.compile``, ``jax.jit`` (skipped when the package is
  not installed);
* ``MLPRegressor``: scikit-learn's one-hidden-layer network with m ReLU units,
  full-batch SGD, per-epoch time (a different model, for scale).

``--emulate-avx2`` runs every peer as on a processor without AVX-512 (on
one that has it): numpy's AVX-512 loops are disabled
(``NPY_DISABLE_CPU_FEATURES``), OpenBLAS uses its AVX2 kernels for Zen
(``OPENBLAS_CORETYPE``), PyTorch, its compiler and MKL stop at AVX2
(``ATEN_CPU_CAPABILITY``, ``MKL_ENABLE_INSTRUCTIONS``) and so does XLA
(``XLA_FLAGS``), and numba compiles for a Zen 2 core without AVX-512
(``NUMBA_CPU_NAME``, ``NUMBA_CPU_FEATURES``). Timings are then those of
AVX2 code on this core, which is not the same as an AVX2 processor's
(clock, caches), so report them as emulated.

Peers get the same number of threads (``--threads``, default: all cores),
except jax, whose CPU thread pool is not configurable at run time. Each
round measures every peer once; the table shows median times and the median
over rounds of each peer's time divided by skexpreg's time in the same
round: absolute times on a shared machine are noise. Below the table, for
each precision, the defaults' step against the limit and against
``torch.compile`` in the same precision.
"""

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import threading
import time

import numpy as np

PEERS = [
    "limit",
    "skexpreg",
    "skexpreg np.exp",
    "skexpreg numba",
    "skexpreg defaults",
    "skexpreg auto",
    "numpy naive",
    "torch eager",
    "torch.compile",
    "jax.jit",
    "MLPRegressor",
]


# What --emulate-avx2 sets in every peer's environment.
AVX2_ENVIRONMENT = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Zen",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "XLA_FLAGS": "--xla_cpu_max_isa=AVX2",
}


def avx2_environment():
    """AVX2_ENVIRONMENT, and numba's target without AVX-512 where llvmlite
    (numba's compiler) is installed: a Zen 2 core with this processor's
    features but every AVX-512 one."""
    env = dict(AVX2_ENVIRONMENT)
    try:
        import llvmlite.binding as llvm
    except ImportError:
        return env
    features = llvm.get_host_cpu_features().flatten()
    env["NUMBA_CPU_NAME"] = "znver2"
    env["NUMBA_CPU_FEATURES"] = features.replace("+avx512", "-avx512")
    return env


def make_data(n, d, m, dtype, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.uniform(-1, 1, size=n)
    W = rng.normal(size=(d, m))
    a = np.where(rng.rand(m) < 0.5, -1.0, 1.0)
    return X.astype(dtype), y.astype(dtype), W.astype(dtype), a.astype(dtype)


def best_of(func, repeats):
    func()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def _exp_name(dtype):
    """Which exponential skexpreg uses for blocks of ``dtype`` here."""
    from skexpreg import _fastexp

    try:
        used = _fastexp.available(dtype)
    except TypeError:  # skexpreg before 2026-12-07: a float64 kernel only
        used = _fastexp.available() and dtype == np.float64
    return "numba exp" if used else "np.exp"


def time_limit(X, y, W, a, threads, repeats):
    from threadpoolctl import threadpool_limits

    from skexpreg import _fastexp
    from skexpreg._blocks import row_blocks

    blocks = row_blocks(X.shape[0], W.shape[1], X.dtype)
    rows = blocks[0].stop - blocks[0].start
    shares = np.array_split(np.arange(len(blocks)), threads)

    def work(count):
        block = np.ascontiguousarray(X[:rows])
        Z = np.empty((rows, W.shape[1]), dtype=X.dtype)
        G = np.empty_like(W)
        for _ in range(count):
            np.matmul(block, W, out=Z)
            if not _fastexp.exp_inplace(Z):  # skexpreg's exp, whichever it is
                np.exp(Z, out=Z)
            np.matmul(block.T, Z, out=G)

    def run():
        pool = [threading.Thread(target=work, args=(len(s),)) for s in shares]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    exp = _exp_name(X.dtype)
    with threadpool_limits(limits=1, user_api="blas"):
        return best_of(run, repeats), f"{len(blocks)} blocks of {rows} rows, {exp}"


def time_skexpreg(X, y, W, a, threads, repeats, steps=10):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from skexpreg import ExponentialRegressor

    def fit(max_iter):
        model = ExponentialRegressor(
            W.shape[1],
            learning_rate=1e-7,
            solver="nesterov",  # full-batch steps, whatever n (auto: sgd from 20,000)
            max_iter=max_iter,
            tol=0.0,
            alpha=0.0,
            input_scaling=None,
            target_scaling=False,
            init="gaussian",
            precision=None,  # the step in the data's dtype, like every peer
            n_jobs=threads,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return lambda: model.fit(X, y)

    short = best_of(fit(2), repeats)
    long = best_of(fit(2 + steps), repeats)
    exp = _exp_name(X.dtype)
    return (long - short) / steps, f"fit with {2 + steps} minus 2 steps, {exp}"


def time_skexpreg_defaults(
    X, y, W, a, threads, repeats, steps=20, solver="nesterov", batch_size="auto"
):
    """The estimator as a user gets it: every parameter at its default but
    the width, a fixed step and ``tol=0`` (so float32 training, all the
    threads the BLAS limit allows) and ``solver`` (Nesterov's full-batch
    steps; ``"auto"``: the default, mini-batches from 20,000 rows, per
    epoch). ``alpha`` is fixed at the strength ``alpha="auto"`` chooses: the
    path's fits run up to ``max_iter`` steps too, so they would not drop out
    of the difference."""
    import warnings

    from threadpoolctl import threadpool_limits

    from skexpreg import ExponentialRegressor

    params = dict(learning_rate=1e-3, tol=0.0, solver=solver, batch_size=batch_size)
    if X.dtype == np.float64:
        params["precision"] = "double"  # the default trains float32
    with warnings.catch_warnings(), threadpool_limits(limits=threads):
        warnings.simplefilter("ignore")
        chosen = ExponentialRegressor(W.shape[1], max_iter=2, **params).fit(X, y)

    def fit(max_iter):
        model = ExponentialRegressor(
            W.shape[1], max_iter=max_iter, alpha=chosen.alpha_, **params
        )

        def run():
            with warnings.catch_warnings(), threadpool_limits(limits=threads):
                warnings.simplefilter("ignore")
                model.fit(X, y)

        return run

    short = best_of(fit(2), repeats)
    long = best_of(fit(2 + steps), repeats)
    training = "float64" if X.dtype == np.float64 else "float32"
    note = f"per iteration, fit with {2 + steps} minus 2, {training} training"
    if solver == "auto":
        note = f"{chosen.solver_} epochs, fit with {2 + steps} minus 2, {training}"
        if batch_size != "auto":
            note += f", batches of {batch_size}"
    return (long - short) / steps, note


def time_skexpreg_auto(X, y, W, a, threads, repeats, batch_size="auto"):
    return time_skexpreg_defaults(
        X, y, W, a, threads, repeats, steps=10, solver="auto", batch_size=batch_size
    )


def time_numpy_naive(X, y, W, a, threads, repeats):
    from threadpoolctl import threadpool_limits

    scale = 1 / np.sqrt(W.shape[1])

    def step():
        E = np.exp(X @ W)
        residual = E @ a * scale - y
        return X.T @ (E * np.outer(residual, a * scale))

    with threadpool_limits(limits=threads, user_api="blas"):
        return best_of(step, repeats), "full n x m matrices"


def _torch_step(X, y, W, a):
    import torch

    scale = 1 / np.sqrt(W.shape[1])
    tensors = [torch.from_numpy(np.ascontiguousarray(v)) for v in (X, y, W, a)]

    def step(X, y, W, a):
        E = torch.exp(X @ W)
        residual = E @ a * scale - y
        return X.T @ (E * torch.outer(residual, a * scale))

    return torch, step, tensors


def time_torch_eager(X, y, W, a, threads, repeats):
    torch, step, tensors = _torch_step(X, y, W, a)
    torch.set_num_threads(threads)
    return best_of(lambda: step(*tensors), repeats), f"torch {torch.__version__}"


def time_torch_compile(X, y, W, a, threads, repeats):
    torch, step, tensors = _torch_step(X, y, W, a)
    torch.set_num_threads(threads)
    compiled = torch.compile(step)
    compiled(*tensors)  # compile outside the timing
    return best_of(lambda: compiled(*tensors), repeats), "compile time excluded"


def time_jax_jit(X, y, W, a, threads, repeats):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    scale = 1 / np.sqrt(W.shape[1])

    @jax.jit
    def step(X, y, W, a):
        E = jnp.exp(X @ W)
        residual = E @ a * scale - y
        return X.T @ (E * jnp.outer(residual, a * scale))

    arrays = [jnp.asarray(v) for v in (X, y, W, a)]
    step(*arrays).block_until_ready()
    seconds = best_of(lambda: step(*arrays).block_until_ready(), repeats)
    return seconds, f"jax {jax.__version__}, all cores"


def time_mlp(X, y, W, a, threads, repeats, steps=3):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor
    from threadpoolctl import threadpool_limits

    def fit(max_iter):
        model = MLPRegressor(
            hidden_layer_sizes=(W.shape[1],),
            solver="sgd",
            batch_size=X.shape[0],
            learning_rate_init=1e-7,
            momentum=0.0,
            max_iter=max_iter,
            tol=0.0,
            n_iter_no_change=10**6,
            shuffle=False,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return lambda: model.fit(X, y)

    with threadpool_limits(limits=threads, user_api="blas"):
        short = best_of(fit(1), repeats)
        long = best_of(fit(1 + steps), repeats)
    return (long - short) / steps, "ReLU, full-batch SGD epoch"


TIMERS = {
    "limit": time_limit,
    "skexpreg": time_skexpreg,
    "skexpreg np.exp": time_skexpreg,
    "skexpreg numba": time_skexpreg,
    "skexpreg defaults": time_skexpreg_defaults,
    "skexpreg auto": time_skexpreg_auto,
    "numpy naive": time_numpy_naive,
    "torch eager": time_torch_eager,
    "torch.compile": time_torch_compile,
    "jax.jit": time_jax_jit,
    "MLPRegressor": time_mlp,
}


def run_peer(args):
    timer = TIMERS[args.peer]
    if args.peer == "skexpreg auto" and args.batch_size != "auto":
        timer = functools.partial(timer, batch_size=int(args.batch_size))
    if args.block_mib:
        from skexpreg import _blocks

        _blocks._MAX_BLOCK_BYTES = int(args.block_mib * 2**20)
    X, y, W, a = make_data(args.n, args.d, args.m, np.dtype(args.dtype))
    try:
        seconds, note = timer(X, y, W, a, args.threads, args.repeats)
    except ImportError as error:
        seconds, note = None, f"skipped: {error.name} is not installed"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "note": note}))


def _measure(peer, dtype, args):
    """Run one peer in its own process: (seconds, peak MiB, note)."""
    command = [
        sys.executable,
        __file__,
        "--peer",
        peer,
        "--dtype",
        dtype,
        "--n",
        str(args.n),
        "--d",
        str(args.d),
        "--m",
        str(args.m),
        "--threads",
        str(args.threads),
        "--repeats",
        str(args.repeats),
    ]
    if args.block_mib:
        command += ["--block-mib", str(args.block_mib)]
    command += ["--batch-size", str(args.batch_size)]
    env = dict(os.environ)
    if args.emulate_avx2:
        env.update(avx2_environment())
    if peer == "skexpreg np.exp":
        env["SKEXPREG_NUMBA"] = "0"
    if peer == "skexpreg numba":
        env["SKEXPREG_NUMBA"] = "1"
    output = subprocess.run(command, capture_output=True, text=True, env=env)
    if output.returncode != 0:
        lines = output.stderr.strip().splitlines() or ["no output"]
        return None, None, f"failed: {lines[-1][:70]}"
    record = json.loads(output.stdout.strip().splitlines()[-1])
    return record["seconds"], record["peak_mib"], record["note"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--m", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dtype", default=None, help="one dtype only")
    parser.add_argument(
        "--peers", default=None, help="comma-separated subset of: " + ", ".join(PEERS)
    )
    parser.add_argument(
        "--block-mib",
        type=float,
        default=None,
        help="override skexpreg's cap on the activation block (MiB)",
    )
    parser.add_argument(
        "--batch-size",
        default="auto",
        help="batch_size of the 'skexpreg auto' peer (default: the estimator's)",
    )
    parser.add_argument(
        "--emulate-avx2",
        action="store_true",
        help="run every peer with its AVX-512 code paths disabled",
    )
    parser.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        return run_peer(args)

    # Every peer in both precisions.
    runs = [(peer, dtype) for dtype in ("float32", "float64") for peer in PEERS]
    if args.dtype:
        runs = [(peer, dtype) for peer, dtype in runs if dtype == args.dtype]
    if args.peers:
        chosen = args.peers.split(",")
        runs = [(peer, dtype) for peer, dtype in runs if peer in chosen]
    # Imported here, not at the top: each peer's process (run_peer) would
    # count the panel's imports in its peak memory.
    from defaults import describe_machine

    machine = describe_machine(args.threads)
    if args.emulate_avx2:
        names = ", ".join(avx2_environment())
        machine += f"; AVX2 emulated (AVX-512 turned off by {names})"
    print(machine)
    print(
        f"one GD step, n={args.n}, d={args.d}, m={args.m}, "
        f"{args.threads} threads, best of {args.repeats} per process, "
        f"median of {args.rounds} rounds"
    )
    print(
        f"{'peer':<17} {'dtype':<8} {'ms/step':>9} {'/skexpreg':>10} "
        f"{'peak MiB':>9}  note"
    )
    # Each round measures every peer once; ratios are taken within a round
    # (peers measured minutes apart on a shared machine drift) and the
    # median over rounds is reported.
    seconds = {run: [] for run in runs}
    peaks, notes = {}, {}
    for _ in range(args.rounds):
        for peer, dtype in runs:
            value, peak, note = _measure(peer, dtype, args)
            seconds[(peer, dtype)].append(value)
            peaks[(peer, dtype)], notes[(peer, dtype)] = peak, note
    reference = {}
    for peer, dtype in runs:
        if peer == "skexpreg" and None not in seconds[(peer, dtype)]:
            reference[dtype] = np.array(seconds[(peer, dtype)])
    for peer, dtype in runs:
        values = seconds[(peer, dtype)]
        if None in values:
            note = notes[(peer, dtype)]
            print(f"{peer:<17} {dtype:<8} {'-':>9} {'-':>10} {'-':>9}  {note}")
            continue
        ratio = (
            np.median(np.array(values) / reference[dtype])
            if dtype in reference
            else float("nan")
        )
        print(
            f"{peer:<17} {dtype:<8} {1e3 * np.median(values):>9.2f} {ratio:>10.2f} "
            f"{peaks[(peer, dtype)]:>9.0f}  {notes[(peer, dtype)]}"
        )
    for dtype in ("float32", "float64"):
        for ours in ("skexpreg defaults", "skexpreg auto"):
            defaults = seconds.get((ours, dtype))
            if not defaults or None in defaults:
                continue
            for peer in ("limit", "torch.compile"):
                other = seconds.get((peer, dtype))
                if other and None not in other:
                    ratio = np.median(np.array(defaults) / np.array(other))
                    print(f"{dtype}: {ours} / {peer} = {ratio:.2f}")
    reference = {dtype: np.median(values) for dtype, values in reference.items()}
    if {"float32", "float64"} <= set(reference):
        print(
            "skexpreg float32 / float64 step time: "
            f"{reference['float32'] / reference['float64']:.2f}"
        )


if __name__ == "__main__":
    main()
