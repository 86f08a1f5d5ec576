"""Held-out accuracy of ExponentialRegressor's defaults against the baselines.

The panel measurement behind the defaults (issue 11)::

    python benchmarks/defaults.py                 # whole panel (see panel.py)
    python benchmarks/defaults.py --quick         # diabetes, cars, star98
    python benchmarks/defaults.py --sets cars,fair --models defaults,ridge
    python benchmarks/defaults.py --estimator-params '{"solver": "lbfgs"}'
    python benchmarks/defaults.py --models defaults,mlp --seeds 3

Every model is scored on the same folds (5-fold CV; California on its one
fixed 15,480 / 5,160 split, log target) after the same per-set preprocessing
(one-hot encoding and imputation, see ``panel.py``), on held-out rows only.
Each line reports R² mean ± sd over the folds, the worst fold, the mean fit
time per fold and the number of non-finite predictions. ``--seeds K`` fits
every model with ``random_state`` 0 to K-1 on every fold and reports the
mean over the seeds (and the range of the seeds' means): a single network's
score moves by about 0.01 between seeds on the small sets, more than some
of the differences between the models.

The baselines:

- ``ridge`` and ``mlp``: the command line's baselines
  (``skexpreg._baselines``): RidgeCV on standardised features (alphas
  1e-3 .. 1e3), and MLPRegressor (``max_iter=1000``, otherwise its defaults)
  on standardised features and a standardised target.
- ``krr``: RBF kernel ridge on standardised features and target,
  ``GridSearchCV`` (inner 3-fold) over alpha and gamma. Exact kernel ridge
  costs O(n^3), so on large training folds the grid search sees a random
  subsample of :data:`KRR_SEARCH_ROWS` rows and the refit
  :data:`KRR_FIT_ROWS` rows; the report marks such folds.
- ``hgb``: HistGradientBoostingRegressor with its defaults.

Candidate ExponentialRegressor settings are added with
``--estimator-params JSON`` (repeatable; each JSON object is a set of
constructor parameters) or, from Python, by passing estimators to
:func:`run_panel`::

    from defaults import run_panel, report
    report(run_panel({"mine": make_pipeline(MyMap(), ExponentialRegressor())}))

BLAS and OpenMP are limited to ``--threads`` threads (1 by default); the
estimator's default ``n_jobs=None`` follows that limit, so every model uses
the same number of threads and fit times compare like with like.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from panel import LOADERS, load_panel  # noqa: E402

from skexpreg import ExponentialRegressor  # noqa: E402
from skexpreg._baselines import baselines as skexpreg_baselines  # noqa: E402

RANDOM_STATE = 0
KRR_SEARCH_ROWS = 3000
KRR_FIT_ROWS = 10000


class SubsampledKernelRidge(RegressorMixin, BaseEstimator):
    """RBF kernel ridge tuned by grid search, on row subsamples when large.

    Parameters
    ----------
    search_rows : int
        At most this many (random) training rows enter the grid search.
    fit_rows : int
        At most this many (random) training rows enter the final fit.
    random_state : int
        Seeds the subsamples.
    """

    def __init__(
        self,
        search_rows=KRR_SEARCH_ROWS,
        fit_rows=KRR_FIT_ROWS,
        random_state=RANDOM_STATE,
    ):
        self.search_rows = search_rows
        self.fit_rows = fit_rows
        self.random_state = random_state

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        rng = check_random_state(self.random_state)
        n_samples, n_features = X.shape
        search = rng.permutation(n_samples)[: self.search_rows]
        # gamma relative to 1 / n_features: on standardised features the
        # squared distance between rows is about 2 * n_features.
        grid = {
            "alpha": [1e-3, 1e-2, 1e-1, 1.0],
            "gamma": [g / n_features for g in (0.03, 0.1, 0.3, 1.0)],
        }
        self.search_ = GridSearchCV(KernelRidge(kernel="rbf"), grid, cv=3)
        self.search_.fit(X[search], y[search])
        fit = rng.permutation(n_samples)[: self.fit_rows]
        self.subsampled_ = n_samples > min(self.search_rows, self.fit_rows)
        self.model_ = KernelRidge(kernel="rbf", **self.search_.best_params_)
        self.model_.fit(X[fit], y[fit])
        return self

    def predict(self, X):
        return self.model_.predict(np.asarray(X, dtype=float))


def _scaled_target(regressor):
    return TransformedTargetRegressor(regressor, transformer=StandardScaler())


def baselines():
    """The reference models, keyed by their ``--models`` name."""
    shared = skexpreg_baselines(RANDOM_STATE)
    return {
        "defaults": ExponentialRegressor(random_state=RANDOM_STATE),
        # the command line's baselines, defined once in the package
        "ridge": shared["RidgeCV"],
        "mlp": shared["MLPRegressor"],
        "krr": make_pipeline(StandardScaler(), _scaled_target(SubsampledKernelRidge())),
        "hgb": HistGradientBoostingRegressor(random_state=RANDOM_STATE),
    }


def _fit_score(model, X, y, train, test):
    """Fit on ``train``, score on ``test``: (R², fit seconds, non-finite,
    note, the fitted ``alpha_`` or None)."""
    take = (lambda rows: X.iloc[rows]) if hasattr(X, "iloc") else (lambda r: X[r])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(take(train), y[train])
    elapsed = time.perf_counter() - start
    prediction = np.asarray(model.predict(take(test)), dtype=float)
    bad = int(np.count_nonzero(~np.isfinite(prediction)))
    # A non-finite prediction is a failure to report, not a score to compute.
    score = r2_score(y[test], prediction) if bad == 0 else float("nan")
    inner = model
    while hasattr(inner, "steps") or hasattr(inner, "regressor_"):
        inner = inner.steps[-1][1] if hasattr(inner, "steps") else inner.regressor_
    note = "*" if getattr(inner, "subsampled_", False) else ""
    return score, elapsed, bad, note, getattr(inner, "alpha_", None)


def _seeded(model, seed):
    """A clone of ``model`` with every ``random_state`` parameter at ``seed``
    (models without one are returned as clones)."""
    model = clone(model)
    names = [name for name in model.get_params() if name.endswith("random_state")]
    return model.set_params(**dict.fromkeys(names, seed))


def run_panel(models, entries=None, verbose=True, seeds=(RANDOM_STATE,)):
    """Score each model on each panel set.

    Parameters
    ----------
    models : dict of str to estimator
        Unfitted estimators; each is cloned for every fold and placed after
        the set's shared preprocessing.
    entries : list of panel.Dataset, default=None
        The sets; None loads the whole panel.
    verbose : bool, default=True
        Print one line per (set, model) as it finishes.
    seeds : sequence of int, default=(0,)
        Every model is fitted once per seed on every fold, with each of its
        ``random_state`` parameters at the seed; a fold's score is the mean
        over the seeds.

    Returns
    -------
    list of dict
        One record per (set, model): ``data``, ``model``, ``scores`` (per
        fold, the mean over the seeds), ``seed_scores`` (per seed, the mean
        over the folds), ``times`` (per fold, the mean over the seeds),
        ``non_finite``, ``note``.
    """
    entries = load_panel() if entries is None else entries
    records = []
    for name, X, y, preprocess, cv in entries:
        for label, model in models.items():
            scores = np.empty((len(seeds), len(cv)))
            times = np.empty_like(scores)
            alphas = np.full_like(scores, np.nan)
            bad, notes = 0, set()
            for k, seed in enumerate(seeds):
                for fold, (train, test) in enumerate(cv):
                    steps = [_seeded(model, seed)]
                    if preprocess is not None:
                        steps.insert(0, clone(preprocess))
                    try:
                        score, elapsed, n_bad, note, alpha = _fit_score(
                            make_pipeline(*steps), X, y, train, test
                        )
                    except Exception as error:  # report and carry on
                        score, elapsed, n_bad = float("nan"), float("nan"), 0
                        note = f"error: {type(error).__name__}: {str(error)[:50]}"
                        alpha = None
                    scores[k, fold], times[k, fold] = score, elapsed
                    if alpha is not None:
                        alphas[k, fold] = alpha
                    bad += n_bad
                    notes.add(note)
            record = {
                "data": name,
                "model": label,
                "n": len(y),
                "scores": scores.mean(axis=0).tolist(),
                "seed_scores": scores.mean(axis=1).tolist(),
                "fold_seed_scores": scores.tolist(),
                "alphas": alphas.tolist(),
                "times": times.mean(axis=0).tolist(),
                "non_finite": bad,
                "note": " ".join(sorted(n for n in notes if n)),
            }
            records.append(record)
            if verbose:
                print(_line(record), flush=True)
    return records


def _line(record):
    scores = np.asarray(record["scores"])
    spread = f"± {scores.std():.3f}" if len(scores) > 1 else "(1 split)"
    seeds = record.get("seed_scores", [])
    by_seed = f" seeds {min(seeds):.3f}-{max(seeds):.3f}" if len(seeds) > 1 else ""
    return (
        f"{record['data']:<16} {record['model']:<28} {scores.mean():7.3f} "
        f"{spread:>10} {scores.min():7.3f} {np.mean(record['times']):8.2f} "
        f"{record['non_finite']:>6} {record['note']}{by_seed}"
    )


HEADER = (
    f"{'data':<16} {'model':<28} {'R2 mean':>7} {'sd':>10} {'worst':>7} "
    f"{'fit s':>8} {'nonfin':>6}"
)


def report(records, table=True):
    """Print the table (unless ``table`` is False) and each model's mean R²."""
    if table:
        print(HEADER)
        for record in records:
            print(_line(record))
        print()
    print("mean R² over the sets (each set weighted equally):")
    for label in dict.fromkeys(r["model"] for r in records):
        means = [np.mean(r["scores"]) for r in records if r["model"] == label]
        fit = sum(np.sum(r["times"]) for r in records if r["model"] == label)
        print(
            f"  {label:<28} {np.mean(means):.3f}  ({len(means)} sets, "
            f"total fit {fit:.0f} s)"
        )
    _report_against(records, "ridge")


def _report_against(records, reference):
    """Each model's largest shortfall against ``reference`` on the same fold:
    of its mean over the seeds, and of its worst single (fold, seed) fit
    (against the reference's mean over the seeds on that fold)."""
    by_key = {(r["data"], r["model"]): r for r in records}
    if not any(model == reference for _, model in by_key):
        return
    print(f"largest shortfall against {reference} on the same fold (negative: below):")
    for label in dict.fromkeys(r["model"] for r in records):
        if label == reference:
            continue
        worst, single = [], []
        for (data, model), record in by_key.items():
            base = by_key.get((data, reference))
            if model != label or base is None:
                continue
            if len(base["scores"]) != len(record["scores"]):
                continue
            gaps = np.asarray(record["scores"]) - np.asarray(base["scores"])
            worst.append((float(np.min(gaps)), data))
            fits = np.asarray(record["fold_seed_scores"]) - np.asarray(base["scores"])
            seed, fold = np.unravel_index(np.argmin(fits), fits.shape)
            single.append((float(fits[seed, fold]), data, int(fold), int(seed)))
        if worst:
            gap, data = min(worst)
            print(f"  {label:<28} {gap:+.3f}  (on {data}, mean over the seeds)")
            gap, data, fold, seed = min(single)
            print(f"  {'':<28} {gap:+.3f}  (one fit: {data}, fold {fold}, seed {seed})")


def report_alphas(records):
    """For each model with an ``alpha_``: the strengths chosen per fold over
    the seeds, on the sets where the seeds disagreed on some fold."""
    for record in records:
        alphas = np.asarray(record.get("alphas", []), dtype=float)
        if alphas.size == 0 or np.isnan(alphas).all() or alphas.shape[0] < 2:
            continue
        unsteady = [
            fold
            for fold in range(alphas.shape[1])
            if len(set(alphas[:, fold].tolist())) > 1
        ]
        if not unsteady:
            continue
        scores = np.asarray(record["fold_seed_scores"])
        folds = "; ".join(
            f"fold {fold}: "
            + ", ".join(
                f"{alpha:g} ({score:.3f})"
                for alpha, score in zip(alphas[:, fold], scores[:, fold])
            )
            for fold in unsteady
        )
        print(f"alpha_ by seed, {record['data']} {record['model']}: {folds}")


def describe_machine(threads):
    """One line on when and where: date, CPU, vector extension, threads."""
    cpu = platform.processor() or platform.machine()
    flags = ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        )
        flags = "AVX-512" if "avx512f" in info else "AVX2" if "avx2" in info else ""
    except (OSError, StopIteration):
        pass
    return (
        f"{datetime.date.today()}, {cpu} ({flags}), {os.cpu_count()} logical "
        f"CPUs, {threads} BLAS/OpenMP thread(s) for every model"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a three-set subset")
    parser.add_argument("--sets", help=f"comma-separated subset of {','.join(LOADERS)}")
    parser.add_argument(
        "--models",
        default="defaults,ridge,mlp,krr,hgb",
        help="comma-separated baselines to run (defaults,ridge,mlp,krr,hgb)",
    )
    parser.add_argument(
        "--estimator-params",
        action="append",
        default=[],
        metavar="JSON",
        help="an ExponentialRegressor candidate as a JSON object; repeatable",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="fit every model with random_state 0 .. SEEDS-1 and average "
        "(default 1: random_state 0 only)",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write every record (per fold and seed: R², alpha_) as JSON",
    )
    args = parser.parse_args()

    known = baselines()
    chosen = [m for m in args.models.split(",") if m]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(known)}")
    models = {label: known[label] for label in chosen}
    for text in args.estimator_params:
        params = {"random_state": RANDOM_STATE, "n_jobs": 1, **json.loads(text)}
        models[f"exp {json.dumps(json.loads(text))}"] = ExponentialRegressor(**params)

    names = args.sets.split(",") if args.sets else None
    entries = load_panel(names, quick=args.quick)
    print(describe_machine(args.threads))
    for entry in entries:
        sizes = [len(test) for _, test in entry.cv]
        print(
            f"  {entry.name}: {len(entry.y)} rows, {len(entry.cv)} split(s), "
            f"test sizes {min(sizes)}-{max(sizes)}"
        )
    print("* kernel ridge fitted on a subsample of the training rows\n")
    print(HEADER)
    with threadpool_limits(args.threads):
        records = run_panel(models, entries, seeds=range(args.seeds))
    print()
    # The lines were printed as they finished; only the summary is new.
    report(records, table=False)
    report_alphas(records)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
