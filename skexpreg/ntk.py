"""Neural tangent kernels of the exponential-activation network.

For the network ``F(W, x) = (1/sqrt(m)) sum_r a_r exp(<w_r, x>)`` the
empirical neural tangent kernel (NTK) at hidden weights ``W`` is

    H(W)(x, x') = <x, x'> (1/m) sum_r exp(<w_r, x> + <w_r, x'>),

and its infinite-width limit (the expectation over ``w ~ N(0, I_d)``) is

    H*(x, x') = <x, x'> exp(||x + x'||^2 / 2).

Gradient descent in the lazy regime contracts the training residual by about
``1 - eta * lambda_min(H)`` per step and is stable for
``eta < 2 / lambda_max(H)``: the extreme eigenvalues computed here are what
``ExponentialRegressor(learning_rate="auto")`` uses to choose its step.

All functions take the inputs the network sees, after the estimator's input
map: for a fitted estimator, pass ``network_inputs(estimator, X)``
(:func:`ntk_diagnostics` does so itself). Besides arrays and sparse
matrices they take :class:`CentredSparse` rows, what ``network_inputs``
returns for sparse input under ``input_scaling="standard"``.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh
from sklearn import get_config
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from skexpreg import _network, _preprocessing, _rows, _sparse
from skexpreg._blocks import BlockRunner
from skexpreg._sparse import CentredSparse

__all__ = [
    "CentredSparse",
    "NTKDiagnostics",
    "empirical_ntk",
    "ntk_diagnostics",
    "ntk_eigenvalues",
    "ntk_kernel",
    "ntk_operator",
    "network_inputs",
]

# Up to this many rows the kernel matrix is formed and its spectrum computed
# by a dense symmetric eigensolver; above it, by Lanczos iterations on
# kernel-vector products.
_DENSE_MAX_SAMPLES = 1000


def _check_inputs(X, Y):
    X = _check_rows(X)
    if Y is None:
        return X, X
    Y = _check_rows(Y)
    if Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but Y has {Y.shape[1]}; "
            "the kernel needs the same number of features."
        )
    return X, Y


def _check_rows(X):
    if isinstance(X, CentredSparse):
        return X
    return check_array(X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32))


def _chunk_size(n_other, dtype):
    """Rows of a block against ``n_other`` columns within ``working_memory``."""
    working_bytes = get_config()["working_memory"] * 2**20
    row_bytes = max(1, n_other) * np.dtype(dtype).itemsize
    return max(1, int(working_bytes // row_bytes))


def ntk_kernel(X, Y=None):
    """Infinite-width NTK ``H*(x, y) = <x, y> exp(||x + y||^2 / 2)``.

    Parameters
    ----------
    X : {array-like, sparse matrix, CentredSparse} of shape (n_samples_X, n_features)
        Inputs, as the network sees them (the theory assumes
        ``||x||_2 <= 1``).
    Y : {array-like, sparse matrix, CentredSparse} of shape (n_samples_Y, n_features), \
            default=None
        Second set of inputs; ``None`` means ``Y = X``.

    Returns
    -------
    kernel : ndarray of shape (n_samples_X, n_samples_Y)
        Computed as ``sign(<x, y>) exp(log|<x, y>| + ||x + y||^2 / 2)`` so that
        no intermediate overflows unless the entry itself does, in row blocks
        that keep temporaries within scikit-learn's ``working_memory``.

    Examples
    --------
    >>> import numpy as np
    >>> from skexpreg.ntk import ntk_kernel
    >>> x = np.array([[0.6, 0.0], [0.0, 0.8]])
    >>> np.round(ntk_kernel(x), 4)
    array([[0.7396, 0.    ],
           [0.    , 2.3018]])
    """
    X, Y = _check_inputs(X, Y)
    dtype = np.result_type(X.dtype, Y.dtype)
    norms_X = _sparse.row_norms(X, squared=True)
    norms_Y = _sparse.row_norms(Y, squared=True)
    kernel = np.empty((X.shape[0], Y.shape[0]), dtype=dtype)
    step = _chunk_size(Y.shape[0], dtype)
    for start in range(0, X.shape[0], step):
        rows = slice(start, start + step)
        inner = _sparse.gram(X[rows], Y)
        half_sq = norms_X[rows, None] + norms_Y[None, :] + 2 * inner
        np.maximum(half_sq, 0, out=half_sq)  # ||x + y||^2 >= 0 despite round-off
        half_sq *= 0.5
        with np.errstate(divide="ignore", over="ignore"):
            half_sq += np.log(np.abs(inner))
            np.exp(half_sq, out=half_sq)
        kernel[rows] = np.sign(inner) * half_sq
    return kernel


def empirical_ntk(X, weights, Y=None):
    """Empirical NTK ``H(W)(x, y) = <x, y> (1/m) sum_r exp(<w_r, x> + <w_r, y>)``.

    Parameters
    ----------
    X : {array-like, sparse matrix, CentredSparse} of shape (n_samples_X, n_features)
        Inputs, as the network sees them.
    weights : array-like of shape (n_features, n_neurons)
        Hidden weights ``W`` (as ``ExponentialRegressor.weights_``).
    Y : {array-like, sparse matrix, CentredSparse} of shape (n_samples_Y, n_features), \
            default=None
        Second set of inputs; ``None`` means ``Y = X``.

    Returns
    -------
    kernel : ndarray of shape (n_samples_X, n_samples_Y)
        Accumulated over blocks of neurons and rows, so that no activation
        matrix larger than scikit-learn's ``working_memory`` is formed.

    Examples
    --------
    >>> import numpy as np
    >>> from skexpreg.ntk import empirical_ntk
    >>> x = np.array([[0.6, 0.0], [0.0, 0.8]])
    >>> empirical_ntk(x, np.zeros((2, 3)))  # exp(0) = 1: the linear kernel
    array([[0.36, 0.  ],
           [0.  , 0.64]])
    """
    X, Y = _check_inputs(X, Y)
    weights = _check_weights(weights, X)
    dtype = weights.dtype
    n_neurons = weights.shape[1]
    kernel = np.zeros((X.shape[0], Y.shape[0]), dtype=dtype)
    neuron_step = _chunk_size(Y.shape[0], dtype)
    for first in range(0, n_neurons, neuron_step):
        neurons = weights[:, first : first + neuron_step]
        with np.errstate(over="ignore"):
            E_Y = np.exp(_sparse.dot(Y, neurons))
        row_step = _chunk_size(neurons.shape[1], dtype)
        for start in range(0, X.shape[0], row_step):
            rows = slice(start, start + row_step)
            with np.errstate(over="ignore"):
                E_X = np.exp(_sparse.dot(X[rows], neurons))
            kernel[rows] += E_X @ E_Y.T
    kernel *= _sparse.gram(X, Y)
    kernel /= n_neurons
    return kernel


def _check_weights(weights, X):
    weights = check_array(weights, dtype=(np.float64, np.float32))
    if weights.shape[0] != X.shape[1]:
        raise ValueError(
            f"weights has {weights.shape[0]} rows but X has {X.shape[1]} features; "
            "weights must be (n_features, n_neurons)."
        )
    return weights.astype(np.result_type(weights.dtype, X.dtype), copy=False)


def ntk_operator(X, weights=None, *, sample_weight=None):
    """The (weighted) NTK as a :class:`~scipy.sparse.linalg.LinearOperator`.

    Kernel-vector products are computed without forming the kernel matrix:
    for the empirical kernel through the feature map ``Phi`` with
    ``H(W) = Phi Phi^T`` (two passes over ``X``, memory O(block x m)); for the
    infinite-width kernel (``weights=None``) block row by block row (memory
    O(block x n)).

    Parameters
    ----------
    X : {array-like, sparse matrix, CentredSparse} of shape (n_samples, n_features)
        Inputs, as the network sees them.
    weights : array-like of shape (n_features, n_neurons), default=None
        Hidden weights for the empirical kernel ``H(W)``; ``None`` for the
        infinite-width kernel ``H*``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights ``s``; the operator is then
        ``S^(1/2) H S^(1/2)``, whose spectrum governs gradient descent on the
        weighted loss.

    Returns
    -------
    operator : LinearOperator of shape (n_samples, n_samples)
        Symmetric positive semi-definite, dtype float64.
    """
    X, _ = _check_inputs(X, None)
    root_weight = _root_sample_weight(sample_weight, X)
    n_samples = X.shape[0]

    if weights is None:
        step = _chunk_size(n_samples, X.dtype)

        def matvec(v):
            v = np.ravel(v) * root_weight
            out = np.empty(n_samples)
            for start in range(0, n_samples, step):
                rows = slice(start, start + step)
                out[rows] = ntk_kernel(X[rows], X) @ v
            return out * root_weight

    else:
        weights = _check_weights(weights, X)

        def matvec(v):
            v = np.ravel(v) * root_weight
            with BlockRunner() as runner:
                U = _network.ntk_features_transpose_dot(X, weights, v, runner)
                out = _network.ntk_features_dot(X, weights, U, runner)
            return out.astype(np.float64) * root_weight

    return LinearOperator(
        (n_samples, n_samples), matvec=matvec, rmatvec=matvec, dtype=np.float64
    )


def _root_sample_weight(sample_weight, X):
    if sample_weight is None:
        return np.ones(X.shape[0])
    sample_weight = check_array(sample_weight, ensure_2d=False, dtype=np.float64)
    if sample_weight.shape != (X.shape[0],):
        raise ValueError(
            f"sample_weight has shape {sample_weight.shape}, expected ({X.shape[0]},)."
        )
    if (sample_weight < 0).any():
        raise ValueError("sample_weight must be non-negative.")
    return np.sqrt(sample_weight)


def ntk_eigenvalues(
    X,
    weights=None,
    *,
    sample_weight=None,
    method="auto",
    tol=1e-6,
    max_iter=None,
    random_state=None,
):
    """Smallest and largest eigenvalue of the NTK on ``X``.

    Parameters
    ----------
    X : {array-like, sparse matrix, CentredSparse} of shape (n_samples, n_features)
        Inputs, as the network sees them.
    weights : array-like of shape (n_features, n_neurons), default=None
        Hidden weights for the empirical kernel ``H(W)``; ``None`` for the
        infinite-width kernel ``H*``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights ``s``: the spectrum of ``S^(1/2) H S^(1/2)``.
    method : {"auto", "dense", "iterative"}, default="auto"
        ``"dense"`` forms the kernel matrix and uses a symmetric dense
        eigensolver (exact; O(n^2) memory). ``"iterative"`` runs Lanczos
        (:func:`scipy.sparse.linalg.eigsh`) on :func:`ntk_operator`, never
        forming the matrix. ``"auto"`` is dense up to 1000 samples.
    tol : float, default=1e-6
        Relative accuracy of the iterative eigenvalues: ``lambda_max`` to
        about ``tol * lambda_max``, and ``lambda_min``, computed as
        ``lambda_max - lambda_max(lambda_max I - H)``, to an absolute
        ``tol * lambda_max`` (it is over-estimated, never under-estimated,
        up to round-off).
    max_iter : int, default=None
        Lanczos iteration cap (ARPACK's default when None). The smallest
        eigenvalue of a kernel matrix is usually clustered with others near
        zero, so it needs many more iterations than the largest.
    random_state : int, RandomState instance or None, default=None
        Seeds the Lanczos start vector.

    Returns
    -------
    lambda_min, lambda_max : float

    Warns
    -----
    UserWarning
        When the iterative ``lambda_min`` is below its accuracy
        ``tol * lambda_max``: the kernel is then singular to that accuracy
        and the value only bounds ``lambda_min`` from above (a rank-deficient
        kernel, ``n_features * n_neurons < n_samples``, gives a small
        positive number here, not 0).
    ~sklearn.exceptions.ConvergenceWarning
        When Lanczos does not converge at ``tol`` (as happens for tight
        tolerances, around 1e-7 and below, on kernels whose small
        eigenvalues cluster near 0). Up to 4000 samples the kernel matrix
        is then formed and the dense eigensolver answers exactly; on larger
        kernels the tolerance is loosened (1e-6, 1e-4, 1e-2) until Lanczos
        converges, and the warning names the accuracy reached.

    Examples
    --------
    >>> import numpy as np
    >>> from skexpreg.ntk import ntk_eigenvalues
    >>> x = np.array([[0.6, 0.0], [0.0, 0.8]])
    >>> [round(v, 4) for v in ntk_eigenvalues(x)]
    [0.7396, 2.3018]
    """
    X, _ = _check_inputs(X, None)
    if method not in ("auto", "dense", "iterative"):
        raise ValueError(
            f"method must be 'auto', 'dense' or 'iterative', got {method!r}."
        )
    if max_iter is not None and (not isinstance(max_iter, Integral) or max_iter < 1):
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}.")
    n_samples = X.shape[0]
    if method == "dense" or (method == "auto" and n_samples <= _DENSE_MAX_SAMPLES):
        kernel = _weighted_kernel_matrix(X, weights, sample_weight)
        eigenvalues = linalg.eigvalsh(kernel)
        return float(eigenvalues[0]), float(eigenvalues[-1])
    operator = ntk_operator(X, weights, sample_weight=sample_weight)
    v0 = check_random_state(random_state).uniform(-1, 1, size=n_samples)
    options = dict(k=1, which="LA", tol=tol, maxiter=max_iter, v0=v0)
    try:
        lambda_max, reached_max = _top_eigenvalue(operator, options)
        # lambda_min(H) = lambda_max - lambda_max(lambda_max I - H). Asking
        # ARPACK for the smallest eigenvalue directly fails when H is singular
        # to round-off (lambda_min ~ 0 has no relative accuracy to converge
        # to); the shifted problem has an absolute accuracy of tol * lambda_max.
        shifted = LinearOperator(
            operator.shape,
            matvec=lambda v: lambda_max * np.ravel(v) - operator.matvec(v),
            dtype=np.float64,
        )
        top_shifted, reached_min = _top_eigenvalue(shifted, options)
    except _LanczosFailed as failure:
        _warn_dense_fallback(failure.tol, n_samples)
        kernel = _weighted_kernel_matrix(X, weights, sample_weight)
        eigenvalues = linalg.eigvalsh(kernel)
        return float(eigenvalues[0]), float(eigenvalues[-1])
    lambda_min = lambda_max - top_shifted
    # Ritz values lie inside the spectrum, so lambda_min is over-estimated by
    # at most about the residual bound, reached * lambda_max: a smaller value
    # is not distinguishable from 0 (a singular kernel).
    accuracy = max(reached_max, reached_min, np.finfo(np.float64).eps) * lambda_max
    if lambda_max > 0 and lambda_min <= accuracy:
        warnings.warn(
            f"lambda_min = {lambda_min:.3g} is below the iterative solver's "
            f"accuracy, about tol * lambda_max = {accuracy:.3g}: the kernel is "
            f"singular to that accuracy (0 <= lambda_min <= {max(lambda_min, 0):.3g}"
            "). Use method='dense' for its value.",
            UserWarning,
            stacklevel=2,
        )
    return float(lambda_min), float(lambda_max)


# When Lanczos does not converge, kernels of up to this many rows (128 MiB in
# float64) are formed and solved densely instead; larger ones get ARPACK's
# answer at a looser tolerance.
_DENSE_FALLBACK_MAX_SAMPLES = 4000
# The tolerances tried, in this order, after the one asked for has failed on
# a kernel too large for the dense fallback.
_LOOSER_TOLERANCES = (1e-6, 1e-4, 1e-2)


class _LanczosFailed(Exception):
    """ARPACK did not converge at ``tol`` on a kernel small enough for the
    dense solver, which the caller uses instead."""

    def __init__(self, tol):
        super().__init__(tol)
        self.tol = tol


def _warn_dense_fallback(tol, n_samples):
    warnings.warn(
        f"Lanczos (ARPACK) did not converge to tol={tol:g} on the {n_samples}-row "
        "kernel; its eigenvalues were computed by the dense eigensolver instead.",
        ConvergenceWarning,
        stacklevel=3,
    )


def _top_eigenvalue(operator, options):
    """Largest eigenvalue by Lanczos, and the tolerance it converged to.

    When ARPACK does not converge at ``options["tol"]`` (the top eigenvalue
    of a shifted kernel sits in the cluster of its near-zero eigenvalues,
    where a residual of ``tol * lambda_max`` may be out of reach), a kernel of
    up to ``_DENSE_FALLBACK_MAX_SAMPLES`` rows raises :class:`_LanczosFailed`
    for the caller to solve it densely; a larger one is retried at the looser
    tolerances of ``_LOOSER_TOLERANCES`` with a warning naming the one
    reached, and if none converges the Rayleigh quotient of the start
    vector (a lower bound) is returned with a warning.
    """
    tol = options["tol"]
    try:
        return _eigenvalue(operator, options), tol
    except ArpackNoConvergence as error:
        if len(error.eigenvalues):
            return _best(error.eigenvalues, options), tol
    if operator.shape[0] <= _DENSE_FALLBACK_MAX_SAMPLES:
        raise _LanczosFailed(tol)
    for looser in _LOOSER_TOLERANCES:
        if looser <= tol:
            continue
        try:
            value = _eigenvalue(operator, dict(options, tol=looser))
        except ArpackNoConvergence as error:
            if not len(error.eigenvalues):
                continue
            value = _best(error.eigenvalues, options)
        warnings.warn(
            f"Lanczos (ARPACK) did not converge to tol={tol:g}; it converged "
            f"only to tol={looser:.1e}, whose accuracy the eigenvalue has.",
            ConvergenceWarning,
            stacklevel=3,
        )
        return value, looser
    v0 = np.ravel(options["v0"])
    value = float(v0 @ operator.matvec(v0) / (v0 @ v0))
    warnings.warn(
        "Lanczos (ARPACK) did not converge at any tolerance up to "
        f"{_LOOSER_TOLERANCES[-1]:g}; returned the start vector's Rayleigh "
        "quotient, a lower bound on the largest eigenvalue.",
        ConvergenceWarning,
        stacklevel=3,
    )
    return value, 1.0


def _best(eigenvalues, options):
    """The converged eigenvalue ``options["which"]`` asks for."""
    if options["which"] == "LM":
        return float(max(eigenvalues, key=abs))
    return float(np.max(eigenvalues))


def _eigenvalue(operator, options):
    """``eigsh``'s one eigenvalue; 0 for the zero operator (every row the
    network sees is 0), on which ARPACK fails to start."""
    try:
        return float(eigsh(operator, return_eigenvectors=False, **options)[0])
    except ArpackError:
        if np.any(operator.matvec(options["v0"])):
            raise
        return 0.0


def _weighted_kernel_matrix(X, weights, sample_weight):
    if weights is None:
        kernel = ntk_kernel(X)
    else:
        kernel = empirical_ntk(X, weights)
    root_weight = _root_sample_weight(sample_weight, X)
    return kernel.astype(np.float64) * np.outer(root_weight, root_weight)


@dataclass(frozen=True)
class NTKDiagnostics:
    """How a fitted :class:`~skexpreg.ExponentialRegressor` relates to the theory.

    Every kernel quantity is computed on the inputs the network saw (after
    ``input_scaling``), for the sample-weighted kernel ``S^(1/2) H S^(1/2)``.

    Attributes
    ----------
    lambda_min_initial, lambda_max_initial : float
        Extreme eigenvalues of the empirical NTK at ``W(0)``.
    lambda_min_final, lambda_max_final : float
        Extreme eigenvalues of the empirical NTK at ``W(T)``.
    kernel_drift : float
        ``||H(W(T)) - H(W(0))||_2 / ||H(W(0))||_2`` (spectral norms): small in
        the lazy regime; 0 where the kernel is zero (every row the network
        sees is 0, so that the kernel is zero for any weights).
    max_weight_movement : float
        ``max_r ||w_r(T) - w_r(0)||_2``: shrinks as ``n_neurons`` grows in the
        lazy regime.
    learning_rate : float or None
        The final step size ``eta`` (None for ``solver="lbfgs"``).
    n_iter : int
        Number of steps ``T``.
    observed_residual_contraction : float
        ``(L(W(T)) / L(W(0)))^(1 / (2 T))``: the average factor by which the
        training residual norm shrank per step (the loss is its square).
    predicted_residual_contraction : float or None
        ``1 - eta * (lambda_min_initial + alpha)``: the worst-case per-step
        contraction of the residual predicted by the lazy-regime analysis.
        The observed average is usually smaller (faster), because most of the
        residual lies along larger eigenvalues; it should not be larger.
    """

    lambda_min_initial: float
    lambda_max_initial: float
    lambda_min_final: float
    lambda_max_final: float
    kernel_drift: float
    max_weight_movement: float
    learning_rate: float | None
    n_iter: int
    observed_residual_contraction: float
    predicted_residual_contraction: float | None

    def __repr__(self):
        def fmt(value):
            return "n/a" if value is None else f"{value:.6g}"

        rows = [
            ("lambda_min(H(W(0)))", self.lambda_min_initial),
            ("lambda_max(H(W(0)))", self.lambda_max_initial),
            ("lambda_min(H(W(T)))", self.lambda_min_final),
            ("lambda_max(H(W(T)))", self.lambda_max_final),
            ("kernel drift ||H(T)-H(0)||/||H(0)||", self.kernel_drift),
            ("max_r ||w_r(T) - w_r(0)||", self.max_weight_movement),
            ("learning rate eta", self.learning_rate),
            ("steps T", self.n_iter),
            ("observed residual contraction/step", self.observed_residual_contraction),
            ("predicted 1 - eta*lambda_min", self.predicted_residual_contraction),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"  {name:<{width}}  {fmt(value)}" for name, value in rows]
        return "NTKDiagnostics(\n" + "\n".join(lines) + "\n)"


def ntk_diagnostics(
    estimator,
    X,
    sample_weight=None,
    *,
    method="auto",
    tol=1e-6,
    max_iter=None,
    random_state=None,
):
    """Kernel spectra, kernel drift and weight movement of a fitted estimator.

    Parameters
    ----------
    estimator : ExponentialRegressor
        A fitted estimator.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training inputs (raw: the estimator's input scaling is applied).
    sample_weight : array-like of shape (n_samples,), default=None
        The training sample weights.
    method, tol, max_iter, random_state
        As in :func:`ntk_eigenvalues`; ``"dense"`` (the default up to 1000
        samples) forms the two kernel matrices.

    Returns
    -------
    diagnostics : NTKDiagnostics
    """
    X_seen = network_inputs(estimator, X)
    initial, final = estimator.initial_weights_, estimator.weights_
    options = dict(
        sample_weight=sample_weight,
        method=method,
        tol=tol,
        max_iter=max_iter,
        random_state=random_state,
    )
    lambda_min_0, lambda_max_0 = ntk_eigenvalues(X_seen, initial, **options)
    lambda_min_t, lambda_max_t = ntk_eigenvalues(X_seen, final, **options)
    drift = _relative_kernel_drift(X_seen, initial, final, **options)
    movement = float(np.sqrt(((final - initial) ** 2).sum(axis=0)).max())
    n_iter = estimator.n_iter_
    final_loss = estimator.loss_curve_[-1] if n_iter else estimator.initial_loss_
    ratio = final_loss / estimator.initial_loss_ if estimator.initial_loss_ else 0.0
    observed = float(ratio ** (1 / (2 * n_iter))) if n_iter else 1.0
    eta = estimator.learning_rate_
    predicted = None if eta is None else 1 - eta * (lambda_min_0 + estimator.alpha_)
    return NTKDiagnostics(
        lambda_min_initial=lambda_min_0,
        lambda_max_initial=lambda_max_0,
        lambda_min_final=lambda_min_t,
        lambda_max_final=lambda_max_t,
        kernel_drift=drift,
        max_weight_movement=movement,
        learning_rate=eta,
        n_iter=n_iter,
        observed_residual_contraction=observed,
        predicted_residual_contraction=predicted,
    )


def network_inputs(estimator, X):
    """The rows ``X`` as a fitted estimator's network sees them.

    The estimator's input map applied to ``X``: each feature clipped to
    ``[input_lower_, input_upper_]``, then ``(X - input_offset_) /
    input_scale_``, then rows shrunk onto the ball of radius
    ``input_radius_``; what the kernels of this module take for that
    estimator.

    Parameters
    ----------
    estimator : ExponentialRegressor
        A fitted estimator.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Raw inputs, as passed to ``fit`` or ``predict``.

    Returns
    -------
    X_seen : {ndarray, sparse matrix, CentredSparse} of shape \
            (n_samples, n_features)
        In the dtype of the fitted weights (float64 if ``X`` is float64).
        Dense for dense ``X``. Sparse ``X`` stays sparse: a CSR matrix where
        the map sends zeros to zero (``input_scaling`` other than
        ``"standard"``), otherwise :class:`CentredSparse` rows, the same rows
        as for the dense copy of ``X`` but in O(nnz) memory (their
        ``toarray()`` is the dense array).
    """
    check_is_fitted(estimator)
    rows = _rows.predict_rows(estimator, X, estimator.weights_)
    seen = _preprocessing.map_inputs(rows, estimator._input_map())
    return seen.X


def _relative_kernel_drift(
    X, initial, final, *, sample_weight, method, tol, max_iter, random_state
):
    """``||H(final) - H(initial)||_2 / ||H(initial)||_2`` for the weighted kernel."""
    n_samples = X.shape[0]
    if method == "dense" or (method == "auto" and n_samples <= _DENSE_MAX_SAMPLES):
        kernel_0 = _weighted_kernel_matrix(X, initial, sample_weight)
        kernel_t = _weighted_kernel_matrix(X, final, sample_weight)
        return _ratio(
            np.abs(linalg.eigvalsh(kernel_t - kernel_0)).max(),
            np.abs(linalg.eigvalsh(kernel_0)).max(),
        )
    before = ntk_operator(X, initial, sample_weight=sample_weight)
    after = ntk_operator(X, final, sample_weight=sample_weight)
    difference = LinearOperator(
        (n_samples, n_samples),
        matvec=lambda v: after.matvec(v) - before.matvec(v),
        dtype=np.float64,
    )
    v0 = check_random_state(random_state).uniform(-1, 1, size=n_samples)
    options = dict(k=1, tol=tol, maxiter=max_iter, v0=v0)
    try:
        numerator, _ = _top_eigenvalue(difference, dict(options, which="LM"))
        denominator, _ = _top_eigenvalue(before, dict(options, which="LA"))
    except _LanczosFailed as failure:
        _warn_dense_fallback(failure.tol, n_samples)
        return _relative_kernel_drift(
            X,
            initial,
            final,
            sample_weight=sample_weight,
            method="dense",
            tol=tol,
            max_iter=max_iter,
            random_state=random_state,
        )
    return _ratio(abs(numerator), denominator)


def _ratio(drift, size):
    # A zero kernel (every row the network sees is 0) stays zero whatever
    # the weights: it has not drifted.
    return float(drift / size) if size > 0 else 0.0
