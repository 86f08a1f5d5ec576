"""Fit and predict on a GPU through the array API, against eager PyTorch.

    python benchmarks/gpu_step.py                  # W1 on the first CUDA device
    python benchmarks/gpu_step.py --device cpu --n 4000   # try it without a GPU

Workload W1 of the performance page (n = 20,000 rows of unit norm, d = 32,
m = 2,048) as PyTorch tensors on ``--device``, float64 and float32:

* ``skexpreg``: ``ExponentialRegressor`` with ``array_api_dispatch=True``,
  a fixed step, ``solver="gd"`` and ``tol=0``; per-step time is
  (fit with 2 + ``--steps`` steps - fit with 2 steps) / ``--steps``, which
  removes validation and set-up; predict is timed on the same rows;
* ``torch eager``: the same gradient step written by hand with the full
  n x m activation matrix, ``W -= eta * X^T ((r a^T) o E) / sqrt(m)`` with
  ``E = exp(X W)``, and the prediction ``exp(X W) a / sqrt(m)``.

Times are the best of ``--repeats``, with the device synchronised before
every clock reading. Needs PyTorch, scipy >= 1.14 and scikit-learn's array
API support; sets ``SCIPY_ARRAY_API=1`` itself.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before scipy is imported

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--m", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to measure")
        return
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: run with --device cpu to try the script")
        return
    import sklearn
    from sklearn.exceptions import ConvergenceWarning

    from skexpreg import ExponentialRegressor

    device = torch.device(args.device)

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def best_of(function):
        times = []
        for _ in range(args.repeats):
            synchronize()
            start = time.perf_counter()
            function()
            synchronize()
            times.append(time.perf_counter() - start)
        return min(times)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"n = {args.n}, d = {args.d}, m = {args.m} on {name}; torch "
        f"{torch.__version__}; best of {args.repeats}"
    )
    print(f"{'':<22}{'dtype':<9}{'ms/step':>9}{'x skexpreg':>11}{'predict ms':>12}")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(args.n, args.d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.sin(3 * X[:, 0]) + 0.1 * rng.normal(size=args.n)
    W0 = rng.normal(size=(args.d, args.m))
    a = np.where(rng.uniform(size=args.m) < 0.5, -1.0, 1.0)
    eta = 1e-4

    for dtype in (torch.float64, torch.float32):
        Xt = torch.as_tensor(X, dtype=dtype, device=device)
        yt = torch.as_tensor(y, dtype=dtype, device=device)

        def fit(max_iter, Xt=Xt, yt=yt):
            model = ExponentialRegressor(
                args.m,
                learning_rate=eta,
                max_iter=max_iter,
                tol=0.0,
                solver="gd",
                input_scaling=None,
                random_state=0,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                with sklearn.config_context(array_api_dispatch=True):
                    return model.fit(Xt, yt)

        fit(2)  # warm-up: kernels, allocator
        short = best_of(lambda: fit(2))
        long = best_of(lambda fit=fit: fit(2 + args.steps))
        skexpreg_step = (long - short) / args.steps
        model = fit(2)
        with sklearn.config_context(array_api_dispatch=True):
            skexpreg_predict = best_of(lambda model=model, Xt=Xt: model.predict(Xt))

        W = torch.as_tensor(W0, dtype=dtype, device=device)
        at = torch.as_tensor(a, dtype=dtype, device=device)
        scale = 1.0 / np.sqrt(args.m)

        def eager_steps(count, Xt=Xt, yt=yt, W=W, at=at):
            weights = W.clone()
            for _ in range(count):
                E = torch.exp(Xt @ weights)
                residual = (E @ at) * scale - yt
                gradient = Xt.T @ ((residual[:, None] * E) * at) * scale
                weights -= eta * gradient
            return weights

        eager_steps(2)
        eager_step = best_of(lambda: eager_steps(args.steps)) / args.steps
        eager_predict = best_of(
            lambda Xt=Xt, W=W, at=at: (torch.exp(Xt @ W) @ at) * scale
        )
        label = str(dtype).rsplit(".", 1)[-1]
        for peer, step, predict in (
            ("skexpreg", skexpreg_step, skexpreg_predict),
            ("torch eager", eager_step, eager_predict),
        ):
            print(
                f"{peer:<22}{label:<9}{1e3 * step:>9.2f}"
                f"{step / skexpreg_step:>11.2f}{1e3 * predict:>12.2f}"
            )


if __name__ == "__main__":
    main()
