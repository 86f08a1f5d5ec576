"""Over-parameterised exponential regression as a scikit-learn estimator.

The two-layer network of Gao, Mahadevan and Song (2023) with the exponential
activation, trained by full-batch gradient descent
(:class:`ExponentialRegressor`), and its neural tangent kernels
(:mod:`skexpreg.ntk`).

The public names are imported on first use, so that ``import skexpreg`` (and
``python -m skexpreg --help``) does not import scikit-learn and scipy.
"""

import importlib

__version__ = "0.1.0.dev0"

__all__ = [
    "TRUSTED_TYPES",
    "DivergenceWarning",
    "ExponentialRegressor",
    "__version__",
    "ntk",
]

# Public name -> (module, attribute in it; None for the module itself).
_LAZY = {
    "ExponentialRegressor": ("skexpreg._regressor", "ExponentialRegressor"),
    "DivergenceWarning": ("skexpreg.exceptions", "DivergenceWarning"),
    "TRUSTED_TYPES": ("skexpreg._trusted", "TRUSTED_TYPES"),
    "ntk": ("skexpreg.ntk", None),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'skexpreg' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
