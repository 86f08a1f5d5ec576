"""``alpha="auto"``: the ridge strength chosen on held-out training rows.

No single ridge strength suits all data: on the benchmark panel the best
``alpha`` ran from 1e-4 (California housing, 15,000 rows) to 10 (small,
noisy sets), and a wrong one costs a lot either way. So the estimator fits a
path of strengths on most of the training rows, from the strongest down,
each fit warm-started at the previous one's weights, scores each on the
rows held out, and keeps the best; the path stops once two strengths in a
row have scored below the best. The final fit on all rows then starts from
W(0), like any fit with that ``alpha``. On large data the path runs on a
random subsample, and the chosen strength is scaled to the full data by the
ratio of total sample weight (``alpha`` weighs against a sum over rows).
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
# The path stops after this many strengths in a row score below the best.
PATIENCE = 2


@dataclass
class AlphaChoice:
    """The chosen ``alpha`` (for all the rows) and the validation R² of
    every strength tried (on the path's scale)."""

    alpha: float
    scores: dict = field(default_factory=dict)


def choose_alpha(rows, train, score, random_state):
    """Choose ``alpha`` for the (mapped) training rows.

    Parameters
    ----------
    rows : Rows
        The training rows as the network sees them.
    train : callable
        ``train(rows, alpha, start)`` fits on ``rows`` from ``start`` (None:
        from W(0)) and returns the weights.
    score : callable
        ``score(rows, weights)``: validation R² of ``weights`` on ``rows``.
    random_state : RandomState

    Returns
    -------
    AlphaChoice
    """
    if rows.n_samples < MIN_PATH_ROWS:
        return AlphaChoice(FALLBACK_ALPHA)
    path_rows = rows
    if rows.n_samples > MAX_PATH_ROWS:
        chosen = random_state.choice(rows.n_samples, MAX_PATH_ROWS, replace=False)
        path_rows = rows.take(np.sort(chosen))
    fit_part, held_out = path_rows.split(VALIDATION_FRACTION, random_state)
    with fit_part, held_out:
        best = None
        scores, weights, below = {}, None, 0
        for alpha in ALPHA_GRID:
            weights = train(fit_part, alpha, weights)
            scores[alpha] = score(held_out, weights)
            if best is None or scores[alpha] > scores[best]:
                best, below = alpha, 0
            else:
                below += 1
                if below == PATIENCE:
                    break
        ratio = rows.total_weight() / fit_part.total_weight()
    return AlphaChoice(best * ratio, scores)
