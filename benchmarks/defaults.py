"""Held-out accuracy of ExponentialRegressor's defaults and of the alternatives.

The measurement behind each default (recorded in docs/defaults.rst)::

    python benchmarks/defaults.py            # all data sets, about 10 minutes
    python benchmarks/defaults.py --quick    # diabetes and Friedman #1 only

Each row changes one parameter from the defaults and reports held-out R²
(one 75/25 split, random_state=0), iterations and fit time, next to RidgeCV
and MLPRegressor baselines. California housing is read from
``../shared/data/california_housing.csv`` when present and skipped otherwise;
its categorical column is one-hot encoded and missing values imputed (the
same preprocessing for every model).
"""

import argparse
import time
import warnings
from pathlib import Path

from sklearn.compose import make_column_transformer
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skexpreg import ExponentialRegressor

CALIFORNIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CALIFORNIA = CALIFORNIA / "california_housing.csv"

VARIANTS = {
    "defaults": {},
    "init='gaussian'": {"init": "gaussian"},
    "alpha=0": {"alpha": 0.0},
    "alpha=0.03": {"alpha": 0.03},
    "alpha=3": {"alpha": 3.0},
    "input_scaling='max_norm'": {"input_scaling": "max_norm"},
    "n_neurons=512": {"n_neurons": 512},
    "n_neurons=2048": {"n_neurons": 2048},
    "max_iter=300": {"max_iter": 300},
    "early_stopping=True, alpha=0": {"early_stopping": True, "alpha": 0.0},
    "solver='gd'": {"solver": "gd"},
    "solver='lbfgs'": {"solver": "lbfgs"},
    "paper (None, False, 0, gaussian, gd)": {
        "input_scaling": None,
        "target_scaling": False,
        "alpha": 0.0,
        "init": "gaussian",
        "solver": "gd",
    },
}


def datasets(quick):
    yield "diabetes", *load_diabetes(return_X_y=True), None
    yield "friedman1", *make_friedman1(n_samples=2000, noise=1.0, random_state=0), None
    if quick:
        return
    if not CALIFORNIA.is_file():
        print(f"(California housing skipped: {CALIFORNIA} not found)")
        return
    import pandas as pd

    frame = pd.read_csv(CALIFORNIA)
    y = frame.pop("median_house_value").to_numpy()
    preprocess = make_column_transformer(
        (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            ["ocean_proximity"],
        ),
        remainder=SimpleImputer(strategy="median"),
    )
    yield "california", frame, y, preprocess


def baselines(random_state):
    return {
        "RidgeCV (scaled)": make_pipeline(StandardScaler(), RidgeCV()),
        "MLPRegressor (scaled)": make_pipeline(
            StandardScaler(), MLPRegressor(max_iter=1000, random_state=random_state)
        ),
    }


def evaluate(model, X_train, X_test, y_train, y_test):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            model.fit(X_train, y_train)
        except ValueError as error:
            return f"error: {str(error)[:60]}...", "", ""
    elapsed = time.perf_counter() - start
    estimator = model[-1]
    n_iter = getattr(estimator, "n_iter_", "")
    return f"{model.score(X_test, y_test):.3f}", n_iter, f"{elapsed:.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args()
    print(f"{'data':<11} {'model':<38} {'R2':>7} {'iter':>6} {'time(s)':>8}")
    for name, X, y, preprocess in datasets(args.quick):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, random_state=args.random_state
        )
        models = {
            label: ExponentialRegressor(random_state=args.random_state, **params)
            for label, params in VARIANTS.items()
        }
        models.update(baselines(args.random_state))
        for label, model in models.items():
            steps = [model] if preprocess is None else [preprocess, model]
            pipeline = make_pipeline(*steps)
            score, n_iter, elapsed = evaluate(
                pipeline, X_train, X_test, y_train, y_test
            )
            print(
                f"{name:<11} {label:<38} {score:>7} {n_iter!s:>6} {elapsed:>8}",
                flush=True,
            )


if __name__ == "__main__":
    main()
