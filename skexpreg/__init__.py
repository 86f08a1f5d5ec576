"""Over-parameterised exponential regression as a scikit-learn estimator.

The two-layer network of Gao, Mahadevan and Song (2023) with the exponential
activation, trained by full-batch gradient descent
(:class:`ExponentialRegressor`), and its neural tangent kernels
(:mod:`skexpreg.ntk`).
"""

from skexpreg import ntk
from skexpreg._regressor import ExponentialRegressor
from skexpreg.exceptions import DivergenceWarning

__version__ = "0.1.0.dev0"

__all__ = ["DivergenceWarning", "ExponentialRegressor", "__version__", "ntk"]
