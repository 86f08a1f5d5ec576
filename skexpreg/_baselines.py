"""The models the estimator is compared with: one definition for all.

The command line (``python -m skexpreg``) and the benchmarks
(``benchmarks/defaults.py``) report the estimator next to these, built the
same way everywhere so that their figures can be compared.
"""

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import RidgeCV
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

#: RidgeCV's leave-one-out eigendecomposes a dense square matrix of side
#: min(n_samples, n_features), also for sparse input: at this side it is
#: 128 MiB and takes seconds; 38,427 one-hot columns would need 11 GiB.
LEAVE_ONE_OUT_MAX = 4096
#: The folds of RidgeCV when leave-one-out is too large.
RIDGE_FOLDS = 5


def baselines(random_state=None, *, n_samples=None, n_features=None):
    """``{name: unfitted model}``: RidgeCV and MLPRegressor on scaled data.

    Both see standardised features. RidgeCV searches 13 alphas from 1e-3 to
    1e3, by leave-one-out, or, when ``n_samples`` and ``n_features`` (of the
    matrix it will see) are given and both exceed :data:`LEAVE_ONE_OUT_MAX`,
    by :data:`RIDGE_FOLDS`-fold cross-validation, whose fits of sparse data
    use an iterative solver (``sparse_cg``) and form no dense square matrix.
    MLPRegressor also fits standardised targets (it has no target scaling of
    its own and is far less accurate without it) and may run 1000 epochs
    instead of 200, so that it is not cut short; otherwise it keeps its
    defaults.
    """
    alphas = np.logspace(-3, 3, 13)
    return {
        "RidgeCV": make_pipeline(
            StandardScaler(),
            RidgeCV(alphas, cv=ridge_folds(n_samples, n_features)),
        ),
        "MLPRegressor": make_pipeline(
            StandardScaler(),
            TransformedTargetRegressor(
                MLPRegressor(max_iter=1000, random_state=random_state),
                transformer=StandardScaler(),
            ),
        ),
    }


def ridge_folds(n_samples, n_features):
    """RidgeCV's ``cv`` for data of this shape: None (leave-one-out) or a
    number of folds; None when the shape is unknown."""
    if n_samples is None or n_features is None:
        return None
    return RIDGE_FOLDS if min(n_samples, n_features) > LEAVE_ONE_OUT_MAX else None
