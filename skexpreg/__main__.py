"""``python -m skexpreg``: fit on an embedded data set and compare with baselines.

With no arguments it fits :class:`~skexpreg.ExponentialRegressor` with its
default parameters on scikit-learn's bundled diabetes data (no network, no
files), then prints held-out R² and fit time next to a few baselines.
"""

import argparse
import sys
import time
import warnings

from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skexpreg import ExponentialRegressor, __version__


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m skexpreg",
        description=(
            "Fit ExponentialRegressor on scikit-learn's bundled diabetes data "
            "and compare held-out R² and fit time with baselines."
        ),
    )
    parser.add_argument(
        "--random-state", type=int, default=0, help="seed of split and models"
    )
    parser.add_argument(
        "--test-size", type=float, default=0.25, help="held-out fraction"
    )
    parser.add_argument(
        "--version", action="version", version=f"skexpreg {__version__}"
    )
    return parser


def _models(random_state):
    return {
        "ExponentialRegressor": ExponentialRegressor(random_state=random_state),
        "RidgeCV": make_pipeline(StandardScaler(), RidgeCV()),
        "MLPRegressor": make_pipeline(
            StandardScaler(),
            MLPRegressor(max_iter=2000, random_state=random_state),
        ),
    }


def main(argv=None):
    args = _parser().parse_args(argv)
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, random_state=args.random_state
    )
    print(
        f"skexpreg {__version__}: diabetes data, {len(y_train)} training and "
        f"{len(y_test)} held-out rows, {X.shape[1]} features"
    )
    print(f"{'model':<22} {'held-out R2':>12} {'fit time (s)':>13}")
    for name, model in _models(args.random_state).items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        converged = not any(
            issubclass(warning.category, ConvergenceWarning) for warning in caught
        )
        note = "" if converged else "  (stopped at max_iter)"
        score = model.score(X_test, y_test)
        print(f"{name:<22} {score:>12.3f} {elapsed:>13.2f}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
