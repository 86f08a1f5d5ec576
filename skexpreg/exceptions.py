"""Warnings raised by skexpreg."""

from sklearn.exceptions import ConvergenceWarning

__all__ = ["DivergenceWarning"]


class DivergenceWarning(ConvergenceWarning):
    """Gradient descent diverged and the step size had to be reduced.

    A subclass of :class:`~sklearn.exceptions.ConvergenceWarning`, so that
    filters on the latter also cover it.
    """
