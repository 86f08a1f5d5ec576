"""The types to trust when loading a fitted estimator with skops."""

from skexpreg._regressor import ExponentialRegressor


def qualified_name(cls):
    """``module.QualifiedName`` of a class, as skops names types."""
    return f"{cls.__module__}.{cls.__qualname__}"


#: Fully qualified names of the types a fitted :class:`ExponentialRegressor`
#: holds that skops does not trust by default (its fitted state is numpy
#: arrays and Python scalars, which skops trusts). Pass them as ``trusted`` to
#: ``skops.io.load`` or as ``skops_trusted_types`` to MLflow. Computed from
#: the classes themselves, so a module move keeps them right.
TRUSTED_TYPES = [qualified_name(cls) for cls in (ExponentialRegressor,)]
