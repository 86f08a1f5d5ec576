"""The models the estimator is compared with: one definition for all.

The command line (``python -m skexpreg``) and the benchmarks
(``benchmarks/defaults.py``) report the estimator next to these, built the
same way everywhere so that their figures can be compared.
"""

from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import RidgeCV
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def baselines(random_state=None):
    """``{name: unfitted model}``: RidgeCV and MLPRegressor on scaled data.

    Both see standardised features; MLPRegressor also fits standardised
    targets (it has no target scaling of its own and is far less accurate
    without it); otherwise both keep their defaults.
    """
    return {
        "RidgeCV": make_pipeline(StandardScaler(), RidgeCV()),
        "MLPRegressor": TransformedTargetRegressor(
            make_pipeline(
                StandardScaler(),
                MLPRegressor(random_state=random_state),
            ),
            transformer=StandardScaler(),
        ),
    }
