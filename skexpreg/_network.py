"""Pure array functions of the exponential-activation network.

Notation follows Gao, Mahadevan and Song (2023). ``X`` is (n, d); the hidden
weights ``W`` are (d, m) with columns ``w_r``; the output signs ``A`` are
(m, k) with entries ``a_r`` in {-1, +1} (k = 1 for a single target); ``s`` is
the input scale chosen by the estimator (``input_scaling``). The network is

    F(W, x) = (1 / sqrt(m)) * sum_r a_r * exp(<w_r, x / s>)

Folding ``1 / s`` into the small (d, m) weight matrix and ``1 / sqrt(m)`` into
the (m, k) sign matrix means the (n, d) data are never copied or rescaled.
Every pass streams over row blocks of ``X`` (:mod:`skexpreg._blocks`) so that
at most one (block, m) activation matrix per thread exists at any time, and
block results are reduced in block order so that they do not depend on the
number of threads.

Every function is written once against the array API namespace of its
operands: numpy arrays (and scipy sparse ``X``) or arrays of another namespace
(PyTorch, CuPy, ...; all operands in the same namespace and on the same
device). numpy keeps its fast path inside :func:`_activations` (thread-local
workspaces, exponentials in place, the optional vectorised exp); sparse ``X``
(a scipy matrix, or the centred sparse rows of :mod:`skexpreg._sparse`) has
one branch, in the products with ``X``.
"""

import warnings

import numpy as np

from skexpreg import _array_api, _fastexp, _sparse
from skexpreg._blocks import row_blocks, workspace


def _preactivations(X_block, weights, name="Z"):
    """``X_block @ weights`` as a dense array (a thread-local buffer for numpy)."""
    if _sparse.issparse(X_block):
        return _sparse.dot(X_block, weights)
    if not isinstance(weights, np.ndarray):
        return X_block @ weights
    out = workspace(name, X_block.shape[0], weights.shape[1], weights.dtype)
    return np.matmul(X_block, weights, out=out)


def _activations(X_block, weights):
    """``exp(X_block @ weights)``, overflowing to inf without a warning.

    Large float32 and float64 numpy blocks use the vectorised kernels of
    :mod:`skexpreg._fastexp` when numba is installed and they are faster
    here (float32 within one unit in the last place of the correctly rounded
    exp, float64 within one of numpy's); blocks with entries where they do
    not apply are recomputed with numpy. Other namespaces compute a new
    array on their device.
    """
    Z = _preactivations(X_block, weights)
    with np.errstate(over="ignore"):  # also for array-api-strict's numpy
        if not isinstance(Z, np.ndarray):
            return _array_api.namespace(Z)[0].exp(Z)
        done = _fastexp.exp_inplace(Z)
        if done:
            return Z
        if done is not None:  # entries out of the kernel's range: Z is lost
            Z = _preactivations(X_block, weights)
        np.exp(Z, out=Z)
    return Z


def initial_parameters(n_features, n_neurons, n_outputs, random_state, dtype, paired):
    """Draw ``W(0)`` (d, m) with ``N(0, 1)`` entries and signs (m, k) of +-1.

    With ``paired``, neurons ``r`` and ``r + ceil(m / 2)`` share ``w_r(0)``
    and have opposite signs, so the initial network output is zero (up to
    the last neuron when ``m`` is odd). Drawn by numpy whatever the namespace
    of the data, so that a fit on a device starts where the numpy fit starts.
    """
    n_drawn = (n_neurons + 1) // 2 if paired else n_neurons
    weights = random_state.standard_normal((n_features, n_drawn))
    signs = 2 * random_state.randint(2, size=(n_drawn, n_outputs)) - 1
    if paired:
        weights = np.concatenate([weights, weights], axis=1)[:, :n_neurons]
        signs = np.concatenate([signs, -signs], axis=0)[:n_neurons]
    return weights.astype(dtype), signs.astype(dtype)


def effective_parameters(weights, output_signs, input_scale):
    """Fold the input scale and 1/sqrt(m) into the small operands.

    Returns ``(weights / input_scale, output_signs / sqrt(m))`` in the dtype of
    ``weights``; ``output_signs`` is (m, k).
    """
    xp, _ = _array_api.namespace(weights)
    n_neurons = weights.shape[1]
    signs = xp.reshape(xp.astype(output_signs, weights.dtype), (n_neurons, -1))
    scaled_weights = weights / _array_api.scalar(input_scale, weights)
    return scaled_weights, signs / _array_api.scalar(np.sqrt(n_neurons), weights)


def forward(X, weights, output_signs, input_scale, runner):
    """Network outputs ``F(W, x_i)`` for every row, shape (n, k).

    Rows whose outputs overflow are returned as inf or nan; see
    :func:`forward_clipped` for the guarded version used for prediction.
    """
    xp, _ = _array_api.namespace(weights)
    W_eff, signs_eff = effective_parameters(weights, output_signs, input_scale)

    def block_outputs(block):
        E = _activations(X[block, :], W_eff)
        with np.errstate(invalid="ignore"):  # inf - inf: flagged by the caller
            return E @ signs_eff

    outputs = list(runner.map(block_outputs, _blocks_for(X, W_eff)))
    if not outputs:
        return xp.zeros(
            (0, signs_eff.shape[1]), dtype=W_eff.dtype, device=_device(W_eff)
        )
    return xp.concat(outputs, axis=0)


def max_safe_preactivation(n_neurons, dtype, output_scale=1.0):
    """Largest pre-activation for which the network output stays finite.

    With every ``exp(<w_r, x>)`` at most ``exp(z)``, ``|F| <= sqrt(m) exp(z)``;
    the bound keeps ``|F| * output_scale`` a factor ``e**2`` below the largest
    float of ``dtype``.
    """
    log_max = np.log(np.finfo(_array_api.numpy_dtype(dtype)).max)
    return float(log_max - np.log(n_neurons) - np.log(max(1.0, output_scale)) - 2.0)


def forward_clipped(X, weights, output_signs, input_scale, runner, max_z):
    """Network outputs with pre-activations clipped at ``max_z``.

    Rows whose plain outputs are finite are returned unchanged. Rows that
    overflow are recomputed with every pre-activation ``<w_r, x>`` clipped at
    ``max_z``, computing ``<w_r, x>`` as ``c * <w_r, x / c>`` with ``c`` the
    row's largest absolute entry so that it can only overflow to +-inf, never
    become nan.

    Returns
    -------
    outputs : array of shape (n, k)
    clipped : array of bool of shape (n,)
        The rows whose outputs were clipped.
    """
    xp, _ = _array_api.namespace(weights)
    outputs = forward(X, weights, output_signs, input_scale, runner)
    clipped = ~xp.all(xp.isfinite(outputs), axis=1)
    if not _array_api.any_true(clipped):
        return outputs, clipped
    W_eff, signs_eff = effective_parameters(weights, output_signs, input_scale)
    if _sparse.issparse(X):
        rows = X[np.flatnonzero(clipped)]
        row_max = _sparse.largest_entries(rows)
        Z = _sparse.dot(_sparse.scale_rows(rows, 1 / row_max), W_eff)
    else:
        rows = X[clipped]
        row_max = xp.max(xp.abs(rows), axis=1)
        row_max = xp.where(row_max == 0, xp.ones_like(row_max), row_max)
        Z = (rows / row_max[:, None]) @ W_eff
    with np.errstate(over="ignore"):  # array-api-strict computes with numpy
        Z = Z * xp.astype(xp.asarray(row_max), Z.dtype)[:, None]
        Z = xp.exp(xp.minimum(Z, xp.asarray(max_z, dtype=Z.dtype, device=_device(Z))))
    outputs[clipped] = Z @ signs_eff
    return outputs, clipped


def predict(X, weights, output_signs, target_mean, target_scale, input_scale, runner):
    """Predictions on the original target scale, never inf or nan.

    Rows so far outside the training range that ``exp(<w_r, x>)`` would
    overflow get pre-activations clipped at the largest safe value
    (:func:`forward_clipped`), with a warning naming how many rows were
    clipped. The result is 1-D when ``output_signs`` is.
    """
    xp, _ = _array_api.namespace(X)
    max_z = max_safe_preactivation(
        weights.shape[1], X.dtype, output_scale=_array_api.largest(target_scale)
    )
    outputs, clipped = forward_clipped(
        X, _array_api.astype_like(weights, X), output_signs, input_scale, runner, max_z
    )
    n_clipped = _array_api.count_true(clipped)
    if n_clipped:
        warnings.warn(
            f"{n_clipped} of {X.shape[0]} rows are so far outside "
            "the training range that exp(<w_r, x>) overflows "
            f"{_array_api.dtype_name(X.dtype)}; their pre-activations were "
            f"clipped at {max_z:.1f}, so their predictions are only bounds "
            "of the network's (exponentially growing) output.",
            RuntimeWarning,
        )
    outputs *= _array_api.astype_like(target_scale, outputs)
    outputs += _array_api.astype_like(target_mean, outputs)
    if output_signs.ndim == 1:
        return xp.reshape(outputs, (-1,))
    return outputs


def loss_and_gradient(X, y, sample_weight, weights, output_signs, input_scale, runner):
    """Data loss and its gradient with respect to the hidden weights.

    ``L(W) = 1/2 * sum_i s_i * ||F(W, x_i) - y_i||^2`` and
    ``dL/dw_r = (1/sqrt(m)) * sum_i s_i * <F_i - y_i, a_r> exp(<w_r, x_i>) x_i``
    (with inputs ``x_i / input_scale``), accumulated over row blocks.

    Parameters
    ----------
    X : {ndarray, sparse matrix, CentredSparse} of shape (n, d)
    y : ndarray of shape (n, k)
    sample_weight : ndarray of shape (n,)
    weights : ndarray of shape (d, m)
    output_signs : ndarray of shape (m,) or (m, k)
    input_scale : float
    runner : BlockRunner

    Returns
    -------
    loss : float
        In float64; inf or nan when the network overflowed.
    gradient : ndarray of shape (d, m)
        In the dtype of ``weights``.
    """
    xp, _ = _array_api.namespace(weights)
    W_eff, signs_eff = effective_parameters(weights, output_signs, input_scale)
    single_output = signs_eff.shape[1] == 1
    on_host = isinstance(W_eff, np.ndarray)

    def block_loss_and_gradient(block):
        # Overflow is not an error here: the caller checks the loss and
        # gradient for inf and nan and reacts (a smaller step, or a message).
        with np.errstate(over="ignore", invalid="ignore"):
            return _block_loss_and_gradient(block)

    def _block_loss_and_gradient(block):
        X_block = X[block, :]
        E = _activations(X_block, W_eff)
        residual = E @ signs_eff
        residual -= y[block, :]
        weighted = residual * sample_weight[block, None]
        # On a device the block losses stay there until the pass is done:
        # reading each one would wait for the device once per block.
        loss = 0.5 * _array_api.inner(weighted, residual, float64=True, on_host=on_host)
        if single_output:
            # X_b^T (r a^T o E) = (X_b * r)^T E diag(a): the signs a are
            # applied to the (d, m) sum below.
            return loss, _rows_weighted_transpose_dot(X_block, E, weighted[:, 0])
        E *= weighted @ signs_eff.T
        return loss, _transpose_dot(X_block, E)

    # The first block's (d, m) result (a new array in every namespace)
    # becomes the sum: a mini-batch of two blocks would otherwise pay for a
    # zero matrix and an extra pass, on one thread, at every step.
    loss, gradient = 0.0, None
    for block_loss, block_gradient in runner.map(
        block_loss_and_gradient, _blocks_for(X, W_eff)
    ):
        loss += block_loss
        if gradient is None:
            gradient = _array_api.astype_like(block_gradient, W_eff)
        else:
            gradient += block_gradient
    if gradient is None:  # no rows
        gradient = xp.zeros_like(W_eff)
    # The signs and 1 / input_scale in one pass over the (d, m) sum.
    column_scale = 1 / _array_api.scalar(input_scale, W_eff)
    if single_output:
        column_scale = signs_eff[:, 0] * column_scale
    gradient *= column_scale
    return float(loss), gradient


def ntk_features_transpose_dot(X, weights, vector, runner, sample_weight=None):
    """``Phi^T v`` for the NTK feature map ``Phi``, as a (d, m) matrix.

    The empirical NTK is ``H(W) = Phi Phi^T`` with the rows
    ``Phi_i = vec(x_i exp(<w_r, x_i>) / sqrt(m), r = 1..m)``, so that
    ``H(W)_ij = <x_i, x_j> (1/m) sum_r exp(<w_r, x_i> + <w_r, x_j>)``.
    With ``sample_weight`` the rows are scaled by ``sqrt(s_i)``.
    """
    vector = _array_api.astype_like(vector, weights)
    if sample_weight is not None:
        vector = vector * _sqrt_like(sample_weight, weights)
    scale = _array_api.scalar(1 / np.sqrt(weights.shape[1]), weights)

    def block_product(block):
        X_block = X[block, :]
        E = _activations(X_block, weights)
        return _rows_weighted_transpose_dot(X_block, E, vector[block])

    result = _sum_over_blocks(block_product, X, weights, runner)
    result *= scale
    return result


def ntk_features_dot(X, weights, direction, runner, sample_weight=None):
    """``Phi u`` for a (d, m) direction ``u``, as an (n,) vector (see above)."""
    xp, _ = _array_api.namespace(weights)
    direction = _array_api.astype_like(direction, weights)
    scale = _array_api.scalar(1 / np.sqrt(weights.shape[1]), weights)

    def block_product(block):
        X_block = X[block, :]
        E = _activations(X_block, weights)
        E *= _preactivations(X_block, direction, name="ZU")
        return xp.sum(E, axis=1)

    sums = list(runner.map(block_product, _blocks_for(X, weights)))
    if sums:
        result = xp.concat(sums, axis=0)
    else:
        result = xp.zeros((0,), dtype=weights.dtype, device=_device(weights))
    result = _array_api.astype_like(result, weights) * scale
    if sample_weight is not None:
        result *= _sqrt_like(sample_weight, weights)
    return result


def ntk_weight_space_dot(X, weights, direction, runner, sample_weight=None):
    """``Phi^T S Phi u`` in one pass over the rows, as a (d, m) matrix.

    ``Phi^T S Phi`` (dm x dm) has the same nonzero eigenvalues as the
    (weighted) empirical NTK ``S^(1/2) Phi Phi^T S^(1/2)`` (n x n), at the cost
    of one pass over ``X`` per product instead of two.
    """
    xp, _ = _array_api.namespace(weights)
    direction = _array_api.astype_like(direction, weights)
    scale = _array_api.scalar(1 / weights.shape[1], weights)

    def block_product(block):
        X_block = X[block, :]
        E = _activations(X_block, weights)
        projected = _preactivations(X_block, direction, name="ZU")
        projected *= E
        coefficients = xp.sum(projected, axis=1)
        if sample_weight is not None:
            coefficients *= sample_weight[block]
        return _rows_weighted_transpose_dot(X_block, E, coefficients)

    result = _sum_over_blocks(block_product, X, weights, runner)
    result *= scale
    return result


def ntk_diagonal(X, weights, runner, sample_weight=None):
    """``s_i H(W)_ii`` of every row, (n,): the (weighted) diagonal of the
    empirical NTK (see :func:`ntk_largest_diagonal`)."""
    xp, _ = _array_api.namespace(weights)
    parts = list(_diagonal_blocks(X, weights, runner, sample_weight))
    if not parts:
        return xp.zeros(0, dtype=weights.dtype)
    concat = getattr(xp, "concat", None) or np.concatenate  # numpy < 2: no concat
    return concat(parts) / weights.shape[1]


def ntk_largest_diagonal(X, weights, runner, sample_weight=None):
    """``max_i s_i H(W)_ii``, the largest (weighted) diagonal entry of the
    empirical NTK, a float.

    ``H(W)_ii = ||x_i||^2 (1/m) sum_r exp(2 <w_r, x_i>)`` is the curvature
    of one row's loss, which bounds the step of a stochastic solver that
    draws that row alone. 0 for no rows.
    """
    xp, _ = _array_api.namespace(weights)
    largest = max(
        (
            float(xp.max(entries))
            for entries in _diagonal_blocks(X, weights, runner, sample_weight)
            if entries.shape[0]
        ),
        default=0.0,
    )
    return largest / weights.shape[1]


def _diagonal_blocks(X, weights, runner, sample_weight):
    """``m s_i H(W)_ii`` of the rows of each block, in block order."""
    xp, _ = _array_api.namespace(weights)

    def block_entries(block):
        X_block = X[block, :]
        E = _activations(X_block, weights)
        E *= E
        entries = xp.sum(E, axis=1) * _squared_row_norms(X_block)
        if sample_weight is not None:
            entries = entries * _array_api.astype_like(sample_weight[block], entries)
        return entries

    return runner.map(block_entries, _blocks_for(X, weights))


def _squared_row_norms(X_block):
    if _sparse.issparse(X_block):
        return _sparse.row_norms(X_block, squared=True)
    xp, _ = _array_api.namespace(X_block)
    return xp.sum(X_block * X_block, axis=1)


def _blocks_for(X, weights):
    return row_blocks(X.shape[0], weights.shape[1], weights.dtype)


def _rows_weighted_transpose_dot(X_block, E, coefficients):
    """``X_b^T (c o E)`` for row coefficients ``c``, as a (d, m) matrix.

    For dense ``X_b`` the coefficients scale the small (b, d) operand rather
    than the (b, m) activations; sparse ``X_b`` scales ``E`` in place.
    """
    if _sparse.issparse(X_block):
        E *= coefficients[:, None]
        return np.asarray(X_block.T @ E)
    if isinstance(X_block, np.ndarray) and isinstance(E, np.ndarray):
        # A reused buffer: a fresh (b, d) array per block is a mmap and its
        # page faults where glibc's dynamic mmap threshold is off (dask's
        # workers set MALLOC_TRIM_THRESHOLD_, which turns it off).
        dtype = np.result_type(X_block.dtype, coefficients.dtype)
        scaled = workspace("XC", X_block.shape[0], X_block.shape[1], dtype)
        np.multiply(X_block, coefficients[:, None], out=scaled)
        return scaled.T @ E
    return (X_block * coefficients[:, None]).T @ E


def _transpose_dot(X_block, E):
    """``X_b^T E`` as a dense array."""
    product = X_block.T @ E
    return np.asarray(product) if _sparse.issparse(X_block) else product


def _sum_over_blocks(block_product, X, weights, runner):
    """Sum the (d, m) results of ``block_product`` over row blocks, in order."""
    xp, _ = _array_api.namespace(weights)
    result = xp.zeros_like(weights)
    for partial in runner.map(block_product, _blocks_for(X, weights)):
        result += partial
    return result


def _sqrt_like(array, like):
    """``sqrt(array)`` in the namespace and dtype of ``like``."""
    xp, _ = _array_api.namespace(like)
    return xp.sqrt(xp.astype(xp.asarray(array), like.dtype))


def _device(array):
    return _array_api.device_of(array)
