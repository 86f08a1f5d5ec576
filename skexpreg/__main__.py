"""``python -m skexpreg``: the command line.

* ``python -m skexpreg``: the main job. Fits :class:`~skexpreg.ExponentialRegressor`
  with its defaults on scikit-learn's bundled diabetes data (no network, no
  files) and prints held-out R² and fit time next to baselines.
* ``python -m skexpreg --data FILE.csv --target COLUMN [options]``: the same on
  your data, with a default preprocessing (numeric columns imputed with the
  median; text columns imputed and one-hot encoded), an optional small grid
  search (``--search``), a results table (held-out R², MAE, fit time, with
  baselines) and ``--save MODEL`` to keep the model (refitted on all rows).
* ``python -m skexpreg predict --model MODEL --data FILE.csv``: predictions
  for the rows of a CSV, written as CSV.

A ``.joblib`` (pickle) model file runs code when it is loaded: load only
files you made or trust. A ``.skops`` file (``pip install skops``) is loaded
safely: only known types are rebuilt, and anything else is refused unless
listed and accepted with ``--trust``.
"""

import argparse
import csv
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skexpreg import ExponentialRegressor, __version__
from skexpreg._baselines import baselines
from skexpreg._cli_data import (
    DataError,
    features_for,
    preprocessing,
    read_csv,
    split_features,
)
from skexpreg._solvers import SOLVERS

#: The grid of ``--search``: widths, steps and ridge strengths.
SEARCH_GRID = {
    "exponentialregressor__n_neurons": [64, 256],
    "exponentialregressor__learning_rate": ["auto", 1e-3],
    "exponentialregressor__alpha": [0.03, 0.3, 3.0],
}


def _learning_rate(text):
    return text if text == "auto" else float(text)


def _alpha(text):
    return text if text == "auto" else float(text)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m skexpreg",
        description=(
            "Fit ExponentialRegressor and compare it with baselines: on "
            "scikit-learn's bundled diabetes data by default, or on a CSV file "
            "(--data, --target). 'python -m skexpreg predict --help' for "
            "predictions from a saved model."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"skexpreg {__version__}"
    )
    parser.add_argument("--data", type=Path, help="CSV file with a header row")
    parser.add_argument("--target", help="name of the column to predict")
    parser.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column not to use as a feature (repeatable)",
    )
    parser.add_argument("--n-neurons", type=int, default=128)
    parser.add_argument("--learning-rate", type=_learning_rate, default="auto")
    parser.add_argument("--alpha", type=_alpha, default="auto")
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--solver", choices=sorted(SOLVERS), default="nesterov")
    parser.add_argument(
        "--early-stopping",
        action="store_true",
        help="hold out 10%% of the training rows and stop when R² stops improving",
    )
    parser.add_argument(
        "--search",
        action="store_true",
        help="3-fold grid search over n_neurons, learning_rate and alpha",
    )
    parser.add_argument(
        "--test-size", type=float, default=0.25, help="held-out fraction"
    )
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--save",
        type=Path,
        metavar="MODEL",
        help="save the model, refitted on all rows (.skops for the safe format, "
        "anything else for joblib)",
    )
    commands = parser.add_subparsers(dest="command")
    predict = commands.add_parser(
        "predict", help="predict the rows of a CSV file with a saved model"
    )
    predict.add_argument("--model", type=Path, required=True, metavar="MODEL")
    predict.add_argument("--data", type=Path, required=True, help="CSV file")
    predict.add_argument(
        "--output", type=Path, help="CSV file for the predictions (default: stdout)"
    )
    predict.add_argument(
        "--trust",
        action="store_true",
        help="accept the unknown types a .skops file lists (read them first)",
    )
    return parser


def _estimator(args):
    return ExponentialRegressor(
        n_neurons=args.n_neurons,
        learning_rate=args.learning_rate,
        alpha=args.alpha,
        max_iter=args.max_iter,
        solver=args.solver,
        early_stopping=args.early_stopping,
        random_state=args.random_state,
    )


def _compare(models, X_train, X_test, y_train, y_test):
    """Fit each model; print held-out R², MAE and fit time."""
    print(f"{'model':<22} {'held-out R2':>12} {'MAE':>12} {'fit time (s)':>13}")
    fitted = {}
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        converged = not any(
            issubclass(warning.category, ConvergenceWarning) for warning in caught
        )
        prediction = model.predict(X_test)
        note = "" if converged else "  (stopped at max_iter)"
        print(
            f"{name:<22} {model.score(X_test, y_test):>12.3f} "
            f"{mean_absolute_error(y_test, prediction):>12.4g} {elapsed:>13.2f}{note}"
        )
        fitted[name] = model
    return fitted


def _main_job(args):
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, random_state=args.random_state
    )
    print(
        f"skexpreg {__version__}: diabetes data, {len(y_train)} training and "
        f"{len(y_test)} held-out rows, {X.shape[1]} features"
    )
    models = {"ExponentialRegressor": _estimator(args), **baselines(args.random_state)}
    _compare(models, X_train, X_test, y_train, y_test)
    return 0


def _fit_data(args):
    if args.target is None:
        raise DataError("--data needs --target, the name of the column to predict")
    header, rows = read_csv(args.data)
    unknown = [name for name in args.drop if name not in header]
    if unknown:
        raise DataError(f"--drop names column(s) not in the file: {', '.join(unknown)}")
    keep = [i for i, name in enumerate(header) if name not in args.drop]
    header = [header[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    X, y, numeric, categorical = split_features(header, rows, args.target)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, random_state=args.random_state
    )
    print(
        f"{args.data}: {len(y_train)} training and {len(y_test)} held-out rows; "
        f"{len(numeric)} numeric and {len(categorical)} categorical feature(s); "
        f"target {args.target!r}"
    )
    model = make_pipeline(preprocessing(numeric, categorical), _estimator(args))
    if args.search:
        model = GridSearchCV(model, SEARCH_GRID, cv=3)
    models = {"ExponentialRegressor": model}
    models.update(
        {
            name: make_pipeline(preprocessing(numeric, categorical), baseline)
            for name, baseline in baselines(args.random_state).items()
        }
    )
    fitted = _compare(models, X_train, X_test, y_train, y_test)
    chosen = fitted["ExponentialRegressor"]
    if args.search:
        best = {
            key.split("__")[-1]: value for key, value in chosen.best_params_.items()
        }
        print(f"grid search: best parameters {best}")
        chosen = chosen.best_estimator_
    if args.save:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            chosen.fit(X, y)  # all rows
        bundle = {
            "pipeline": chosen,
            "numeric": numeric,
            "categorical": categorical,
            "target": args.target,
        }
        _save(bundle, args.save)
    return 0


def _save(bundle, path):
    if path.suffix == ".skops":
        skops_io = _skops()
        skops_io.dump(bundle, path)
        print(f"model saved to {path} (skops: safe to load)")
    else:
        import joblib

        joblib.dump(bundle, path)
        print(
            f"model saved to {path} (joblib/pickle: loading it runs code, so "
            "share it only with people who trust you; use a .skops file for a "
            "safe format)"
        )


def _skops():
    try:
        import skops.io
    except ImportError:
        raise DataError(
            ".skops files need the skops package: pip install skops"
        ) from None
    return skops.io


#: Types a .skops model of this command may hold beyond skops' defaults.
_KNOWN_TYPES = {
    "numpy.dtype",
    "skexpreg._regressor.ExponentialRegressor",
    "skexpreg._cli_data._to_float",
}


def _load(path, trust):
    if not path.is_file():
        raise DataError(f"model file not found: {path}")
    if path.suffix != ".skops":
        import joblib

        return joblib.load(path)  # pickle: the user chose to trust this file
    skops_io = _skops()
    untrusted = skops_io.get_untrusted_types(file=path)
    unknown = sorted(set(untrusted) - _KNOWN_TYPES)
    if unknown and not trust:
        raise DataError(
            f"{path} holds types that are not known to be safe: "
            f"{', '.join(unknown)}; read them and pass --trust to load anyway"
        )
    return skops_io.load(path, trusted=untrusted)


def _predict(args):
    bundle = _load(args.model, args.trust)
    header, rows = read_csv(args.data)
    X = features_for(header, rows, bundle["numeric"], bundle["categorical"])
    predictions = bundle["pipeline"].predict(X)
    handle = args.output.open("w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow([f"{bundle['target']}_predicted"])
        writer.writerows([f"{value:.10g}"] for value in np.ravel(predictions))
    finally:
        if args.output:
            handle.close()
    if args.output:
        print(f"{len(predictions)} predictions written to {args.output}")
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "predict":
            return _predict(args)
        if args.data is not None:
            return _fit_data(args)
        return _main_job(args)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (no flush at exit)
        return 0


if __name__ == "__main__":
    sys.exit(main())
