"""Set-up before the first step, in step-times, on large data.

What a fit spends before gradient descent's first step: validating and
mapping the rows, choosing the step (``learning_rate="auto"``) and choosing
``alpha`` (``alpha="auto"``). The first two are measured as the difference
between two fits of the same data that differ only in that choice, with
``max_iter=1``; the step time is ``(fit(max_iter=11) - fit(max_iter=1)) /
10`` with a fixed step and ``tol=0``. The alpha path's fits run up to the
fit's own ``max_iter``, so a one-step fit would cap them at one step each:
the path is timed inside a default fit instead (with the default
``max_iter`` and ``tol``; the fit is stopped once ``alpha`` is chosen). Run
from the repository root::

    python benchmarks/setup_time.py              # n = 1e6, d = 10, m = 128
    python benchmarks/setup_time.py --n 200000   # quicker

Times are the best of ``--repeats`` runs; the machine and thread count are
printed with them. The last two rows are the set-up target's figure:
everything a fit does before its first update, less the loss and gradient
at W(0) that the first update needs anyway, with ``alpha`` given and with
``alpha="auto"`` (the defaults).
"""

import argparse
import os
import time
import warnings

import numpy as np
from defaults import describe_machine
from threadpoolctl import threadpool_limits

from skexpreg import ExponentialRegressor, _regressor


class _AlphaChosen(Exception):
    pass


def _path_time(X, y, params, repeats):
    """Seconds of the alpha path in a default fit (best of ``repeats``)."""
    choose = _regressor.ExponentialRegressor._choose_alpha
    times = []

    def timed(self, *args, **kwargs):
        start = time.perf_counter()
        choose(self, *args, **kwargs)
        times.append(time.perf_counter() - start)
        raise _AlphaChosen

    _regressor.ExponentialRegressor._choose_alpha = timed
    try:
        for _ in range(repeats):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ExponentialRegressor(**params).fit(X, y)
            except _AlphaChosen:
                pass
    finally:
        _regressor.ExponentialRegressor._choose_alpha = choose
    return min(times)


def _best_time(make, X, y, repeats):
    best = np.inf
    for _ in range(repeats):
        model = make()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--m", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    rng = np.random.RandomState(0)
    X = rng.normal(size=(args.n, args.d))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.normal(size=args.n)

    def model(**params):
        base = {
            "n_neurons": args.m,
            "random_state": 0,
            "tol": 0,
            "n_jobs": args.threads,
            "solver": "nesterov",  # set-up before full-batch steps
        }
        return lambda: ExponentialRegressor(**{**base, **params})

    fixed = {"learning_rate": 1e-6, "alpha": 1.0}
    with threadpool_limits(args.threads):
        one = _best_time(model(max_iter=1, **fixed), X, y, args.repeats)
        eleven = _best_time(model(max_iter=11, **fixed), X, y, args.repeats)
        step = (eleven - one) / 10
        auto_step = _best_time(
            model(max_iter=1, alpha=1.0, learning_rate="auto"), X, y, args.repeats
        )
        path = _path_time(
            X,
            y,
            {"n_neurons": args.m, "random_state": 0, "n_jobs": args.threads},
            args.repeats,
        )
    print(describe_machine(args.threads))
    print(
        f"n={args.n}, d={args.d}, m={args.m}, float64 input, "
        f"precision={model()().precision!r} (the default)"
    )
    rows = [
        ("one step", step),
        ("fixed step and alpha: before step 1", one - step),
        ("learning_rate='auto' adds", auto_step - one),
        ("alpha='auto' adds (the alpha path)", path),
        # The first step's loss and gradient at W(0) is part of the step.
        ("alpha given: before the first update", auto_step - 2 * step),
        ("defaults: before the first update", auto_step - 2 * step + path),
    ]
    for label, seconds in rows:
        print(f"{label:<38} {seconds:8.3f} s  ({seconds / step:5.1f} steps)")


if __name__ == "__main__":
    main()
