"""The input and target maps: statistics of the rows, as pure functions.

The network sees ``(X - input_offset) / input_scale`` and fits
``(Y - target_mean) / target_scale``. ``fit_input_map`` and
``fit_target_map`` compute these vectors from a row source
(:mod:`skexpreg._rows`) and return them; ``map_inputs`` and ``map_targets``
return the mapped source. Each statistic is written once, as a function of
one in-memory piece of the rows that returns partial sums (or maxima), so
that the same code serves numpy, sparse, any array API namespace and each
chunk of a dask array; the source combines the pieces in a fixed order.
Dense pieces are read in row blocks, so that no temporary as large as ``X``
is made, and columns are divided by their largest absolute value first, so
that squares cannot overflow.
"""

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import row_norms

from skexpreg import _array_api
from skexpreg._blocks import row_blocks


def fit_input_map(rows, input_scaling):
    """``(offset, scale)``, (d,) vectors of the input map, from the training rows.

    ``"standard"`` standardises each feature (weighted mean and standard
    deviation; sparse input is only scaled) and divides by the largest
    standardised row norm; ``"max_norm"`` divides by the largest row norm; a
    float divides by it; None is the identity. Only rows of positive weight
    count for the norms. The vectors are float64 (float32 on devices
    without float64), in the namespace and on the device of the rows.
    """
    n_features = rows.shape[1]
    if input_scaling == "standard":
        offset, spread = _feature_moments(rows)
        norm = rows.map_reduce(_largest_row_norm, offset, spread, combine=max)
        return offset, spread * _positive(norm)
    if input_scaling == "max_norm":
        scale = _positive(rows.map_reduce(_largest_row_norm, None, None, combine=max))
    elif input_scaling is None:
        scale = 1.0
    else:
        scale = float(input_scaling)
    return _full(rows, n_features, 0.0), _full(rows, n_features, scale)


def map_inputs(rows, offset, scale, input_scaling):
    """The rows as the network sees them.

    A uniform scale is folded into the weights (``X`` is not copied); the
    standard map makes a standardised copy (sparse: scaled only).
    """
    if input_scaling == "standard":
        return rows.with_inputs(standardize, offset, scale)
    return rows.with_scale(float(scale[0]))


def standardize(X, offset, scale):
    """``(X - offset) / scale`` in the dtype of ``X``; sparse ``X`` is only scaled."""
    if sparse.issparse(X):  # centring would densify
        return (X @ sparse.diags((1 / scale).astype(X.dtype))).tocsr()
    standardized = X - _array_api.astype_like(offset, X)
    standardized /= _array_api.astype_like(scale, X)
    return standardized


def fit_target_map(rows, target_scaling):
    """``(mean, scale)``, (k,) vectors: weighted mean and standard deviation.

    Constant targets are only centred; without ``target_scaling`` the map is
    the identity.
    """
    n_outputs = rows.Y.shape[1]
    if not target_scaling:
        return _full(rows, n_outputs, 0.0), _full(rows, n_outputs, 1.0)
    mean, spread, magnitude = _moments(rows, "targets")
    xp = rows.xp
    spread = xp.where(spread > 1e-12, spread, xp.ones_like(spread))
    return mean * magnitude, spread * magnitude


def map_targets(rows, mean, scale):
    return rows.with_targets(standardize, mean, scale)


def total_squares(rows):
    """``sum_i s_i (y_i - mean)^2`` per output, in float64: R²'s denominator."""
    _, spread, magnitude = _moments(rows, "targets")
    total = rows.map_reduce(_total_weight)
    return (spread * magnitude) ** 2 * total


def _feature_moments(rows):
    mean, spread, magnitude = _moments(rows, "inputs")
    xp = rows.xp
    spread = xp.where(spread > 0, spread, xp.ones_like(spread))
    if sparse.issparse(rows.X):
        mean = xp.zeros_like(mean)  # scaled, not centred
    return mean * magnitude, spread * magnitude


def _moments(rows, part):
    """``(mean, std, magnitude)`` of each column of ``X`` or ``Y``, weighted.

    ``mean`` and ``std`` are of the columns divided by ``magnitude``, their
    largest absolute value (1 for all-zero columns).
    """
    xp = rows.xp
    magnitude = rows.map_reduce(_column_magnitude, part, combine=_maximum)
    magnitude = xp.where(magnitude > 0, magnitude, xp.ones_like(magnitude))
    total = rows.map_reduce(_total_weight)
    mean = rows.map_reduce(_weighted_column_sums, part, magnitude, None) / total
    variance = rows.map_reduce(_weighted_column_sums, part, magnitude, mean) / total
    return mean, xp.sqrt(variance), magnitude


# Functions of one in-memory piece (X, Y, sample_weight, ..., runner).


def _column_magnitude(X, Y, sample_weight, part, runner):
    """Largest absolute value of each column, in the moments' float dtype."""
    A = X if part == "inputs" else Y
    if sparse.issparse(A):
        return abs(A).max(axis=0).toarray().ravel().astype(np.float64)
    xp, _ = _array_api.namespace(A)
    largest = xp.maximum(xp.max(A, axis=0), -xp.min(A, axis=0))
    return xp.astype(largest, _moment_dtype(A))


def _total_weight(X, Y, sample_weight, runner):
    xp, _ = _array_api.namespace(sample_weight)
    return float(xp.sum(xp.astype(sample_weight, _moment_dtype(sample_weight))))


def _weighted_column_sums(X, Y, sample_weight, part, magnitude, mean, runner):
    """``sum_i s_i a_i`` (``mean`` None) or ``sum_i s_i (a_i - mean)^2`` per
    column, for ``a_i`` the rows of ``X`` or ``Y`` divided by ``magnitude``."""
    A = X if part == "inputs" else Y
    if sparse.issparse(A):
        return _sparse_weighted_column_sums(A, sample_weight, magnitude, mean)
    xp, _ = _array_api.namespace(A)
    dtype = _moment_dtype(A)
    weight = xp.astype(sample_weight, dtype)
    total = xp.zeros(A.shape[1], dtype=dtype, device=_array_api.device_of(A))
    for block in row_blocks(A.shape[0], A.shape[1], np.float64):
        scaled = xp.astype(A[block, :], dtype) / magnitude
        if mean is not None:
            scaled = (scaled - mean) ** 2
        total = total + weight[block] @ scaled
    return total


def _sparse_weighted_column_sums(A, sample_weight, magnitude, mean):
    A = (A @ sparse.diags(1 / magnitude)).tocsr()
    weight = np.asarray(sample_weight, dtype=np.float64)
    if mean is None:
        return np.asarray(weight @ A).ravel()
    # The zeros of a column contribute mean^2 each; the stored entries
    # (x - mean)^2: no dense copy of A.
    entry_rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    entry_weight = weight[entry_rows]
    deviations = (A.data - mean[A.indices]) ** 2
    stored = np.bincount(
        A.indices, weights=entry_weight * deviations, minlength=A.shape[1]
    )
    stored_weight = np.bincount(A.indices, weights=entry_weight, minlength=A.shape[1])
    return stored + mean**2 * (weight.sum() - stored_weight)


def _largest_row_norm(X, Y, sample_weight, offset, scale, runner):
    """Largest norm of ``(x_i - offset) / scale`` over rows of positive weight.

    ``offset`` and ``scale`` None: of the rows as they are. Rows whose
    squared norm overflows are rescaled by their block's largest entry.
    """
    xp, _ = _array_api.namespace(X)
    largest = 0.0
    for block in row_blocks(X.shape[0], X.shape[1], np.float64):
        selected = sample_weight[block] > 0
        A = X[block, :]
        if scale is not None:
            A = standardize(A, offset, scale)
        with np.errstate(over="ignore"):  # array-api-strict computes with numpy
            norm = _largest_norm(A, selected)
            if not np.isfinite(norm):
                magnitude = _largest_norm(A, selected, magnitude_only=True)
                norm = magnitude * _largest_norm(A / magnitude, selected)
        largest = max(largest, norm)
    return largest


def _largest_norm(A, selected, magnitude_only=False):
    if sparse.issparse(A):
        A = A[np.flatnonzero(_array_api.to_numpy(selected))]
        if magnitude_only:
            return float(abs(A).max()) if A.shape[0] else 0.0
        norms = row_norms(A)
        return float(norms.max()) if norms.size else 0.0
    xp, _ = _array_api.namespace(A)
    if magnitude_only:
        values = xp.max(xp.abs(A), axis=1)
    else:
        values = xp.sqrt(xp.sum(A * A, axis=1))
    values = xp.where(selected, values, xp.zeros_like(values))
    return float(xp.max(values)) if values.shape[0] else 0.0


def _positive(value):
    """A norm to divide by: 1 where it is 0 (nothing to scale)."""
    return value if value > 0 else 1.0


def _maximum(first, second):
    xp, _ = _array_api.namespace(first)
    return xp.maximum(first, second)


def _moment_dtype(A):
    """float64 for the statistics, unless ``A``'s device has only float32."""
    xp, is_numpy = _array_api.namespace(A)
    if is_numpy or _array_api.supports_float64(xp, _array_api.device_of(A)):
        return xp.float64
    return xp.float32


def _full(rows, size, value):
    """A (size,) vector of ``value`` for the maps, beside the rows."""
    xp = rows.xp
    dtype = _moment_dtype(rows.X) if not sparse.issparse(rows.X) else xp.float64
    return xp.full(size, value, dtype=dtype, device=rows.device)
