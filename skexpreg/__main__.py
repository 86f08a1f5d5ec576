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

Problems with the user's files and data are reported as one line,
``error: ...`` on stderr, with exit status 2. Ctrl-C (or SIGTERM, SIGHUP)
stops a run anywhere with one line and exit status 128 + the signal's number
(130 for Ctrl-C), leaving the previous model, its checksum and no temporary
file behind. Files are handled by :mod:`skexpreg._cli_model` (safe formats,
atomic writes of regular files only, checksums, signals).

``--help`` and ``--version`` import neither scikit-learn nor the estimator
(they take seconds to import): the help shows the estimator's defaults read
from its source, and the heavy modules are imported when a command runs.
"""

import argparse
import ast
import contextlib
import math
import os
import sys
import time
import warnings
from pathlib import Path

from skexpreg import __version__, _cli_model
from skexpreg._cli_data import (
    DataError,
    _printable,
    is_sparse,
    names,
    prediction_data,
    preprocessing,
    read_header,
    read_table,
    shown,
    training_data,
)

#: The grid of ``--search``: widths and kernel bandwidths.
SEARCH_GRID = {
    "exponentialregressor__n_neurons": [64, 256],
    "exponentialregressor__bandwidth": [0.25, 0.35, 0.5],
}
_SEARCH_FOLDS = 3
# A held-out R² needs at least two rows; so does each fold of --search.
_MIN_SCORED_ROWS = 2
# Fits shorter than this show no progress lines.
_PROGRESS_AFTER_S = 1.0
# The estimator options of the command line (ExponentialRegressor parameters).
_ESTIMATOR_OPTIONS = (
    "n_neurons",
    "learning_rate",
    "alpha",
    "max_iter",
    "solver",
    "early_stopping",
)


def _source_tree(module):
    return ast.parse(Path(__file__).with_name(f"{module}.py").read_text("utf-8"))


def _estimator_defaults():
    """``ExponentialRegressor().get_params()``, read from the estimator's source.

    Importing the estimator imports scikit-learn and scipy, which takes
    seconds; reading ``__init__``'s defaults from the source takes
    milliseconds. tests/test_cli.py checks that both agree; if the source
    cannot be read, the estimator is imported after all.
    """
    try:
        for node in ast.walk(_source_tree("_regressor")):
            if isinstance(node, ast.ClassDef) and node.name == "ExponentialRegressor":
                init = next(
                    item
                    for item in node.body
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__"
                )
                arguments = init.args
                positional = [item.arg for item in arguments.args[1:]]
                defaults = dict(
                    zip(
                        positional[len(positional) - len(arguments.defaults) :],
                        map(ast.literal_eval, arguments.defaults),
                    )
                )
                for item, default in zip(arguments.kwonlyargs, arguments.kw_defaults):
                    defaults[item.arg] = ast.literal_eval(default)
                return defaults
    except (OSError, SyntaxError, ValueError, StopIteration):
        pass
    from skexpreg import ExponentialRegressor

    return ExponentialRegressor().get_params()


def _solver_names():
    """``"auto"`` and the keys of ``skexpreg._solvers.SOLVERS``, read from
    its source."""
    return ["auto", *_registered_solvers()]


def _registered_solvers():
    try:
        for node in ast.walk(_source_tree("_solvers")):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                if any(getattr(target, "id", None) == "SOLVERS" for target in targets):
                    return sorted(ast.literal_eval(key) for key in node.value.keys)
    except (OSError, SyntaxError, ValueError, AttributeError):
        pass
    from skexpreg._solvers import SOLVERS

    return sorted(SOLVERS)


def _number(kind, expected, accept, special=()):
    """An argparse type: ``kind(text)`` if ``accept`` holds, else a clear error."""

    def parse(text):
        if text in special:
            return text
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, "a positive integer", lambda value: value > 0)
_non_negative_int = _number(
    int, "an integer from 0 to 2**32 - 1", lambda value: 0 <= value < 2**32
)
_learning_rate = _number(
    float,
    "a positive float or 'auto'",
    lambda value: math.isfinite(value) and value > 0,
    special=("auto",),
)
_alpha = _number(
    float,
    "a non-negative float or 'auto'",
    lambda value: math.isfinite(value) and value >= 0,
    special=("auto",),
)
_fraction = _number(float, "a float between 0 and 1", lambda value: 0 < value < 1)


def _parser():
    defaults = _estimator_defaults()

    def default(name):
        return f"(default: {defaults[name]})"

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
    parser.add_argument(
        "--data", type=Path, metavar="FILE", help="CSV file with a header row (UTF-8)"
    )
    parser.add_argument("--target", help="name of the column to predict")
    parser.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column not to use as a feature (repeatable)",
    )
    estimator = parser.add_argument_group(
        "estimator", "parameters of ExponentialRegressor (its defaults)"
    )
    estimator.add_argument(
        "--n-neurons",
        type=_positive_int,
        metavar="N",
        help=f"hidden neurons, the paper's m {default('n_neurons')}",
    )
    estimator.add_argument(
        "--learning-rate",
        type=_learning_rate,
        metavar="ETA",
        help="gradient-descent step size, a positive float, or 'auto' for "
        f"1 / (largest eigenvalue of the NTK + alpha) {default('learning_rate')}",
    )
    estimator.add_argument(
        "--alpha",
        type=_alpha,
        help="ridge penalty toward the initial weights, a non-negative float, or "
        f"'auto' to choose it on held-out rows {default('alpha')}",
    )
    estimator.add_argument(
        "--max-iter",
        type=_positive_int,
        metavar="T",
        help=f"maximum number of steps {default('max_iter')}",
    )
    estimator.add_argument(
        "--solver",
        choices=_solver_names(),
        help="optimiser: 'auto' trains full-batch on small data and with "
        f"mini-batches ('sgd') on large {default('solver')}",
    )
    estimator.add_argument(
        "--early-stopping",
        action="store_true",
        default=None,
        help=f"hold out {100 * defaults['validation_fraction']:g}%% of the training "
        f"rows and stop when their R² stops improving {default('early_stopping')}",
    )
    parser.add_argument(
        "--search",
        action="store_true",
        help=f"{_SEARCH_FOLDS}-fold grid search over n_neurons and bandwidth "
        "(alpha as --alpha says)",
    )
    parser.add_argument(
        "--test-size",
        type=_fraction,
        default=0.25,
        metavar="FRACTION",
        help="held-out fraction of the rows (default: %(default)s)",
    )
    parser.add_argument(
        "--random-state",
        type=_non_negative_int,
        default=0,
        metavar="SEED",
        help="seed of the split and of the models (default: %(default)s)",
    )
    parser.add_argument(
        "--save",
        type=Path,
        metavar="MODEL",
        help="save the model, refitted on all rows, with a checksum file "
        "MODEL.sha256 beside it: a .skops file for the safe format (pip install "
        "skops), any other name for joblib (a pickle)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="write the comparison as pictures: the estimator's training curves "
        "and, for every model, predicted against actual values and residuals on "
        "the held-out rows (.png, or .html with the results table; needs "
        "matplotlib)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress lines on stderr during long fits",
    )
    commands = parser.add_subparsers(dest="command")
    predict = commands.add_parser(
        "predict",
        help="predict the rows of a CSV file with a saved model",
        description="Predict the rows of a CSV file with a model saved by --save.",
    )
    predict.add_argument(
        "--model",
        type=Path,
        required=True,
        metavar="MODEL",
        help="a model saved by --save, with its MODEL.sha256 checksum file",
    )
    predict.add_argument(
        "--data", type=Path, required=True, metavar="FILE", help="CSV file (UTF-8)"
    )
    predict.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="CSV file for the predictions (default: stdout)",
    )
    predict.add_argument(
        "--trust",
        action="store_true",
        help="load a pickle-based (non-.skops) model file, which runs any code "
        "it holds: only for a file you made or whose source you trust",
    )
    predict.add_argument(
        "--trust-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="a type (module.Name) a .skops model may hold beyond the safe ones "
        "(repeatable); loading it can run its code, so name only types you "
        "have read and trust ('predict' lists those a file asks for)",
    )
    predict.add_argument(
        "--no-checksum",
        action="store_true",
        help="load a model without its checksum file MODEL.sha256, unchecked "
        "for damage; trusts nothing more (a checksum file that is present is "
        "still checked)",
    )
    return parser


def _estimator(args):
    from skexpreg import ExponentialRegressor

    chosen = {
        name: getattr(args, name)
        for name in _ESTIMATOR_OPTIONS
        if getattr(args, name) is not None
    }
    verbose = 0 if args.quiet else 1  # shown only after a second: _Progress
    return ExponentialRegressor(
        random_state=args.random_state, verbose=verbose, **chosen
    )


class _Progress:
    """Stands in for stdout during a fit: the estimator's verbose lines go to
    stderr, prefixed with the model's name, once the fit has run a second."""

    def __init__(self, label):
        self.label, self.pending = label, ""
        self.start = time.perf_counter()

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        if time.perf_counter() - self.start >= _PROGRESS_AFTER_S:
            for line in filter(str.strip, lines):
                print(f"{self.label}: {line}", file=sys.stderr, flush=True)
        return len(text)

    def flush(self):
        pass


@contextlib.contextmanager
def _watching(name, seen, progress=True):
    """Progress lines on stderr, and the warnings: each shown once, in one line.

    ``seen`` is the run's set of warnings already shown: the same warning from
    several models (the same preprocessing) or from the refit is shown once.
    ``progress=False`` leaves stdout alone (``predict`` writes CSV there).
    Yields the list of caught warnings; convergence warnings are left to the
    caller (a note in the results table).
    """
    from sklearn.exceptions import ConvergenceWarning

    with contextlib.ExitStack() as stack:
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        if progress:
            stack.enter_context(contextlib.redirect_stdout(_Progress(name)))
        yield caught
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            continue
        text = str(warning.message).splitlines()[0]
        if text not in seen:
            seen.add(text)
            print(f"warning: {name}: {text}", file=sys.stderr)


def _reason(failure):
    """``"Type: first line of the message"``."""
    text = str(failure).splitlines()[0] if str(failure) else ""
    return f"{type(failure).__name__}: {text}" if text else type(failure).__name__


def _compare(models, X_train, X_test, y_train, y_test, seen, notes=None):
    """Fit each model; print held-out R², MAE and fit time.

    A baseline that fails, whatever the reason (extreme data, memory), is
    reported in its row and skipped; if ExponentialRegressor fails on the
    data, that is an error. ``notes`` maps a model's name to a note for its
    row.
    """
    from numpy.linalg import LinAlgError
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import mean_absolute_error

    notes = notes or {}
    print(f"{'model':<22} {'held-out R2':>12} {'MAE':>12} {'fit time (s)':>13}")
    fitted, results = {}, {}
    for name, model in models.items():
        estimator = name == "ExponentialRegressor"
        start = time.perf_counter()
        try:
            with _watching(name, seen) as caught:
                model.fit(X_train, y_train)
                elapsed = time.perf_counter() - start
                prediction = model.predict(X_test)
                score = model.score(X_test, y_test)
                error = mean_absolute_error(y_test, prediction)
        except (ValueError, ArithmeticError, LinAlgError, MemoryError) as failure:
            if estimator:
                raise DataError(
                    f"ExponentialRegressor could not be fitted: {_reason(failure)}"
                ) from None
            print(f"{name:<22} {'failed':>12}  ({_reason(failure)})")
            continue
        except Exception as failure:  # a baseline never ends the run
            if estimator:
                raise
            print(f"{name:<22} {'failed':>12}  ({_reason(failure)})")
            continue
        stopped = any(issubclass(item.category, ConvergenceWarning) for item in caught)
        note = [notes[name]] if name in notes else []
        note += ["stopped at max_iter"] if stopped else []
        note = f"  ({'; '.join(note)})" if note else ""
        print(f"{name:<22} {score:>12.3f} {error:>12.4g} {elapsed:>13.2f}{note}")
        fitted[name] = model
        results[name] = dict(
            score=score,
            error=error,
            elapsed=elapsed,
            actual=y_test,
            prediction=prediction,
        )
    return fitted, results


def _report(args, results, model, title):
    """Write ``--report`` for a fitted ExponentialRegressor (or its pipeline).

    Drawn after the model is saved: a report that fails is a one-line error
    that says whether the model was saved.
    """
    from skexpreg import _report

    if hasattr(model, "best_estimator_"):
        model = model.best_estimator_
    estimator = model[-1] if hasattr(model, "steps") else model
    saved = f"the model was saved to {shown(args.saved)}, but " if args.saved else ""
    try:
        _report.write_report(args.report, results, estimator, title)
    except DataError as error:  # the file could not be written
        raise DataError(f"{saved}{error}") from None
    except Exception as failure:  # matplotlib fails in many ways
        raise DataError(
            f"{saved}the report {shown(args.report)} could not be drawn: "
            f"{_reason(failure)}"
        ) from None
    print(f"report written to {shown(args.report)}")


def _check_report(args):
    if args.report:
        from skexpreg import _report

        _report.check_can_report(args.report)


def _main_job(args):
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    from skexpreg._baselines import baselines

    _check_report(args)
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, random_state=args.random_state
    )
    print(
        f"skexpreg {__version__}: diabetes data, {len(y_train)} training and "
        f"{len(y_test)} held-out rows, {X.shape[1]} features"
    )
    models = {"ExponentialRegressor": _estimator(args), **baselines(args.random_state)}
    fitted, results = _compare(models, X_train, X_test, y_train, y_test, args.warned)
    if args.report:
        title = f"skexpreg {__version__}: diabetes data, held-out rows"
        _report(args, results, fitted["ExponentialRegressor"], title)
    return 0


def _check_rows(n_rows, args):
    """Refuse data too small for a held-out score (and a grid search)."""
    n_test = math.ceil(args.test_size * n_rows)
    n_train = n_rows - n_test
    need_train = _SEARCH_FOLDS * _MIN_SCORED_ROWS if args.search else _MIN_SCORED_ROWS
    if n_test < _MIN_SCORED_ROWS or n_train < need_train:
        search = f" ({_SEARCH_FOLDS} folds of --search)" if args.search else ""
        raise DataError(
            f"{shown(args.data)} has {n_rows} row(s): too few to hold out "
            f"{_MIN_SCORED_ROWS} rows for a held-out R² (--test-size "
            f"{args.test_size}) and train on {need_train}{search}; add rows"
        )


def _baseline_pipelines(features, n_samples, random_state):
    """The baselines behind the same preprocessing as the estimator, and the
    notes for their rows.

    On sparse one-hot output their scalers only scale: centring a sparse
    matrix would make it dense. Data too wide for RidgeCV's leave-one-out
    (``n_samples`` training rows) get its k-fold cross-validation.
    """
    from sklearn.pipeline import make_pipeline

    from skexpreg._baselines import baselines, ridge_folds

    n_features = len(features.numeric) + sum(map(len, features.categories))
    models, notes = {}, {}
    chosen = baselines(random_state, n_samples=n_samples, n_features=n_features)
    for name, baseline in chosen.items():
        if is_sparse(features):
            baseline.set_params(
                **{
                    key: False
                    for key in baseline.get_params()
                    if key.endswith("standardscaler__with_mean")
                }
            )
        models[name] = make_pipeline(preprocessing(features), baseline)
    folds = ridge_folds(n_samples, n_features)
    if folds is not None and "RidgeCV" in models:
        notes["RidgeCV"] = f"{folds}-fold CV: too wide for leave-one-out"
    return models, notes


def _fit_data(args):
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import make_pipeline

    if args.target is None:
        raise DataError("--data needs --target, the name of the column to predict")
    if args.save:
        _cli_model.check_can_save(args.save)  # before the fit, not after it
    _check_report(args)
    header = read_header(args.data)
    unknown = [name for name in args.drop if name not in header]
    if unknown:
        raise DataError(f"--drop names column(s) not in the file: {names(unknown)}")
    if args.target in args.drop:
        raise DataError(
            f"--drop names the target column {shown(args.target)}: the column "
            "to predict cannot be dropped"
        )
    if args.target not in header:
        raise DataError(
            f"target column {shown(args.target)} is not in the file; its columns "
            f"are {names(header)}"
        )
    columns = [name for name in header if name not in args.drop]
    features, y = training_data(read_table(args.data, columns), args.target)
    if features.empty:
        print(
            f"warning: column(s) {names(features.empty)} hold no values (all "
            "missing): not used as features",
            file=sys.stderr,
        )
    _check_rows(len(y), args)
    X_train, X_test, y_train, y_test = train_test_split(
        features.X, y, test_size=args.test_size, random_state=args.random_state
    )
    sparse = " (one-hot encoded as a sparse matrix)" if is_sparse(features) else ""
    print(
        f"{shown(args.data)}: {len(y_train)} training and {len(y_test)} held-out "
        f"rows; {len(features.numeric)} numeric and {len(features.categorical)} "
        f"categorical feature(s){sparse}; target {shown(args.target)}"
    )
    model = make_pipeline(preprocessing(features), _estimator(args))
    if args.search:
        model = GridSearchCV(model, SEARCH_GRID, cv=_SEARCH_FOLDS)
    models = {"ExponentialRegressor": model}
    baselines, notes = _baseline_pipelines(features, len(y_train), args.random_state)
    models.update(baselines)
    fitted, results = _compare(
        models, X_train, X_test, y_train, y_test, args.warned, notes
    )
    chosen = fitted["ExponentialRegressor"]  # fitted on the training rows
    if args.search:
        best = {
            key.split("__")[-1]: value for key, value in chosen.best_params_.items()
        }
        print(f"grid search: best parameters {best}")
    if args.save:
        _save(args, features, y, chosen)
    if args.report:  # after the save: a failed drawing loses no model
        title = f"{args.data.name}: {args.target}, held-out rows"
        _report(args, results, chosen, title)
    return 0


def _save(args, features, y, chosen):
    """Refit a copy of the chosen model on all rows and save it."""
    from sklearn.base import clone

    if hasattr(chosen, "best_estimator_"):
        chosen = chosen.best_estimator_
    final = clone(chosen)  # ``chosen`` keeps its curves for the report
    try:
        with _watching("ExponentialRegressor", args.warned):
            final.fit(features.X, y)  # all rows
    except (ValueError, ArithmeticError, MemoryError) as failure:
        raise DataError(
            f"ExponentialRegressor could not be refitted on all rows, so no "
            f"model was saved: {_reason(failure)}"
        ) from None
    final.set_params(exponentialregressor__verbose=0)
    bundle = {
        "format": _cli_model.FORMAT,
        "pipeline": final,
        "numeric": features.numeric,
        "categorical": features.categorical,
        "categories": features.categories,
        "target": args.target,
    }
    _cli_model.save(bundle, args.save)
    args.saved = args.save
    if _cli_model.is_skops(args.save):
        print(f"model saved to {shown(args.save)} (skops: safe to load)")
    else:
        print(
            f"model saved to {shown(args.save)} (joblib/pickle: loading it "
            "runs code, so 'predict' needs --trust and you should share it "
            "only with people who trust you; use a .skops file for a safe "
            "format)"
        )


def _csv_cell(text):
    """``text`` safe in a CSV cell: printable, and not read as a formula.

    Spreadsheets run a cell starting with ``=``, ``+``, ``-`` or ``@`` (or a
    tab or carriage return) as a formula; a leading quote keeps it text.
    """
    text = "".join(_printable(char) for char in text)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def _predict(args):
    import csv

    import numpy as np

    action = "write the predictions to"
    if args.output:
        _cli_model.check_target(args.output, action)  # before any work
    bundle = _cli_model.load(
        args.model,
        trust=args.trust,
        trusted_types=args.trust_type,
        checksum=not args.no_checksum,
    )
    numeric, categorical = bundle["numeric"], bundle["categorical"]
    header = read_header(args.data)
    missing = [name for name in numeric + categorical if name not in header]
    if missing:
        raise DataError(
            f"the data lack the column(s) the model was trained on: {names(missing)}"
        )
    table = read_table(args.data, numeric + categorical, text=set(categorical))
    X = prediction_data(table, numeric, categorical, bundle["categories"])
    with _watching("predict", args.warned, progress=False):
        predictions = np.ravel(bundle["pipeline"].predict(X))
    with contextlib.ExitStack() as stack:
        if args.output:
            handle = stack.enter_context(
                _cli_model.replacing(
                    args.output,
                    action,
                    "predictions file",
                    newline="",
                    encoding="utf-8",
                )
            )
        else:
            handle = sys.stdout
        writer = csv.writer(handle)
        writer.writerow([_csv_cell(f"{bundle['target']}_predicted")])
        writer.writerows([f"{value:.10g}"] for value in predictions)
    if args.output:
        print(f"{len(predictions)} predictions written to {shown(args.output)}")
    return 0


def _interrupted(interrupt, args):
    """The one line for a run stopped by a signal: what is on disk."""
    saved = interrupt.saved or args.saved
    target = args.save if args.command is None else args.output
    if saved:
        state = f"; the model was saved to {shown(saved)} before it"
    elif target and target.is_file():
        state = f"; {shown(target)} is unchanged"
    elif target:
        state = f"; nothing was written to {shown(target)}"
    else:
        state = ""
    return f"error: interrupted by {interrupt.describe()}{state}"


def main(argv=None):
    args = _parser().parse_args(argv)  # --help and --version exit here
    args.saved, args.warned = None, set()
    with _cli_model.handling_signals():
        try:
            if args.command == "predict":
                return _predict(args)
            if args.data is not None:
                return _fit_data(args)
            return _main_job(args)
        except DataError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except _cli_model.Interrupted as interrupt:
            print(_interrupted(interrupt, args), file=sys.stderr)
            return 128 + interrupt.signum
        except KeyboardInterrupt:  # handlers not set: not the main thread
            print("error: interrupted by Ctrl-C", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. piped into `head`: not an error
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (no flush at exit)
            return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # before main() sets its handlers
        print("error: interrupted by Ctrl-C", file=sys.stderr)
        sys.exit(130)
