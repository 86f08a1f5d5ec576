"""The theorem, measured: how wide gradient descent's network must be, against n.

    python benchmarks/paper.py            # the full study of docs/paper.rst
    python benchmarks/paper.py --quick    # about 12 s: n = 10 .. 200, the exponent
    python benchmarks/paper.py --jobs 2   # the seeds of each width in two processes
    python benchmarks/paper.py --replot RAW.json   # redraw a run's plots

The full study took 24.4 minutes on one thread (OMP_NUM_THREADS=1, a
two-core machine under load from other work), 14.2 of them at n = 1,400.

Gao, Mahadevan and Song (2023) prove that gradient descent on the
exponential-activation network reaches ``||F(W(T), X) - y||_2 <= epsilon`` once
the width is ``m = Omega(n^(2+o(1)) log(n / delta))`` (with a dependence on
``lambda``, the smallest eigenvalue of the infinite-width kernel ``H*``). This
script measures, for n from 10 to 1,400:

* ``m*(n)``: the width at which the paper's algorithm (``input_scaling=None,
  target_scaling=False, alpha=0, init="gaussian", solver="gd"``, the
  automatic step ``1 / lambda_max(H(W(0)))``, float64) reaches
  ``epsilon = 1e-2`` within the step budget the proof's rate gives, in half
  (``m_1/2``) or nine tenths (``m_0.9``) of the seeds (the success
  probability crossing the level for good, interpolated in log m on a
  half-octave grid of widths), with bootstrap intervals over seeds, and the
  exponents of ``m*(n) ~ n^p``, with ``m* ~ n^a lambda^-b`` over both
  designs;
* the proof's condition at initialisation, ``||H(W(0)) - H*||_2 <= lambda/4``,
  as a width: ``m_init = m0 (4 ||H(W(0)) - H*||_2 / lambda)^2`` from the
  deviation at ``m0`` neurons (it falls as ``m^(-1/2)``);
* the lazy-training quantities at fixed n as m grows: the largest weight
  movement against the radius within which the kernel provably stays
  ``lambda/2``-conditioned, the relative kernel drift, and the per-step
  contraction of the residual against ``1 - eta lambda / 2``.

Each seed draws its own data set and its own ``W(0)``: rows uniform on the
unit sphere of R^d, labels uniform in [-1, 1]. Design "d = n/4" (d = max(10, n/4))
keeps the median ``lambda(H*)`` between 1.2 and 4 for every n; design
"d = 10" lets it shrink (3.3 at n = 10, 0.23 at n = 200). The step budget of
a data set is the number of steps the proof's per-step contraction
``1 - eta lambda / 2`` (with ``eta = 1 / lambda_max(H*)``) needs to bring the
expected initial residual
``sqrt(||y||^2 + sum_i exp(2 ||x_i||^2))`` down to epsilon. A run stops at the
first step that reaches epsilon (it is continued in chunks of an eighth of
the budget with ``warm_start`` and the first chunk's step size, which is the
same iteration); no stochastic or L-BFGS step is used anywhere.

Kernel matrices are formed only up to 2,000 rows, by the package's
row-blocked ``ntk_kernel``, ``empirical_ntk`` and ``ntk_diagnostics``; above,
``ntk_operator`` and Lanczos take over (at 1,400 rows the dense spectrum of
``H*`` took 0.19 s, Lanczos 28 s). The fits never form more than a row block
of activations. Plots go to docs/_static (full study) or to a temporary
folder (``--quick``), with the raw results as JSON in a temporary folder;
nothing else is written.
"""

import argparse
import json
import math
import os
import tempfile
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.exceptions import ConvergenceWarning

from skexpreg import ExponentialRegressor
from skexpreg.exceptions import DivergenceWarning
from skexpreg.ntk import (
    empirical_ntk,
    ntk_diagnostics,
    ntk_eigenvalues,
    ntk_kernel,
    ntk_operator,
)

EPSILON = 1e-2
PAPER = dict(
    input_scaling=None,
    target_scaling=False,
    alpha=0.0,
    init="gaussian",
    solver="gd",
    learning_rate="auto",
    precision="double",
    n_jobs=1,
)
# Widths 2^(k/2), rounded: 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, ...
GRID = [int(round(2 ** (k / 2))) for k in range(2, 33)]
MAX_WIDTH = 16384
BOOTSTRAP = 2000
# The width at which ||H(W(0)) - H*||_2 is measured for m_init.
REFERENCE_WIDTH = 2048
# Kernels of up to this many rows are formed (by the package's row-blocked
# ntk_kernel and empirical_ntk) and solved densely; larger ones go through
# ntk_operator and Lanczos. At 1,400 rows, d = 350, the dense lambda(H*)
# took 0.19 s and the iterative one 27.7 s on one thread.
DENSE_MAX_SAMPLES = 2000

FULL = dict(
    designs={
        "d = n/4": dict(sizes=[10, 20, 50, 100, 200, 500, 1000, 1400], features="n/4"),
        "d = 10": dict(sizes=[10, 20, 50, 100, 200], features="10"),
    },
    seeds=10,
    lazy=dict(n=500, widths=[2**k for k in range(7, 15)], seeds=5),
)
QUICK = dict(
    designs={"d = n/4": dict(sizes=[10, 20, 50, 100, 200], features="n/4")},
    seeds=5,
    lazy=dict(n=100, widths=[64, 256, 1024], seeds=3),
)


def n_features(n, rule):
    """The dimension of design ``rule`` at ``n`` rows: ``max(10, n // 4)`` for
    "n/4" (fewer than 10 dimensions make lambda small and erratic at small n)."""
    return max(10, n // 4) if rule == "n/4" else int(rule)


def make_data(n, d, seed):
    """``n`` rows uniform on the unit sphere of R^d and labels in [-1, 1]."""
    rng = np.random.default_rng([n, d, seed])
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, rng.uniform(-1, 1, size=n)


def step_budget(X, y, lambda_min, lambda_max, epsilon=EPSILON):
    """Steps for ``(1 - lambda/(2 lambda_max))^T ||r(0)|| <= epsilon``.

    ``||r(0)||`` is the expected initial residual: ``F(W(0), x)`` has mean 0
    and variance ``E exp(2 <w, x>) = exp(2 ||x||^2)`` for ``w ~ N(0, I)``.
    """
    start = math.sqrt(float(y @ y) + float(np.exp(2 * np.sum(X**2, axis=1)).sum()))
    rate = -math.log1p(-lambda_min / (2 * lambda_max))
    return max(1, math.ceil(math.log(start / epsilon) / rate))


class DataSet:
    """One seed's data at one (n, d), with its kernel spectrum and budget."""

    def __init__(self, n, d, seed):
        self.n, self.d, self.seed = n, d, seed
        self.X, self.y = make_data(n, d, seed)
        method = "dense" if n <= DENSE_MAX_SAMPLES else "iterative"
        self.lambda_min, self.lambda_max = ntk_eigenvalues(self.X, method=method)
        self.budget = step_budget(self.X, self.y, self.lambda_min, self.lambda_max)


def _model(width, seed, max_iter, **extra):
    return ExponentialRegressor(
        width, max_iter=max_iter, tol=0.0, random_state=seed, **{**PAPER, **extra}
    )


def fit_to_epsilon(data, width, epsilon=EPSILON):
    """Gradient descent from ``W(0)`` of ``random_state=data.seed`` until the
    residual reaches ``epsilon`` or the budget is spent.

    Returns a dict: ``success``, ``steps`` (the first step with
    ``||F - y|| <= epsilon``, or None), ``residual`` (at the end),
    ``learning_rate``, ``halved`` (whether the step had to be halved) and
    ``seconds``.
    """
    chunk = max(20, data.budget // 8)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _model(width, data.seed, min(chunk, data.budget))
        model.fit(data.X, data.y)
        eta = model.learning_rate_
        while True:
            # loss = ||F - y||^2 / 2 (no weights, no ridge, raw targets)
            losses = np.asarray(model.loss_curve_)
            reached = np.flatnonzero(losses <= epsilon**2 / 2)
            if reached.size or model.n_iter_ >= data.budget:
                break
            model.set_params(
                warm_start=True,
                learning_rate=eta,
                max_iter=min(chunk, data.budget - model.n_iter_),
            )
            model.fit(data.X, data.y)
    halved = any(issubclass(w.category, DivergenceWarning) for w in caught)
    residual = float(np.linalg.norm(model.predict(data.X) - data.y))
    return dict(
        success=bool(reached.size),
        steps=int(reached[0]) + 1 if reached.size else None,
        residual=residual,
        learning_rate=float(eta),
        halved=halved,
        seconds=time.perf_counter() - start,
    )


def initial_kernel_deviation(data, width=REFERENCE_WIDTH):
    """``||H(W(0)) - H*||_2`` at ``width`` neurons, ``W(0)`` as the estimator
    draws it for ``random_state=data.seed``."""
    model = _model(width, data.seed, 1).fit(data.X, data.y)
    weights = model.initial_weights_
    if data.n <= DENSE_MAX_SAMPLES:
        difference = empirical_ntk(data.X, weights) - ntk_kernel(data.X)
        return float(np.abs(np.linalg.eigvalsh(difference)).max())
    empirical, limit = ntk_operator(data.X, weights), ntk_operator(data.X)
    difference = LinearOperator(
        empirical.shape,
        matvec=lambda v: empirical.matvec(v) - limit.matvec(v),
        dtype=np.float64,
    )
    v0 = np.random.default_rng(data.seed).uniform(-1, 1, data.n)
    top = eigsh(difference, k=1, which="LM", tol=1e-4, v0=v0)[0]
    return float(abs(top[0]))


def crossing_width(widths, successes, level=0.5):
    """The width at which the success probability reaches ``level`` for good.

    ``successes`` is (n_widths, n_seeds) of 0/1 on increasing ``widths``. The
    crossing is after the last width whose probability is below ``level``,
    interpolated linearly in log width between it and the next one; ``inf``
    if the largest width is below ``level``, the smallest width if none is.
    """
    widths = np.asarray(widths, dtype=float)
    probability = np.asarray(successes, dtype=float).mean(axis=1)
    below = np.flatnonzero(probability < level)
    if below.size == 0:
        return float(widths[0])
    k = below[-1]
    if k == len(widths) - 1:
        return math.inf
    p0, p1 = probability[k], probability[k + 1]
    t = (level - p0) / (p1 - p0)
    return float(np.exp(np.log(widths[k]) + t * np.log(widths[k + 1] / widths[k])))


def search_widths(datasets, start_index, fit, record):
    """Evaluate every seed at half-octave widths around the transition.

    From ``GRID[start_index]`` down until no seed succeeds and up until all
    seeds succeed at two consecutive widths (or ``MAX_WIDTH``). ``fit`` maps
    a list of (data set, width) pairs to result dicts; ``record(width,
    results)`` is told of each width. Returns {width index: results}.
    """
    done = {}

    def evaluate(k):
        if k not in done:
            width = GRID[k]
            results = fit([(data, width) for data in datasets])
            done[k] = results
            record(width, results)
        return np.mean([r["success"] for r in done[k]])

    k = start_index
    evaluate(k)
    low = k
    while low > 0 and evaluate(low) > 0:
        low -= 1
    k = start_index
    while GRID[k] < MAX_WIDTH:
        if evaluate(k) == 1 and (k - 1 in done and evaluate(k - 1) == 1):
            break
        k += 1
    return done


def slope(x, y):
    """Least-squares slope of log y on log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def bootstrap_width_study(sizes, tables, rng, level=0.5, n_min=None):
    """m*(n) at ``level`` with 95 % intervals and the exponent of m*(n),
    resampling seeds.

    ``tables[n] = (widths, successes)``. The seeds of one n are resampled
    together (the same resample at every width); the exponent is the slope
    over the sizes >= ``n_min`` whose m* is finite.
    """
    sizes = np.asarray(sizes)
    fitted = sizes if n_min is None else sizes[sizes >= n_min]
    point = {n: crossing_width(*tables[n], level) for n in sizes}
    samples = {n: [] for n in sizes}
    slopes = []
    for _ in range(BOOTSTRAP):
        draw = {}
        for n in sizes:
            widths, successes = tables[n]
            successes = np.asarray(successes)
            pick = rng.integers(0, successes.shape[1], successes.shape[1])
            draw[n] = crossing_width(widths, successes[:, pick], level)
            samples[n].append(draw[n])
        values = np.array([draw[n] for n in fitted])
        if np.all(np.isfinite(values)):
            slopes.append(slope(fitted, values))
    intervals = {n: np.percentile(samples[n], [2.5, 97.5]) for n in sizes}
    values = np.array([point[n] for n in fitted])
    exponent = slope(fitted, values) if np.all(np.isfinite(values)) else math.nan
    return dict(
        m_star=point,
        draws={n: np.array(samples[n]) for n in sizes},
        intervals=intervals,
        exponent=exponent,
        exponent_interval=(
            np.percentile(slopes, [2.5, 97.5]) if slopes else (math.nan, math.nan)
        ),
        finite_resamples=len(slopes) / BOOTSTRAP,
    )


def bootstrap_slope(x, per_seed, rng):
    """Slope of log(mean over seeds) on log x, with a seed-bootstrap interval.

    ``per_seed`` is (len(x), n_seeds) of positive values."""
    per_seed = np.asarray(per_seed)
    point = slope(x, per_seed.mean(axis=1))
    draws = []
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, per_seed.shape[1], per_seed.shape[1])
        draws.append(slope(x, per_seed[:, pick].mean(axis=1)))
    return point, np.percentile(draws, [2.5, 97.5])


def width_study(config, run, log):
    """The success curves, m*(n) and m_init(n) of every design."""
    out = {}
    for name, design in config["designs"].items():
        log(f"\n== design {name} ==")
        tables, spectra, inits, records = {}, {}, {}, []
        start = 0
        for n in design["sizes"]:
            d = n_features(n, design["features"])
            tic = time.perf_counter()
            datasets = [DataSet(n, d, seed) for seed in range(config["seeds"])]
            lambdas = [data.lambda_min for data in datasets]
            budgets = [data.budget for data in datasets]
            deviations = [initial_kernel_deviation(data) for data in datasets]
            m_init = [
                REFERENCE_WIDTH * (4 * dev / data.lambda_min) ** 2
                for dev, data in zip(deviations, datasets)
            ]
            spectra[n] = dict(
                d=d,
                lambda_min=lambdas,
                lambda_max=[data.lambda_max for data in datasets],
                budget=budgets,
            )
            inits[n] = m_init
            # The rank bound d m >= n, or the previous n's transition.
            rank_index = next(k for k, w in enumerate(GRID) if d * w >= n)
            start = max(start, rank_index)

            def record(width, results, n=n):
                wins = sum(r["success"] for r in results)
                steps = [r["steps"] for r in results if r["success"]]
                seconds = sum(r["seconds"] for r in results)
                records.append(dict(n=n, width=width, results=results))
                log(
                    f"  n={n:>5} m={width:>6}: {wins}/{len(results)} reach eps"
                    f"{'' if not steps else f', steps {min(steps)}-{max(steps)}'}"
                    f"  ({seconds:.1f} s)"
                )

            log(
                f" n={n}: d={d}, lambda(H*) median {np.median(lambdas):.3g} "
                f"(min {min(lambdas):.3g}), budget {min(budgets)}-{max(budgets)} "
                f"steps, m_init median {np.median(m_init):.3g}"
            )
            done = search_widths(datasets, start, run, record)
            indices = sorted(done)
            widths = [GRID[k] for k in indices]
            successes = [[r["success"] for r in done[k]] for k in indices]
            tables[n] = (widths, successes)
            crossing = crossing_width(widths, successes)
            if math.isfinite(crossing):
                start = max(rank_index, next(k for k in indices if GRID[k] >= crossing))
                start = max(0, start - 2)
            log(f" n={n}: m* = {crossing:.4g}  ({time.perf_counter() - tic:.1f} s)")
        out[name] = dict(
            sizes=design["sizes"],
            tables=tables,
            spectra=spectra,
            m_init=inits,
            records=records,
        )
    return out


def lazy_study(config, run_lazy, log):
    """Weight movement, kernel drift and contraction at fixed n as m grows."""
    n, widths, seeds = config["n"], config["widths"], config["seeds"]
    d = n_features(n, "n/4")
    datasets = [DataSet(n, d, seed) for seed in range(seeds)]
    log(f"\n== lazy training at n = {n}, d = {d} ==")
    rows = {}
    for width in widths:
        tic = time.perf_counter()
        rows[width] = run_lazy([(data, width) for data in datasets])
        movement = np.mean([r["movement"] for r in rows[width]])
        drift = np.mean([r["drift"] for r in rows[width]])
        log(
            f"  m={width:>6}: movement {movement:.3g}, drift {drift:.3g}, "
            f"residual {np.mean([r['residual'] for r in rows[width]]):.3g}  "
            f"({time.perf_counter() - tic:.1f} s)"
        )
    return dict(n=n, d=d, widths=widths, rows=rows)


def lazy_fit(data, width):
    """Exactly ``data.budget`` steps, then the lazy-training quantities."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _model(width, data.seed, data.budget).fit(data.X, data.y)
    method = "dense" if data.n <= DENSE_MAX_SAMPLES else "iterative"
    diagnostics = ntk_diagnostics(model, data.X, method=method, random_state=0)
    losses = np.array([model.initial_loss_, *model.loss_curve_])
    steps = np.sqrt(losses[1:] / losses[:-1])
    eta = model.learning_rate_
    moved = model.weights_ - model.initial_weights_
    return dict(
        movement=diagnostics.max_weight_movement,
        rms_movement=float(np.sqrt(np.mean(np.sum(moved**2, axis=0)))),
        drift=diagnostics.kernel_drift,
        # ||H(T) - H(0)|| <= lambda/4 keeps lambda_min(H) >= lambda/2 given
        # ||H(0) - H*|| <= lambda/4: the drift the proof allows, relative.
        allowed_drift=data.lambda_min / (4 * diagnostics.lambda_max_initial),
        radius=proof_radius(data.n, data.lambda_min),
        average_contraction=diagnostics.observed_residual_contraction,
        worst_contraction=float(steps.max()),
        proof_contraction=1 - eta * data.lambda_min / 2,
        kernel_contraction=diagnostics.predicted_residual_contraction,
        lambda_min_initial=diagnostics.lambda_min_initial,
        residual=float(np.linalg.norm(model.predict(data.X) - data.y)),
        steps=model.n_iter_,
        learning_rate=eta,
        seconds=time.perf_counter() - start,
    )


def proof_radius(n, lambda_min):
    """The radius R with ``max_r ||w_r - w_r(0)|| <= R`` implying
    ``||H(W) - H(W(0))||_2 <= lambda/4`` for unit rows.

    ``|H(W)_ij - H(W(0))_ij| <= (exp(2R) - 1) (1/m) sum_r exp(<w_r(0), x_i +
    x_j>)``, which is about ``(exp(2R) - 1) exp(||x_i + x_j||^2 / 2) <=
    (exp(2R) - 1) e^2``, and ``||.||_2 <= n max_ij |.|``.
    """
    return 0.5 * math.log1p(lambda_min / (4 * n * math.e**2))


def _runner(jobs):
    if jobs == 1:
        return lambda f: lambda pairs: [f(data, width) for data, width in pairs]
    pool = Parallel(n_jobs=jobs)
    return lambda f: lambda pairs: pool(delayed(f)(data, w) for data, w in pairs)


def rst_table(header, rows):
    """Lines of a reStructuredText simple table."""
    cells = [header, *rows]
    widths = [max(len(str(row[k])) for row in cells) for k in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def line(row):
        return "  ".join(f"{str(v):<{w}}" for v, w in zip(row, widths)).rstrip()

    return [rule, line(header), rule, *(line(row) for row in rows), rule]


LEVELS = {"m_1/2": 0.5, "m_0.9": 0.9}


def summarise(widths_out, lazy_out, log, rng):
    """Tables (reStructuredText) and fitted exponents."""
    summary = {}
    for name, study in widths_out.items():
        sizes = study["sizes"]
        fits = {
            (label, span): bootstrap_width_study(
                sizes, study["tables"], rng, level, None if span == "all n" else 50
            )
            for label, level in LEVELS.items()
            for span in ("all n", "n >= 50")
        }
        init_exponent = bootstrap_slope(sizes, [study["m_init"][n] for n in sizes], rng)
        summary[name] = dict(fits=fits, init_exponent=init_exponent)
        rows = []
        for n in sizes:
            spectrum = study["spectra"][n]
            lam = np.array(spectrum["lambda_min"])
            row = [
                n,
                spectrum["d"],
                f"{np.median(lam):.3g} ({lam.min():.2g}-{lam.max():.2g})",
                f"{np.median(spectrum['lambda_max']):.3g}",
                f"{min(spectrum['budget'])}-{max(spectrum['budget'])}",
            ]
            for label in LEVELS:
                fit = fits[(label, "all n")]
                low, high = fit["intervals"][n]
                row.append(f"{fit['m_star'][n]:.4g} [{low:.4g}, {high:.4g}]")
            row.append(f"{np.median(study['m_init'][n]):.3g}")
            rows.append(row)
        log(f"\nDesign {name} ({len(study['tables'][sizes[0]][1][0])} seeds):\n")
        header = ["n", "d", "lambda(H*) (range)", "lambda_max", "budget"]
        header += [f"{label} [95 %]" for label in LEVELS] + ["m_init"]
        for text in rst_table(header, rows):
            log("  " + text)
        for (label, span), fit in fits.items():
            low, high = fit["exponent_interval"]
            log(
                f"  exponent of {label}(n) over {span}: {fit['exponent']:.3f} "
                f"[{low:.3f}, {high:.3f}] (95 %, {BOOTSTRAP} seed resamples, "
                f"{fit['finite_resamples']:.0%} with every m* finite)"
            )
        point, (low, high) = init_exponent
        log(f"  exponent of m_init(n): {point:.3f} [{low:.3f}, {high:.3f}]")
    if len(widths_out) > 1:
        summary["lambda"] = lambda_dependence(widths_out, summary, log)
    if lazy_out is not None:
        summary["lazy"] = summarise_lazy(lazy_out, log, rng)
    return summary


def lambda_dependence(widths_out, summary, log):
    """``log m* = c + a log n - b log lambda`` over every design's points
    with n >= 50 (lambda: the median over seeds), with the seed bootstrap."""
    columns, draws = [], []
    for name, study in widths_out.items():
        fit = summary[name]["fits"][("m_1/2", "all n")]
        for n in study["sizes"]:
            if n < 50:
                continue
            lam = float(np.median(study["spectra"][n]["lambda_min"]))
            columns.append((n, lam, fit["m_star"][n]))
            draws.append(fit["draws"][n])
    n, lam, m_star = (np.array(c, dtype=float) for c in zip(*columns))
    design = np.column_stack([np.ones_like(n), np.log(n), -np.log(lam)])

    def solve(values):
        return np.linalg.lstsq(design, np.log(values), rcond=None)[0][1:]

    point = solve(m_star) if np.all(np.isfinite(m_star)) else (math.nan, math.nan)
    draws = np.array(draws).T  # (BOOTSTRAP, points)
    finite = np.all(np.isfinite(draws), axis=1)
    samples = np.array([solve(row) for row in draws[finite]])
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    log(
        f"\nPooled over the designs (n >= 50): m* ~ n^a lambda^-b with "
        f"a = {point[0]:.3f} [{low[0]:.3f}, {high[0]:.3f}], "
        f"b = {point[1]:.3f} [{low[1]:.3f}, {high[1]:.3f}]"
    )
    return dict(
        a=point[0],
        b=point[1],
        a_interval=(low[0], high[0]),
        b_interval=(low[1], high[1]),
    )


def summarise_lazy(lazy_out, log, rng):
    widths = lazy_out["widths"]
    rows = lazy_out["rows"]

    def table(key):
        return [[r[key] for r in rows[w]] for w in widths]

    slopes = {
        key: bootstrap_slope(widths, table(key), rng)
        for key in ("movement", "rms_movement", "drift")
    }
    slopes["1 - average contraction"] = bootstrap_slope(
        widths, 1 - np.asarray(table("average_contraction")), rng
    )
    log(f"\nLazy training at n = {lazy_out['n']} (d = {lazy_out['d']}):\n")
    keys = (
        "movement",
        "rms_movement",
        "radius",
        "drift",
        "allowed_drift",
        "average_contraction",
        "worst_contraction",
        "proof_contraction",
        "residual",
    )
    lines = []
    for k, w in enumerate(widths):
        mean = {key: float(np.mean(table(key)[k])) for key in keys}
        lines.append(
            [
                w,
                f"{mean['movement']:.3g}",
                f"{mean['rms_movement']:.3g}",
                f"{mean['radius']:.2g}",
                f"{mean['drift']:.3g}",
                f"{mean['allowed_drift']:.3g}",
                f"{mean['average_contraction']:.4f}",
                f"{mean['worst_contraction']:.4f}",
                f"{mean['proof_contraction']:.4f}",
                f"{mean['residual']:.2g}",
            ]
        )
    header = [
        "m",
        "max movement",
        "rms movement",
        "radius R",
        "drift",
        "allowed drift",
        "avg contraction",
        "worst step",
        "1 - eta lambda/2",
        "residual",
    ]
    for text in rst_table(header, lines):
        log("  " + text)
    # Where the fitted power laws would meet the proof's thresholds.
    for key, threshold in (("movement", "radius"), ("drift", "allowed_drift")):
        fit = np.polyfit(np.log(widths), np.log(np.mean(table(key), axis=1)), 1)
        level = float(np.mean(table(threshold)))
        crossing = math.exp((math.log(level) - fit[1]) / fit[0])
        log(f"  {key} would reach {threshold} ({level:.3g}) at m = {crossing:.3g}")
    for key, (point, (low, high)) in slopes.items():
        log(f"  slope of {key} in m: {point:.3f} [{low:.3f}, {high:.3f}]")
    return slopes


def plot(widths_out, lazy_out, summary, folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    main = widths_out["d = n/4"]
    fig, axes = plt.subplots(
        1, len(widths_out), figsize=(5.2 * len(widths_out), 3.8), squeeze=False
    )
    for ax, (name, study) in zip(axes[0], widths_out.items()):
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(study["sizes"])))
        for n, color in zip(study["sizes"], colors):
            widths, successes = study["tables"][n]
            ax.semilogx(
                widths,
                np.mean(successes, axis=1),
                "o-",
                color=color,
                ms=3,
                label=f"{n}",
            )
        ax.axhline(0.5, color="k", lw=0.6, ls=":")
        ax.axhline(0.9, color="k", lw=0.6, ls=":")
        ax.set_xlabel("width $m$")
        ax.set_ylabel(r"fraction of seeds reaching $\epsilon = 10^{-2}$")
        ax.set_title(f"Success probability, {name}")
        ax.legend(title="n", fontsize=7)
    fig.tight_layout()
    paths.append(os.path.join(folder, "paper_success.png"))
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    markers = {"d = n/4": "o", "d = 10": "s"}
    for name, study in widths_out.items():
        sizes = np.array(study["sizes"])
        for label, style in (("m_1/2", "-"), ("m_0.9", "-.")):
            if name != "d = n/4" and label != "m_1/2":
                continue
            fit = summary[name]["fits"][(label, "all n")]
            m_star = np.array([fit["m_star"][n] for n in sizes])
            low = np.array([fit["intervals"][n][0] for n in sizes])
            high = np.array([fit["intervals"][n][1] for n in sizes])
            ok = np.isfinite(m_star)
            high = np.where(np.isfinite(high), high, m_star)
            exponent, (lo, hi) = fit["exponent"], fit["exponent_interval"]
            symbol = "m_{1/2}" if label == "m_1/2" else "m_{0.9}"
            ax.errorbar(
                sizes[ok],
                m_star[ok],
                yerr=[m_star[ok] - low[ok], high[ok] - m_star[ok]],
                fmt=markers[name] + style,
                ms=4,
                capsize=3,
                label=f"${symbol}$, {name}: slope {exponent:.2f} [{lo:.2f}, {hi:.2f}]",
            )
        init = np.array([np.median(study["m_init"][n]) for n in sizes])
        ax.loglog(
            sizes,
            init,
            markers[name] + "--",
            mfc="none",
            ms=4,
            label=r"$\|H(W(0)) - H^*\| \leq \lambda/4$, " + name,
        )
    sizes = np.array(main["sizes"])
    anchor = summary["d = n/4"]["fits"][("m_1/2", "all n")]["m_star"][sizes[0]]
    ax.loglog(sizes, anchor * (sizes / sizes[0]) ** 2, "k:", lw=1, label="$n^2$")
    ax.set_xlabel("number of training points $n$")
    ax.set_ylabel("width $m$")
    ax.set_title(r"Width needed to reach $\epsilon = 10^{-2}$")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(os.path.join(folder, "paper_width.png"))
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    if lazy_out is not None:
        widths = np.array(lazy_out["widths"])
        rows = lazy_out["rows"]

        def mean(key):
            return np.array([np.mean([r[key] for r in rows[w]]) for w in widths])

        fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
        axes[0].loglog(widths, mean("movement"), "o-", label="largest, $\\max_r$")
        axes[0].loglog(widths, mean("rms_movement"), "s-", label="root mean square")
        axes[0].loglog(widths, mean("radius"), "k--", label="radius $R$ of the proof")
        axes[0].set_title(r"$\|w_r(T) - w_r(0)\|$")
        axes[1].loglog(widths, mean("drift"), "o-", label="measured")
        axes[1].loglog(
            widths, mean("allowed_drift"), "k--", label=r"$\lambda / (4\|H(0)\|)$"
        )
        axes[1].set_title(r"$\|H(T) - H(0)\| / \|H(0)\|$")
        axes[2].semilogx(widths, mean("average_contraction"), "o-", label="average")
        axes[2].semilogx(widths, mean("worst_contraction"), "s-", label="worst step")
        axes[2].semilogx(
            widths, mean("proof_contraction"), "k--", label=r"$1 - \eta\lambda/2$"
        )
        axes[2].set_title("residual contraction per step")
        for ax in axes:
            ax.set_xlabel("width $m$")
            ax.legend(fontsize=7)
        fig.suptitle(f"Lazy training, n = {lazy_out['n']}, d = {lazy_out['d']}")
        fig.tight_layout()
        paths.append(os.path.join(folder, "paper_lazy.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def load(path):
    """The studies and summary written by a run, for ``--replot``."""
    with open(path) as handle:
        raw = json.load(handle)

    def number(key):
        return float(key) if key in ("inf", "nan") else int(key)

    widths_out = {}
    for name, study in raw["widths"].items():
        widths_out[name] = dict(
            sizes=study["sizes"],
            tables={number(n): tuple(t) for n, t in study["tables"].items()},
            m_init={number(n): v for n, v in study["m_init"].items()},
            spectra={number(n): v for n, v in study["spectra"].items()},
        )
    summary = {}
    for name in widths_out:
        fits = {}
        for key, fit in raw["summary"][name]["fits"].items():
            label, span = (part.strip(" '") for part in key.strip("()").split(","))
            fits[(label, span)] = dict(
                fit,
                m_star={number(n): float(v) for n, v in fit["m_star"].items()},
                intervals={number(n): v for n, v in fit["intervals"].items()},
            )
        summary[name] = dict(fits=fits)
    lazy = raw["lazy"]
    lazy_out = dict(
        n=lazy["n"],
        d=lazy["d"],
        widths=lazy["widths"],
        rows={int(w): rows for w, rows in lazy["rows"].items()},
    )
    return widths_out, lazy_out, summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n <= 200, < 1 minute")
    parser.add_argument("--jobs", type=int, default=1, help="processes for seeds")
    parser.add_argument(
        "--plots",
        default=None,
        help="folder for the plots (default: docs/_static, or a temporary "
        "folder with --quick)",
    )
    parser.add_argument(
        "--replot", metavar="JSON", help="redraw the plots of a run's raw results"
    )
    args = parser.parse_args(argv)
    if args.replot:
        folder = args.plots or os.path.join(
            os.path.dirname(__file__), "..", "docs", "_static"
        )
        os.makedirs(folder, exist_ok=True)
        print(plot(*load(args.replot), folder=os.path.abspath(folder)))
        return None
    config = QUICK if args.quick else FULL
    scratch = tempfile.mkdtemp(prefix="skexpreg_paper_")
    if args.plots is not None:
        folder = args.plots
    elif args.quick:
        folder = scratch
    else:
        folder = os.path.join(os.path.dirname(__file__), "..", "docs", "_static")
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)

    def log(text):
        print(text, flush=True)

    tic = time.perf_counter()
    runner = _runner(args.jobs)
    widths_out = width_study(config, runner(fit_to_epsilon), log)
    lazy_out = lazy_study(config["lazy"], runner(lazy_fit), log)
    summary = summarise(widths_out, lazy_out, log, np.random.default_rng(0))
    paths = plot(widths_out, lazy_out, summary, folder)
    elapsed = time.perf_counter() - tic
    raw = os.path.join(scratch, "paper.json")
    with open(raw, "w") as handle:
        json.dump(
            _jsonable(
                dict(
                    widths=widths_out,
                    lazy=lazy_out,
                    summary=summary,
                    seconds=elapsed,
                    threads=os.environ.get("OMP_NUM_THREADS"),
                    jobs=args.jobs,
                )
            ),
            handle,
        )
    log(f"\nplots: {', '.join(paths)}\nraw results: {raw}")
    log(f"total {elapsed:.0f} s ({elapsed / 60:.1f} min), jobs={args.jobs}")
    for label in LEVELS:
        fit = summary["d = n/4"]["fits"][(label, "all n")]
        low, high = fit["exponent_interval"]
        log(
            f"fitted exponent of {label}(n), design d = n/4: {fit['exponent']:.2f} "
            f"[{low:.2f}, {high:.2f}] (95 % seed bootstrap)"
        )
    return summary


if __name__ == "__main__":
    main()
