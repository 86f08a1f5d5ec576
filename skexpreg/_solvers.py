"""Optimisation loops, independent of the estimator and of the data.

A solver receives ``objective(W) -> (loss, gradient)`` and starting weights
and returns a :class:`SolverResult`; it knows nothing about the data. Every
solver has one signature, ``solve(objective, weights, *, learning_rate,
step_bound, max_iter, tol, initial, callback, progress, verbose)``, and is
registered by name in :data:`SOLVERS`, which also feeds the estimator's
parameter constraints and the command line's choices.

The weights may be numpy arrays or arrays of another array API namespace
(the objective's); gradient descent runs in that namespace, on its device.
L-BFGS runs scipy's implementation on the host: it copies each point to the
device for the objective and the gradient back to the host.
"""

import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy.optimize import minimize

from skexpreg import _array_api

# A step may raise the loss by this relative amount (round-off) and still be
# accepted; a larger rise means the step is beyond 2 / lambda_max and the
# iteration would diverge.
_LOSS_RISE_TOLERANCE = 1e-10
# After this many halvings of the step the solver gives up on the iteration.
_MAX_STEP_REDUCTIONS = 60


@dataclass
class StepReduction:
    """One rejected step: where and why the step was halved."""

    iteration: int
    reason: str


@dataclass
class SolverResult:
    """What a solver returns.

    ``loss_curve[t]`` is the objective after step ``t + 1``, so
    ``len(loss_curve) == n_iter``.
    """

    weights: np.ndarray
    n_iter: int
    loss_curve: list
    learning_rate: float
    converged: bool
    initial_loss: float
    reductions: list = field(default_factory=list)
    stalled: bool = False
    n_evaluations: int = 0  # objective evaluations made by the solver
    interrupted: bool = False  # the caller's callback asked to stop


def gradient_descent(
    objective,
    weights,
    *,
    learning_rate,
    max_iter,
    tol,
    initial=None,
    step_bound=None,
    step_bound_every=40,
    momentum=False,
    callback=None,
    progress=None,
    verbose=0,
):
    """Full-batch gradient descent ``W(t+1) = W(t) - eta * grad L(W(t))``.

    With ``momentum=True``, Nesterov's accelerated gradient with function
    restarts (O'Donoghue and Candes, 2015): the gradient is evaluated at the
    extrapolated point ``Z(k+1) = X(k+1) + (t_k - 1) / t_(k+1) (X(k+1) - X(k))``
    with ``X(k+1) = Z(k) - eta * grad L(Z(k))``, and whenever the loss at the
    new point rises the momentum is dropped (``t = 1``), so that the next
    point is a plain gradient step. The recorded losses (at the evaluation
    points) therefore fall monotonically, as for plain gradient descent; the
    ``tol`` test uses the decrease a plain step would bring,
    ``eta ||grad L||^2 / 2``, instead of the last step's.

    The paper's algorithm, with a safety net: a step whose loss is non-finite,
    or higher than the current loss, is rejected and retried with half the
    step size (each such event is recorded in ``reductions``). It stops when
    the relative decrease of the loss falls below ``tol`` or the loss cannot
    decrease below its round-off level (converged), after
    ``max_iter`` accepted steps, or when the step has been halved
    ``_MAX_STEP_REDUCTIONS`` times in a row (``stalled``).

    Parameters
    ----------
    objective : callable
        ``objective(W)`` returns ``(loss, gradient)``; loss a float, gradient
        an array shaped like ``W``.
    weights : ndarray
        Starting point ``W(0)``; not modified.
    learning_rate : float
        Initial step size ``eta``.
    max_iter : int
        Maximum number of accepted steps.
    tol : float
        Stop when ``L(W(t)) - L(W(t+1)) < tol * L(W(t))``.
    initial : tuple of (float, ndarray), default=None
        ``objective(weights)`` if the caller already has it.
    step_bound : callable, default=None
        ``step_bound(W)`` returns the largest step that is stable at ``W``
        (``1 / curvature``); evaluated every ``step_bound_every`` steps, the
        step becomes ``min(eta, step_bound(W))``. This follows the curvature
        as it grows during training, before an unstable direction has grown
        out of round-off into a visible rise of the loss.
    step_bound_every : int, default=40
    momentum : bool, default=False
        Nesterov acceleration with restarts, as above.
    callback : callable, default=None
        ``callback(W)`` after every accepted step; returning True stops.
    progress : callable, default=None
        ``progress()`` returns text appended to each progress line (the
        estimator's validation score).
    verbose : int, default=0
        0 is silent; 1 prints about ten progress lines (iteration, loss,
        step size, elapsed time); 2 prints every step.
    """
    weights = _array_api.copy(weights)
    loss, gradient = objective(weights) if initial is None else initial
    initial_loss = loss
    # Below this the loss is round-off: residuals carry an absolute error of
    # about eps * |y|, so the computed loss is only known to ~eps**2 * L(0).
    eps = float(np.finfo(_array_api.numpy_dtype(weights.dtype)).eps)
    noise_floor = (64 * eps) ** 2 * initial_loss
    eta = float(learning_rate)
    loss_curve = []
    reductions = []
    consecutive_reductions = 0
    converged = stalled = interrupted = False
    start = time.perf_counter()
    report_every = 1 if verbose > 1 else max(1, max_iter // 10)

    anchor, t = weights, 1.0  # Nesterov's X(k) and t_k
    n_evaluations = 1 if initial is None else 0
    while len(loss_curve) < max_iter:
        if (
            step_bound is not None
            and loss_curve
            and (len(loss_curve) % step_bound_every == 0)
        ):
            eta = min(eta, step_bound(weights))
        stepped = weights - _array_api.scalar(eta, weights) * gradient
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2 if momentum else 1.0
        candidate = stepped
        if t > 1:
            candidate = stepped + _array_api.scalar((t - 1) / t_next, weights) * (
                stepped - anchor
            )
        new_loss, new_gradient = objective(candidate)
        n_evaluations += 1
        reason = _rejection_reason(loss, new_loss, new_gradient)
        if reason is not None and new_loss <= noise_floor:
            converged = True  # the loss is at round-off level: nothing to gain
            break
        if reason is not None and t > 1:
            t = 1.0  # the momentum overshot: restart with a plain step
            continue
        if reason is not None:
            if consecutive_reductions == _MAX_STEP_REDUCTIONS:
                stalled = True
                break
            reductions.append(StepReduction(len(loss_curve) + 1, reason))
            consecutive_reductions += 1
            eta /= 2
            continue
        consecutive_reductions = 0
        decrease = loss - new_loss
        if momentum:
            # The decrease of an extrapolated step says little about how far
            # the minimum is; use what a plain step from here would gain,
            # about eta * ||grad||^2 / 2 for eta <= 1 / curvature.
            decrease = 0.5 * eta * _array_api.inner(new_gradient, new_gradient)
        anchor, t = stepped, t_next
        weights, loss, gradient = candidate, new_loss, new_gradient
        loss_curve.append(loss)
        n_iter = len(loss_curve)
        stop = callback is not None and bool(callback(weights))
        if verbose and (n_iter % report_every == 0 or n_iter == 1 or stop):
            _report(n_iter, loss, start, eta, progress)
        if stop:
            interrupted = True
            break
        if loss == 0 or decrease < tol * (loss + decrease):
            converged = True
            break

    return SolverResult(
        weights=weights,
        n_iter=len(loss_curve),
        loss_curve=loss_curve,
        learning_rate=eta,
        converged=converged,
        initial_loss=initial_loss,
        reductions=reductions,
        stalled=stalled,
        n_evaluations=n_evaluations,
        interrupted=interrupted,
    )


def _rejection_reason(loss, new_loss, new_gradient):
    if not np.isfinite(new_loss) or not _array_api.all_finite(new_gradient):
        return "the loss or its gradient overflowed"
    if new_loss > loss * (1 + _LOSS_RISE_TOLERANCE):
        return "the loss rose"
    return None


# The stochastic solver stops once the best averaged loss of the last
# SGD_PATIENCE epochs is not SGD_TOL (relative) below the best before them.
SGD_PATIENCE = 5
SGD_TOL = 1e-3
# The stochastic solver's step follows the curvature (``step_bound``) every
# this many steps, and at the start of every epoch after the first.
SGD_BOUND_EVERY = 100
# An epoch whose averaged loss is more than this factor above the best so far
# is divergence, not noise: it is undone and the step halved.
_EPOCH_RISE_FACTOR = 2.0


def stochastic_gradient_descent(
    objective,
    weights,
    *,
    learning_rate,
    max_iter,
    tol,
    batches,
    initial=None,
    step_bound=None,
    callback=None,
    progress=None,
    verbose=0,
):
    """Mini-batch gradient descent with Nesterov momentum, in epochs.

    Each epoch draws a random partition of the rows into batches
    (``batches.epoch()``) and takes one step per batch with its gradient
    estimate ``g_B`` (the batch's rows' gradient times n / b, plus the ridge
    term), so that a batch of all rows is a full-batch step. The steps are
    Nesterov's, as in :func:`gradient_descent` with ``momentum=True``, with
    the gradient restart of O'Donoghue and Candes (2015) in place of the
    function restart (the batches' losses are not comparable): the momentum
    is dropped whenever the batch gradient points along the last step.

    The *averaged loss* of an epoch is the mean of its batches' loss estimates,
    each taken where the batch's step starts (every row counts once per epoch);
    ``loss_curve[t]`` is that of epoch ``t + 1``. Every ``SGD_BOUND_EVERY``
    steps of an epoch (from the first step of the second epoch) the step becomes
    ``min(eta, step_bound(W))``, so that it follows the curvature as training
    moves the weights. The solver stops (converged) once the best averaged loss
    of the last ``SGD_PATIENCE`` epochs is not a relative ``max(tol, SGD_TOL)``
    below the best of the epochs before them (``tol=0``: never). It returns the
    average of the last epoch's iterates (Polyak-Ruppert averaging), which
    removes most of the batches' noise. An epoch in which a batch's loss or
    gradient is not finite, or whose averaged loss is more than twice the best
    so far (or the initial loss), diverged: it is undone (the previous epoch's
    averaged weights restored, those of the loss that was best or nearly) and
    the step halved (recorded in ``reductions``).

    Parameters are those of :func:`gradient_descent`, with ``max_iter``
    counting epochs, ``callback(W)`` called after every epoch at the
    epoch's averaged weights, and:

    batches : object
        ``batches.epoch()`` yields one epoch's batch objectives, callables
        ``objective_B(W) -> (loss estimate, gradient estimate)``.
    """
    weights = _array_api.copy(weights)
    initial_loss = (objective(weights) if initial is None else initial)[0]
    n_evaluations = 1 if initial is None else 0
    eta = float(learning_rate)
    tol = max(tol, SGD_TOL) if tol > 0 else 0.0  # tol=0: only max_iter stops
    loss_curve, reductions = [], []
    bests = []  # the best averaged loss up to each epoch
    consecutive_reductions = 0
    converged = stalled = interrupted = False
    start = time.perf_counter()
    report_every = 1 if verbose > 1 else max(1, max_iter // 10)
    averaged = weights
    anchor, t = weights, 1.0  # Nesterov's X(k) and t_k; weights is Z(k)
    while len(loss_curve) < max_iter and not stalled:
        total, count, running = 0.0, 0, None
        reason = None
        for batch_objective in batches.epoch():
            if (
                step_bound is not None
                and (loss_curve or count)
                and (count % SGD_BOUND_EVERY == 0)
            ):
                eta = min(eta, step_bound(weights))
            loss, gradient = batch_objective(weights)
            n_evaluations += 1
            if not np.isfinite(loss) or not _array_api.all_finite(gradient):
                reason = "the loss or its gradient overflowed"
                break
            total, count = total + loss, count + 1
            # Each batch's (d, m) arithmetic with as few passes and new
            # arrays as it takes: on W1 an epoch has 40 of them.
            stepped = gradient * _array_api.scalar(-eta, gradient)
            stepped += weights
            if t > 1:
                direction = stepped - anchor
                if _array_api.inner(gradient, direction) > 0:
                    t = 1.0  # the momentum points uphill: restart
            t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
            weights = stepped
            if t > 1:  # stepped + (t - 1) / t_next * (stepped - anchor)
                direction *= _array_api.scalar((t - 1) / t_next, direction)
                direction += stepped
                weights = direction
            anchor, t = stepped, t_next
            if running is None:
                running = _array_api.copy(stepped)
            else:
                running += stepped
        epoch_loss = total / count if reason is None else np.inf
        if epoch_loss > _EPOCH_RISE_FACTOR * min(bests[-1:] + [initial_loss]):
            reason = reason or "the loss rose"
            reductions.append(StepReduction(len(loss_curve) + 1, reason))
            weights, anchor, t, eta = averaged, averaged, 1.0, eta / 2
            consecutive_reductions += 1
            stalled = consecutive_reductions > _MAX_STEP_REDUCTIONS
            continue
        consecutive_reductions = 0
        averaged = running / _array_api.scalar(count, running)
        loss_curve.append(epoch_loss)
        bests.append(min(bests[-1:] + [epoch_loss]))
        n_iter = len(loss_curve)
        stop = callback is not None and bool(callback(averaged))
        if verbose and (n_iter % report_every == 0 or n_iter == 1 or stop):
            _report(n_iter, epoch_loss, start, eta, progress)
        if stop:
            interrupted = True
            break
        if tol and n_iter > SGD_PATIENCE:
            before = bests[-SGD_PATIENCE - 1]
            if bests[-1] > before * (1 - tol):
                converged = True
                break
    return SolverResult(
        weights=averaged,
        n_iter=len(loss_curve),
        loss_curve=loss_curve,
        learning_rate=eta,
        converged=converged,
        initial_loss=initial_loss,
        reductions=reductions,
        stalled=stalled,
        n_evaluations=n_evaluations,
        interrupted=interrupted,
    )


class _Stop(Exception):
    """Raised by the L-BFGS callback when the caller's callback says stop."""


def lbfgs(
    objective,
    weights,
    *,
    max_iter,
    tol,
    learning_rate=None,
    step_bound=None,
    initial=None,
    callback=None,
    progress=None,
    verbose=0,
):
    """Limited-memory BFGS (:func:`scipy.optimize.minimize`, ``L-BFGS-B``).

    Uses the same blocked loss and gradient as gradient descent; its line
    search chooses the steps, so ``learning_rate`` and ``step_bound`` are
    ignored. ``callback`` is as for :func:`gradient_descent`. Points
    where the network overflows are reported to the line search as a huge
    finite loss, so that it backtracks instead of failing. Stops after
    ``max_iter`` iterations, or when the relative decrease of the loss
    ``(L(k) - L(k+1)) / max(L(k), L(k+1), 1)`` falls below ``tol``.

    scipy works on the host in float64: weights of another namespace are
    copied to their device (in their dtype) for every evaluation, and the
    gradient back; ``callback`` and the result get weights like ``weights``.
    """
    shape, like = weights.shape, weights

    def on_device(flat, copy=True):
        return _array_api.from_numpy_like(flat.reshape(shape), like, copy=copy)

    evaluations = {"count": 0}
    loss_curve = []
    start = time.perf_counter()
    report_every = 1 if verbose > 1 else max(1, max_iter // 10)

    def fun(flat):
        evaluations["count"] += 1
        loss, gradient = objective(on_device(flat, copy=False))
        gradient = _array_api.to_numpy(gradient).astype(np.float64).ravel()
        if not np.isfinite(loss) or not np.isfinite(gradient).all():
            return _OVERFLOW_LOSS, np.zeros_like(gradient)
        evaluations["last"] = (flat.copy(), loss)
        return loss, gradient

    def on_iteration(flat):
        last_flat, last_loss = evaluations["last"]
        loss = last_loss if np.array_equal(last_flat, flat) else fun(flat)[0]
        loss_curve.append(loss)
        evaluations["accepted"] = flat.copy()
        n_iter = len(loss_curve)
        stop = callback is not None and bool(callback(on_device(flat)))
        if verbose and (n_iter % report_every == 0 or n_iter == 1 or stop):
            _report(n_iter, loss, start, None, progress)
        if stop:
            raise _Stop

    initial_loss = objective(weights)[0] if initial is None else initial[0]
    evaluations["accepted"] = _array_api.to_numpy(weights).astype(np.float64).ravel()
    options = dict(
        jac=True,
        method="L-BFGS-B",
        callback=on_iteration,
        options={
            "maxiter": max_iter,
            "maxfun": 4 * max_iter + 20,
            "ftol": tol,
            "gtol": 0.0,
        },
    )
    interrupted = False
    try:
        result = minimize(fun, evaluations["accepted"], **options)
        final, converged = result.x, result.nit < max_iter and result.status == 0
    except _Stop:
        final, converged, interrupted = evaluations["accepted"], False, True
    return SolverResult(
        weights=on_device(final),
        n_iter=len(loss_curve),
        loss_curve=loss_curve,
        learning_rate=None,
        converged=converged,
        initial_loss=initial_loss,
        n_evaluations=evaluations["count"] + (initial is None),
        interrupted=interrupted,
    )


def _report(n_iter, loss, start, learning_rate, progress):
    parts = [f"Iteration {n_iter}", f"loss = {loss:.6g}"]
    if learning_rate is not None:
        parts.append(f"learning rate = {learning_rate:.3g}")
    text = progress() if progress is not None else None
    if text:
        parts.append(text)
    parts.append(f"elapsed = {time.perf_counter() - start:.2f} s")
    print(", ".join(parts))


# What L-BFGS is told when the network overflows: finite, so that its line
# search backtracks, and larger than any loss worth having.
_OVERFLOW_LOSS = 1e300


@dataclass(frozen=True)
class Solver:
    """A registered solver: the loop, and whether it takes a step size."""

    solve: object
    uses_learning_rate: bool
    description: str
    stochastic: bool = False  # takes ``batches``: steps on batches of rows


#: The solvers by name: ``ExponentialRegressor(solver=name)``.
SOLVERS = {
    "gd": Solver(
        partial(gradient_descent, momentum=False),
        True,
        "full-batch gradient descent, the paper's iteration",
    ),
    "nesterov": Solver(
        partial(gradient_descent, momentum=True),
        True,
        "gradient descent with Nesterov momentum and restarts",
    ),
    "lbfgs": Solver(lbfgs, False, "scipy's L-BFGS-B; the step is its line search's"),
    "sgd": Solver(
        stochastic_gradient_descent,
        True,
        "mini-batch gradient descent with Nesterov momentum, in epochs",
        stochastic=True,
    ),
}
