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


def baselines(random_state=None):
    """``{name: unfitted model}``: RidgeCV and MLPRegressor on scaled data.

    Both see standardised features. RidgeCV searches 13 alphas from 1e-3 to
    1e3 (leave-one-out). MLPRegressor also fits standardised targets (it has
    no target scaling of its own and is far less accurate without it) and
    may run 1000 epochs instead of 200, so that it is not cut short;
    otherwise it keeps its defaults.
    """
    return {
        "RidgeCV": make_pipeline(StandardScaler(), RidgeCV(np.logspace(-3, 3, 13))),
        "MLPRegressor": make_pipeline(
            StandardScaler(),
            TransformedTargetRegressor(
                MLPRegressor(max_iter=1000, random_state=random_state),
                transformer=StandardScaler(),
            ),
        ),
    }
