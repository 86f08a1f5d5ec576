"""Cost of a gradient step on a dask cluster against the in-memory step.

    python benchmarks/dask_overhead.py            # n = 200,000, three chunk sizes
    python benchmarks/dask_overhead.py --quick    # n = 40,000

Needs the ``[dask]`` extra. Starts a ``distributed.LocalCluster`` on
127.0.0.1 with one single-threaded worker process per core and compares it
with the in-memory computation on all cores (``n_jobs=-1``) on the same data
(d = 32, m = 256, float64, rows of unit norm). A step of full-batch gradient
descent is one evaluation of the loss and its gradient (the update itself is
a (d, m) operation), so this times exactly what the estimator calls each
step: ``_network.loss_and_gradient`` in memory, ``_dask.DaskRows.loss_and_gradient``
on the cluster (the chunks persisted on the workers as one run per worker
thread, as ``fit`` does; a step is then one task per run), the median of
``--steps`` calls after one warm-up call. The overhead per chunk is
(dask step - in-memory step) / number of chunks: the latency of submitting
the tasks with the weights and gathering their sums, and the wait for the
slower worker, spread over the chunks.
"""

import argparse
import os
import statistics
import time
import warnings

import numpy as np


def median_seconds(function, calls):
    function()  # warm-up: thread pools, caches, the workers' imports
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--neurons", type=int, default=256)
    args = parser.parse_args()

    try:
        import dask.array as da
        import distributed
    except ImportError:
        print('dask is not installed: pip install "skexpreg[dask]"')
        return

    from joblib import effective_n_jobs

    from skexpreg import _blocks, _dask, _network

    n, d, m = (40_000 if args.quick else 200_000), 32, args.neurons
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = np.sin(3 * X[:, :1]) + 0.1 * rng.normal(size=(n, 1))
    weight = np.ones(n)
    W = rng.normal(size=(d, m))
    signs = np.where(rng.uniform(size=(m, 1)) < 0.5, -1.0, 1.0)
    n_workers = os.cpu_count() or 1

    print(
        f"n = {n}, d = {d}, m = {m}, float64; {n_workers} worker process(es) "
        f"x 1 thread; median of {args.steps} steps"
    )
    with _blocks.BlockRunner(effective_n_jobs(-1)) as runner:
        in_memory = median_seconds(
            lambda: _network.loss_and_gradient(X, Y, weight, W, signs, 1.0, runner),
            args.steps,
        )
    print(f"{'in memory (n_jobs=-1)':>28}: {1e3 * in_memory:8.1f} ms per step")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sending large graph": the data, once
        cluster = distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
        try:
            for chunk_rows in (n // 40, n // 10, n // n_workers):
                chunks = (chunk_rows, d)
                rows = _dask.DaskRows(
                    da.from_array(X, chunks=chunks),
                    da.from_array(Y, chunks=chunks[:1] + (1,)),
                    da.from_array(weight, chunks=chunks[:1]),
                )
                with rows:  # persisted on the workers, as in a fit
                    n_chunks = len(rows.X.chunks[0])
                    seconds = median_seconds(
                        lambda: rows.loss_and_gradient(W, signs), args.steps
                    )
                per_chunk = (seconds - in_memory) / n_chunks
                print(
                    f"{f'dask, {n_chunks} chunks of {chunk_rows}':>28}: "
                    f"{1e3 * seconds:8.1f} ms per step, "
                    f"{seconds / in_memory:5.2f}x in memory, "
                    f"{1e3 * per_chunk:6.2f} ms overhead per chunk"
                )
        finally:
            client.close()
            cluster.close()


if __name__ == "__main__":
    main()
