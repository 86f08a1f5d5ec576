"""Pure array functions of the exponential-activation network.

Notation follows Gao, Mahadevan and Song (2023). ``X`` is (n, d); the hidden
weights ``W`` are (d, m) with columns ``w_r``; the output signs ``A`` are
(m, k) with entries ``a_r`` in {-1, +1} (k = 1 for a single target); ``s`` is
the input scale chosen by the estimator (``input_scaling``). The network is

    F(W, x) = (1 / sqrt(m)) * sum_r a_r * exp(<w_r, x / s>)

Folding ``1 / s`` into the small (d, m) weight matrix and ``1 / sqrt(m)`` into
the (m, k) sign matrix means the (n, d) data are never copied or rescaled.
Every pass streams over row blocks of ``X`` so that at most one (block, m)
activation matrix per thread exists at any time, and block results are
reduced in block order so that they do not depend on the number of threads.

The functions take numpy arrays (and scipy sparse ``X``) or arrays of another
array API namespace (PyTorch, CuPy, ...; all operands in the same namespace
and on the same device). The namespace is read from ``weights``. numpy keeps
its fast path: thread-local workspaces and exponentials computed in place;
other namespaces compute ``exp(X_block @ W)`` into a new array on their
device, block by block, with the same blocking.
"""

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import numpy as np
from scipy import sparse
from sklearn import get_config
from threadpoolctl import ThreadpoolController

from skexpreg import _array_api, _fastexp

# Upper bound on the (block, m) activation matrix of one thread. Blocks that
# fit in the cache keep exp and the two products from streaming through main
# memory; scikit-learn's ``working_memory`` can only make blocks smaller.
_MAX_BLOCK_BYTES = 4 * 2**20


def row_blocks(n_samples, n_neurons, dtype):
    """Split ``range(n_samples)`` into row blocks.

    A block holds at most ``working_memory`` (scikit-learn's configuration, in
    MiB) and at most 4 MiB of (block, n_neurons) activations; the block size
    depends only on these and on the shapes, never on the number of threads.

    Returns
    -------
    blocks : list of slice
    """
    row_bytes = max(1, n_neurons * _array_api.numpy_dtype(dtype).itemsize)
    working_bytes = get_config()["working_memory"] * 2**20
    block_rows = int(min(working_bytes, _MAX_BLOCK_BYTES) // row_bytes)
    block_rows = max(1, min(block_rows, n_samples))
    return [
        slice(start, min(start + block_rows, n_samples))
        for start in range(0, n_samples, block_rows)
    ]


class BlockRunner:
    """Apply a function to row blocks, serially or on threads, in block order.

    With ``n_threads > 1`` the blocks are computed by a thread pool (numpy's
    ufuncs and BLAS release the GIL). BLAS is limited to one thread inside
    the context either way: the products of one cache-sized block are too
    small for BLAS threads to pay (with another process busy on a core, a
    multi-threaded 20 x 10 by 10 x 4000 product was measured 75 times slower
    than a single-threaded one), and the cores are used by ``n_threads``.
    Results are always yielded in block order and at most ``2 * n_threads``
    blocks are in flight. Use as a context manager.

    ``limit_blas=False`` leaves the BLAS threads alone: for namespaces other
    than numpy, whose products are parallel by themselves (a GPU, or
    PyTorch's own CPU threads) and run with ``n_threads=1``.
    """

    def __init__(self, n_threads=1, limit_blas=True):
        self.n_threads = max(1, int(n_threads))
        self.limit_blas = limit_blas
        self._executor = None
        self._limits = None

    def __enter__(self):
        if self.limit_blas:
            self._limits = _blas_controller().limit(limits=1, user_api="blas")
        if self.n_threads > 1:
            self._executor = ThreadPoolExecutor(max_workers=self.n_threads)
        return self

    def __exit__(self, *exc_info):
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None

    def map(self, func, blocks):
        """Yield ``func(block)`` for each block, in order."""
        if self._executor is None:
            for block in blocks:
                yield func(block)
            return
        blocks = iter(blocks)
        window = 2 * self.n_threads
        pending = deque(
            self._executor.submit(func, block) for block in islice(blocks, window)
        )
        while pending:
            result = pending.popleft().result()
            for block in islice(blocks, 1):
                pending.append(self._executor.submit(func, block))
            yield result


_controller = []


def _blas_controller():
    """One shared ThreadpoolController: finding the BLAS libraries costs ms."""
    if not _controller:
        _controller.append(ThreadpoolController())
    return _controller[0]


_workspaces = threading.local()


def _workspace(name, n_rows, n_cols, dtype):
    """A reusable (n_rows, n_cols) buffer private to the calling thread."""
    size = n_rows * n_cols
    buffer = getattr(_workspaces, name, None)
    if buffer is None or buffer.dtype != dtype or buffer.size < size:
        buffer = np.empty(size, dtype=dtype)
        setattr(_workspaces, name, buffer)
    return buffer[:size].reshape(n_rows, n_cols)


def _preactivations(X_block, weights, name="Z"):
    """``X_block @ weights`` as a dense array (a thread-local buffer if dense)."""
    if sparse.issparse(X_block):
        return np.asarray(X_block @ weights)
    if not isinstance(weights, np.ndarray):
        return X_block @ weights
    out = _workspace(name, X_block.shape[0], weights.shape[1], weights.dtype)
    return np.matmul(X_block, weights, out=out)


def _activations(X_block, weights):
    """``exp(X_block @ weights)``, overflowing to inf without a warning.

    Large float64 blocks use the vectorised kernel of
    :mod:`skexpreg._fastexp` when numba is installed (within one unit in the
    last place of numpy's); blocks with entries where it does not apply are
    recomputed with numpy.
    """
    Z = _preactivations(X_block, weights)
    with np.errstate(over="ignore"):  # also for array-api-strict's numpy
        if not isinstance(Z, np.ndarray):
            return _array_api.namespace_of(Z).exp(Z)
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
    the last neuron when ``m`` is odd).
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
    n_neurons = weights.shape[1]
    if not isinstance(weights, np.ndarray):
        xp = _array_api.namespace_of(weights)
        scaled_signs = xp.reshape(
            xp.astype(output_signs, weights.dtype), (n_neurons, -1)
        )
        return weights / float(input_scale), scaled_signs / float(np.sqrt(n_neurons))
    dtype = weights.dtype
    scaled_weights = weights / dtype.type(input_scale)
    scaled_signs = np.asarray(output_signs, dtype=dtype).reshape(n_neurons, -1)
    scaled_signs = scaled_signs / dtype.type(np.sqrt(n_neurons))
    return scaled_weights, scaled_signs


def forward(X, weights, output_signs, input_scale, runner):
    """Network outputs ``F(W, x_i)`` for every row, shape (n, k).

    Rows whose outputs overflow are returned as inf or nan; see
    :func:`forward_clipped` for the guarded version used for prediction.
    """
    W_eff, signs_eff = effective_parameters(weights, output_signs, input_scale)

    def block_outputs(block):
        E = _activations(X[block, :], W_eff)
        with np.errstate(invalid="ignore"):  # inf - inf: flagged by the caller
            return E @ signs_eff

    blocks = _blocks_for(X, W_eff)
    outputs = list(runner.map(block_outputs, blocks))
    if not outputs:
        return _zeros((0, signs_eff.shape[1]), W_eff)
    return _concat(outputs, W_eff)


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
    outputs : ndarray of shape (n, k)
    clipped : ndarray of bool of shape (n,)
        The rows whose outputs were clipped.
    """
    outputs = forward(X, weights, output_signs, input_scale, runner)
    if not isinstance(outputs, np.ndarray):
        return _forward_clipped_xp(
            X, outputs, weights, output_signs, input_scale, max_z
        )
    clipped = ~np.isfinite(outputs).all(axis=1)
    if not clipped.any():
        return outputs, clipped
    W_eff, signs_eff = effective_parameters(weights, output_signs, input_scale)
    rows = X[np.flatnonzero(clipped)]
    if sparse.issparse(rows):
        row_max = np.asarray(abs(rows).max(axis=1).todense()).ravel()
        row_max[row_max == 0] = 1
        Z = np.asarray(sparse.diags(1 / row_max) @ rows @ W_eff)
    else:
        row_max = np.abs(rows).max(axis=1)
        row_max[row_max == 0] = 1
        Z = (rows / row_max[:, None]) @ W_eff
    with np.errstate(over="ignore"):
        Z *= row_max[:, None].astype(Z.dtype)
    np.minimum(Z, Z.dtype.type(max_z), out=Z)
    np.exp(Z, out=Z)
    outputs[clipped] = Z @ signs_eff
    return outputs, clipped


def _forward_clipped_xp(X, outputs, weights, output_signs, input_scale, max_z):
    """:func:`forward_clipped` after the plain pass, in another namespace."""
    xp = _array_api.namespace_of(outputs)
    clipped = ~xp.all(xp.isfinite(outputs), axis=1)
    if not bool(xp.any(clipped)):
        return outputs, clipped
    W_eff, signs_eff = effective_parameters(weights, output_signs, input_scale)
    rows = X[clipped]
    row_max = xp.max(xp.abs(rows), axis=1)
    row_max = xp.where(row_max == 0, xp.ones_like(row_max), row_max)
    with np.errstate(over="ignore"):  # array-api-strict computes with numpy
        Z = ((rows / row_max[:, None]) @ W_eff) * xp.astype(row_max, W_eff.dtype)[
            :, None
        ]
        Z = xp.exp(xp.clip(Z, max=float(max_z)))
    outputs[clipped] = Z @ signs_eff
    return outputs, clipped


def loss_and_gradient(X, y, sample_weight, weights, output_signs, input_scale, runner):
    """Data loss and its gradient with respect to the hidden weights.

    ``L(W) = 1/2 * sum_i s_i * ||F(W, x_i) - y_i||^2`` and
    ``dL/dw_r = (1/sqrt(m)) * sum_i s_i * <F_i - y_i, a_r> exp(<w_r, x_i>) x_i``
    (with inputs ``x_i / input_scale``), accumulated over row blocks.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n, d)
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

    blocks = _blocks_for(X, W_eff)
    loss = 0.0
    gradient = _zeros_like(W_eff)
    for block_loss, block_gradient in runner.map(block_loss_and_gradient, blocks):
        loss += block_loss
        gradient += block_gradient
    if single_output:
        gradient *= signs_eff[:, 0]
    gradient /= _array_api.scalar(input_scale, W_eff)
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
        vector = vector * _sqrt_as_dtype_of(sample_weight, weights)
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
    direction = _array_api.astype_like(direction, weights)
    scale = _array_api.scalar(1 / np.sqrt(weights.shape[1]), weights)

    def block_product(block):
        X_block = X[block, :]
        E = _activations(X_block, weights)
        E *= _preactivations(X_block, direction, name="ZU")
        return _row_sums(E)

    blocks = _blocks_for(X, weights)
    sums = list(runner.map(block_product, blocks))
    result = _concat(sums, weights) if sums else _zeros((0,), weights)
    result = _array_api.astype_like(result, weights) * scale
    if sample_weight is not None:
        result *= _sqrt_as_dtype_of(sample_weight, weights)
    return result


def ntk_weight_space_dot(X, weights, direction, runner, sample_weight=None):
    """``Phi^T S Phi u`` in one pass over the rows, as a (d, m) matrix.

    ``Phi^T S Phi`` (dm x dm) has the same nonzero eigenvalues as the
    (weighted) empirical NTK ``S^(1/2) Phi Phi^T S^(1/2)`` (n x n), at the cost
    of one pass over ``X`` per product instead of two.
    """
    direction = _array_api.astype_like(direction, weights)
    scale = _array_api.scalar(1 / weights.shape[1], weights)

    def block_product(block):
        X_block = X[block, :]
        E = _activations(X_block, weights)
        projected = _preactivations(X_block, direction, name="ZU")
        projected *= E
        coefficients = _row_sums(projected)
        if sample_weight is not None:
            coefficients *= sample_weight[block]
        return _rows_weighted_transpose_dot(X_block, E, coefficients)

    result = _sum_over_blocks(block_product, X, weights, runner)
    result *= scale
    return result


def _blocks_for(X, weights):
    return row_blocks(X.shape[0], weights.shape[1], weights.dtype)


def _rows_weighted_transpose_dot(X_block, E, coefficients):
    """``X_b^T (c o E)`` for row coefficients ``c``, as a (d, m) matrix.

    For dense ``X_b`` the coefficients scale the small (b, d) operand rather
    than the (b, m) activations; sparse ``X_b`` scales ``E`` in place.
    """
    if sparse.issparse(X_block):
        E *= coefficients[:, None]
        return np.asarray(X_block.T @ E)
    return (X_block * coefficients[:, None]).T @ E


def _transpose_dot(X_block, E):
    """``X_b^T E`` as a dense array."""
    product = X_block.T @ E
    return np.asarray(product) if sparse.issparse(X_block) else product


def _sum_over_blocks(block_product, X, weights, runner):
    """Sum the (d, m) results of ``block_product`` over row blocks, in order."""
    result = _zeros_like(weights)
    for partial in runner.map(block_product, _blocks_for(X, weights)):
        result += partial
    return result


# numpy, or the array API equivalent for arrays of another namespace. numpy
# 1.23 (our floor) lacks some of the standard's names (concat, astype).


def _zeros_like(like):
    if isinstance(like, np.ndarray):
        return np.zeros_like(like)
    return _array_api.namespace_of(like).zeros_like(like)


def _zeros(shape, like):
    if isinstance(like, np.ndarray):
        return np.zeros(shape, dtype=like.dtype)
    xp = _array_api.namespace_of(like)
    return xp.zeros(shape, dtype=like.dtype, device=_array_api.device_of(like))


def _concat(arrays, like):
    if isinstance(like, np.ndarray):
        return np.concatenate(arrays, axis=0)
    return _array_api.namespace_of(like).concat(arrays, axis=0)


def _row_sums(E):
    if isinstance(E, np.ndarray):
        return E.sum(axis=1)
    return _array_api.namespace_of(E).sum(E, axis=1)


def _sqrt_as_dtype_of(array, like):
    if isinstance(like, np.ndarray):
        return np.sqrt(array, dtype=like.dtype)
    xp = _array_api.namespace_of(like)
    return xp.sqrt(xp.astype(array, like.dtype))
