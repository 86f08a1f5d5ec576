"""``alpha="auto"``: the ridge strength chosen on held-out training rows.

No single ridge strength suits all data: on the benchmark panel the best
``alpha`` ran from 1e-4 (California housing, 15,000 rows) to 10 (small,
noisy sets), and a wrong one costs a lot either way. So the estimator fits
a path of strengths on most of the training rows, from the strongest down,
each fit warm-started at the previous one's weights and curvature estimate
(so only the first fit runs a Lanczos iteration), scores each on the rows
held out, and keeps the best, or the next stronger strength where that
scored within one standard error of it (:func:`_one_step_stronger`); a fit
stops early once its held-out score has stayed well below the best so far,
and the path stops once two strengths in a row have scored below the best.
Up to 2,000 distinct rows, where a fit is cheap and one held-out part too
small to score reliably, the whole path is scored by 3-fold
cross-validation and the scores averaged. The held-out rows, the folds and
the subsample are cut by row content (:mod:`skexpreg._keys`): copies of a
row are never on both sides. The final fit on all rows then starts from
W(0), like any fit with that ``alpha``. On large data the path runs on a
random subsample, and always in this process (rows on a dask cluster are
gathered for it). The chosen strength is used as it is for
all the rows: scaling it by the ratio of rows (``alpha`` weighs against a
sum over rows) scored the same or slightly lower on every panel set.
"""

from dataclasses import dataclass, field

import numpy as np

# Strongest first: a strong ridge keeps the first fits close to W(0), where
# they are quick, and each warm-starts the next.
ALPHA_GRID = (10.0, 1.0, 0.1, 1e-2, 1e-3, 1e-4)
VALIDATION_FRACTION = 0.2
# The path runs on at most this many rows (a random subsample).
MAX_PATH_ROWS = 8_000
# Fewer rows than this leave too few to score on: alpha is FALLBACK_ALPHA.
MIN_PATH_ROWS = 20
FALLBACK_ALPHA = 1.0
# The path's fits stop at this relative decrease of the loss (or the
# estimator's tol, if larger): they only rank the strengths. Against 1e-6
# (the estimator's default tol) on the panel: the same mean held-out R²
# (0.652 against 0.651) in 10 to 40 % less fit time; 1e-5 was faster still
# but chose worse strengths on cars (0.853 against 0.868).
PATH_TOL = 3e-6
# The path stops after this many strengths in a row score below the best.
PATIENCE = 2
# Up to this many rows the held-out score is noisy and a fit cheap: the path
# is scored by N_FOLDS-fold cross-validation instead of one held-out part.
MAX_CROSS_VALIDATION_ROWS = 2_000
N_FOLDS = 3
# A fit on the path stops once its held-out R² has been more than
# BEHIND_MARGIN below the best of the path so far at BEHIND_CHECKS checks in
# a row, one every CHECK_EVERY steps: such a strength will not be chosen.
# The weak strengths' fits are the longest of the path and their R² usually
# falls as they run on (to -5 on diabetes); on the panel this scored the
# same held-out R² on every set (to 1e-4; two grunfeld folds chose the next
# weaker strength), with 7.3 and 5.9 times fewer evaluations on the path
# on diabetes and star98, 1.9 on friedman1, 1.0 to 1.5 on four more sets,
# and the same on California and randhie.
BEHIND_MARGIN = 0.05
BEHIND_CHECKS = 3
CHECK_EVERY = 10


@dataclass
class AlphaChoice:
    """The chosen ``alpha`` and the validation R² of every strength tried
    (averaged over the folds where the path is cross-validated)."""

    alpha: float
    scores: dict = field(default_factory=dict)


def choose_alpha(rows, train, score, terms, random_state):
    """Choose ``alpha`` for the (mapped) training rows.

    Parameters
    ----------
    rows : Rows
        The training rows as the network sees them.
    train : callable
        ``train(rows, alpha, start, callback)`` fits on ``rows`` from
        ``start`` (None: from W(0)), notifying ``callback(weights)`` (None:
        nothing) after every step and stopping when it returns True, and
        returns the weights.
    score : callable
        ``score(rows, weights)``: validation R² of ``weights`` on ``rows``.
    terms : callable
        ``terms(rows, weights)``: each row's share of the R² deficit
        (:meth:`~skexpreg._rows.Rows.r2_terms`).
    random_state : RandomState

    Returns
    -------
    AlphaChoice
    """
    # At most MAX_PATH_ROWS distinct rows, over which the path makes
    # hundreds of small passes: in this process (rows on a cluster are
    # gathered; a pass there costs a round trip through the scheduler).
    path_rows = rows.random_rows(MAX_PATH_ROWS, random_state).in_memory()
    # Rows are counted by their weights (relative to a distinct row's:
    # Rows.with_relative_weights), so copies of a row count as one.
    n_rows = path_rows.total_weight()
    if n_rows < MIN_PATH_ROWS:
        return AlphaChoice(FALLBACK_ALPHA)
    if n_rows <= MAX_CROSS_VALIDATION_ROWS:
        splits = path_rows.folds(N_FOLDS, random_state)
        patience = len(ALPHA_GRID)  # every fold scores every strength
    else:
        splits = [path_rows.split(VALIDATION_FRACTION, random_state)]
        patience = PATIENCE
    scores, deficits, keys = {}, {}, []
    for fit_part, held_out in splits:
        with fit_part, held_out:
            path = _path(fit_part, held_out, train, score, terms, patience)
        keys.append(held_out.content_keys())
        for alpha, (value, row_terms) in path.items():
            scores[alpha] = scores.get(alpha, 0.0) + value / len(splits)
            deficits.setdefault(alpha, []).append(row_terms / len(splits))
    best = max(scores, key=scores.get)
    if all(len(parts) == len(splits) for parts in deficits.values()):
        deficits = {alpha: np.concatenate(parts) for alpha, parts in deficits.items()}
        best = _one_step_stronger(best, deficits, np.concatenate(keys))
    return AlphaChoice(best, scores)


def _one_step_stronger(best, deficits, keys):
    """The next stronger ``alpha`` than the best if its held-out R² is
    within one standard error of the best's, else the best (a one-step
    form of the one-standard-error rule of Breiman et al. 1984).

    The standard error is of the paired difference: each held-out row's
    share of the R² deficit under the stronger ``alpha`` minus its share
    under the best, summed over copies of a row (they were held out
    together: one observation), so the rows' common noise cancels.

    Where the held-out scores cannot tell two neighbouring strengths apart,
    the best of the path moves from seed to seed, and the weaker one
    overfits more in the final fit (it runs from W(0) on all the rows, the
    path's fits from the previous strength's weights on part of them): on
    fair (one held-out part of 5,093 training rows) seeds chose 10, 1 or
    0.1 on a fold and scored 0.07 to -0.08; on cars a fold's path scored
    0.1 and 0.01 alike and the final fits scored 0.87 and 0.72. Going one
    step only: going to the strongest within one error (glmnet's
    ``lambda.1se``) chose ``alpha=1`` on a grunfeld fold whose path scored
    1 to 1e-4 alike, where the final fit scored 0.70 against 0.95.
    """
    stronger = [alpha for alpha in deficits if alpha > best]
    if not stronger:
        return best
    alpha = min(stronger)
    _, groups = np.unique(keys, return_inverse=True)
    n_groups = groups.max() + 1
    if n_groups < 2:
        return best
    difference = np.bincount(
        groups, weights=deficits[alpha] - deficits[best], minlength=n_groups
    )
    if not np.isfinite(difference).all():
        return best
    error = np.sqrt(n_groups) * np.std(difference, ddof=1)
    return alpha if difference.sum() <= error else best


def _path(fit_part, held_out, train, score, terms, patience):
    """``{alpha: (held-out R², each held-out row's share of its deficit)}``
    along the path, strongest first."""
    scores, weights, best, below = {}, None, None, 0
    for alpha in ALPHA_GRID:
        behind = None
        if best is not None:
            floor = scores[best][0] - BEHIND_MARGIN
            behind = _FallingBehind(lambda weights: score(held_out, weights), floor)
        weights = train(fit_part, alpha, weights, behind)
        scores[alpha] = score(held_out, weights), terms(held_out, weights)
        if best is None or scores[alpha][0] > scores[best][0]:
            best, below = alpha, 0
        else:
            below += 1
            if below == patience:
                break
    return scores


class _FallingBehind:
    """A path fit's callback: True once the held-out R² has been below
    ``floor`` at ``BEHIND_CHECKS`` checks in a row (one every
    ``CHECK_EVERY`` steps)."""

    def __init__(self, score, floor):
        self.score, self.floor = score, floor
        self.steps = self.behind = 0

    def __call__(self, weights):
        self.steps += 1
        if self.steps % CHECK_EVERY:
            return False
        self.behind = self.behind + 1 if self.score(weights) < self.floor else 0
        return self.behind >= BEHIND_CHECKS
