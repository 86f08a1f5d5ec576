"""What the solvers notify after every accepted step.

A solver calls ``callbacks(W)`` with the current weights after each step and
stops when it returns True; ``callbacks.describe()`` adds text to verbose
progress lines. :class:`CallbackList` notifies every callback in order (each
is told of every step, even when an earlier one asks to stop).
:class:`EarlyStopping` needs only a function that scores weights;
:class:`ScikitLearnCallbacks` drives scikit-learn's callback API
(``set_callbacks``, scikit-learn >= 1.9).
"""

import numpy as np

from skexpreg import _array_api

try:  # scikit-learn >= 1.9
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # older versions: no callback API, nothing to support

    class CallbackSupportMixin:
        """Stands in for scikit-learn's callback support where it is absent."""


class CallbackList:
    """Notify each callback in turn; stop if any of them says so."""

    def __init__(self, callbacks):
        self.callbacks = [callback for callback in callbacks if callback is not None]

    def __call__(self, weights):
        stop = False
        for callback in self.callbacks:
            stop |= bool(callback(weights))
        return stop

    def describe(self):
        parts = [
            callback.describe()
            for callback in self.callbacks
            if hasattr(callback, "describe")
        ]
        return ", ".join(parts)

    def close(self):
        for callback in self.callbacks:
            if hasattr(callback, "close"):
                callback.close()


class EarlyStopping:
    """Stop when a validation score has not improved for ``patience`` steps.

    ``score(W)`` scores the weights after every step; a step improves the
    score when it beats the best so far by at least ``tol``. The weights
    with the best score are kept in ``best_weights``.
    """

    def __init__(self, score, *, tol, patience):
        self.score = score
        self.tol, self.patience = tol, patience
        self.scores, self.best_weights = [], None
        self.best, self.without_improvement = -np.inf, 0

    def __call__(self, weights):
        score = self.score(weights)
        self.scores.append(score)
        if score > self.best:
            self.best_weights = _array_api.copy(weights)
        if score < self.best + self.tol:
            self.without_improvement += 1
        else:
            self.without_improvement = 0
        self.best = max(self.best, score)
        return self.without_improvement >= self.patience

    def describe(self):
        return f"validation R2 = {self.scores[-1]:.4f}"


class ScikitLearnCallbacks:
    """scikit-learn's callback API (``set_callbacks``, >= 1.9) around a fit.

    The fit is the root task and every solver step a subtask; the end of a
    step hands the callbacks an estimator reconstructed with that step's
    weights (so ``ScoringMonitor`` can score it on the data passed to
    ``fit``) and a callback may ask to stop. Following scikit-learn's L-BFGS
    bridge, the subtask of the next step is begun when a step ends, and the
    last, never-run one is ended empty by :meth:`close`, after the fitted
    attributes are in place.
    """

    @classmethod
    def start(cls, estimator, max_iter, raw, output_signs):
        """The bridge, or None when no callbacks are set (or no API exists)."""
        if not getattr(estimator, "_skl_callbacks", None):
            return None
        return cls(estimator, max_iter, raw, output_signs)

    def __init__(self, estimator, max_iter, raw, output_signs):
        self.estimator = estimator
        self.X, self.y, sample_weight = raw
        self.metadata = {"sample_weight": sample_weight}
        self.signs = output_signs
        self.root = estimator._init_callback_context(max_subtasks=max_iter + 1)
        self.root.call_on_fit_task_begin(
            estimator=estimator, X=self.X, y=self.y, metadata=self.metadata
        )
        self.step = self._begin()

    def _begin(self):
        context = self.root.subcontext(task_name="iteration")
        context.call_on_fit_task_begin(
            estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata
        )
        return context

    def __call__(self, weights):
        stop = self.step.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes=lambda: {
                "weights_": _array_api.copy(weights),
                "output_signs_": self.signs,
            },
        )
        self.step = self._begin()
        return stop

    def close(self):
        self.step.call_on_fit_task_end(estimator=self.estimator)
        self.root.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes={},
        )
