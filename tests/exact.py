"""Estimators for fits that tests compare to round-off."""

from skexpreg import ExponentialRegressor


def exact(*args, **params):
    """An ExponentialRegressor trained in float64 (``precision="double"``):
    two fits that should agree to round-off are compared in float64, whatever
    the default precision."""
    return ExponentialRegressor(*args, precision="double", **params)
