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
that squares cannot overflow. Sparse pieces are never densified: their
statistics count the implicit zeros (each a zero clipped to the feature's
range), so that sparse rows get the map of their dense copy, and the mapped
rows keep the centring as a rank-one term (:mod:`skexpreg._sparse`).
"""

from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import row_norms

from skexpreg import _array_api, _sparse
from skexpreg._blocks import row_blocks, workspace

# "standard" clips each feature to these quantiles of the training rows (so
# that heavy tails and outliers set neither the scale nor the range), and
# bounds every row the network sees by this quantile of the training rows'
# norms. Measured on the benchmark panel (docs/defaults.rst).
CLIP_QUANTILE = 0.025
RADIUS_QUANTILE = 0.95
# The quantiles are taken over at most this many rows (a random sample).
MAX_QUANTILE_ROWS = 20_000


@dataclass(frozen=True)
class InputMap:
    """What the network sees of a row ``x``.

    ``z = (clip(x, lower, upper) - offset) / scale``, then ``z`` is shrunk
    onto the ball of radius ``radius`` if it lies outside: every row the
    network sees, however far outside the training range, has a norm of at
    most ``radius``. ``offset``, ``scale``, ``lower`` and ``upper`` are (d,)
    vectors in the namespace and on the device of the rows; ``uniform`` says
    that the offset is 0 and the scale the same for every feature, and the
    training rows lie within the bounds (their map is a division by a
    number, folded into the weights).
    """

    offset: object
    scale: object
    lower: object
    upper: object
    radius: float
    uniform: bool


def fit_input_map(rows, input_scaling, bandwidth, random_state):
    """The :class:`InputMap` of the training rows.

    ``"standard"`` clips each feature to its weighted 2.5 % and 97.5 %
    quantiles (to its range where they coincide), standardises it with the
    weighted mean and standard deviation of the clipped values, and divides
    all features by one number so that the weighted median norm of the
    training rows is ``bandwidth``; the
    radius is the 95 % quantile of their norms. The other choices keep the
    training rows as they are (``"max_norm"`` divides by the largest row
    norm, a float by itself, None by 1) and bound other rows by the training
    rows' range and largest norm. Only rows of positive weight count.
    Quantiles come from a random sample of at most 20,000 rows (drawn from
    ``random_state``). Sparse rows get the map of their dense copy: the
    quantiles and moments count their implicit zeros.
    """
    xp = rows.xp
    if input_scaling != "standard":
        lower, upper = _column_range(rows)
        if input_scaling == "max_norm":
            norm = rows.map_reduce(_largest_row_norm, None, None, combine=max)
            scale = _positive(norm)
        else:
            scale = 1.0 if input_scaling is None else float(input_scaling)
        offset = xp.zeros_like(lower)
        scale = xp.full_like(lower, scale)
        radius = rows.map_reduce(_largest_row_norm, offset, scale, combine=max)
        return InputMap(offset, scale, lower, upper, radius, uniform=True)
    X_sample, weight_sample = _sample(rows, random_state)
    quantiles = _weighted_quantiles(
        X_sample, weight_sample, [CLIP_QUANTILE, 1 - CLIP_QUANTILE]
    )
    quantiles = _keep_rare_values(X_sample, weight_sample, *quantiles)
    dtype = _moment_dtype(rows.X)
    lower, upper = (_array_api.from_host(q, rows, dtype) for q in quantiles)
    # The sample's mean centres the sums of squares over all the rows: one
    # pass over them, without cancellation.
    magnitude = _magnitude(*quantiles)
    sample_sums = _weighted_column_sums(
        X_sample,
        None,
        weight_sample,
        magnitude,
        np.zeros_like(magnitude),
        None,
        part="inputs",
        lower=quantiles[0],
        upper=quantiles[1],
    )
    sample_total = float(np.sum(weight_sample))
    shift = sample_sums[0] / sample_total if sample_total > 0 else 0 * magnitude
    offset, spread = _feature_moments(
        rows, lower, upper, _array_api.from_host(shift, rows, dtype)
    )
    host = [_array_api.to_numpy(vector) for vector in (offset, spread, lower, upper)]
    norms = _row_norms(bound_inputs(X_sample, *host, np.inf))
    median, far = _weighted_quantiles(norms, weight_sample, [0.5, RADIUS_QUANTILE])
    median = _positive(float(median))
    radius = float(bandwidth) * float(far) / median
    if not radius > 0:  # (nearly) every row at the offset: bound by the largest
        radius = float(bandwidth) * _positive(float(np.max(norms))) / median
    with np.errstate(over="ignore"):  # an infinite scale is refused by the caller
        scale = spread * (median / float(bandwidth))
    return InputMap(offset, scale, lower, upper, radius, uniform=False)


def map_inputs(rows, input_map, *, fitted_rows=False, dtype=None):
    """The rows as the network sees them (see :class:`InputMap`), in
    ``dtype`` (None: the rows' dtype).

    For the rows the map was fitted on (``fitted_rows``), a uniform map is
    folded into the weights: ``X`` is not copied (``dtype`` must then be the
    rows'). Otherwise the map makes a bounded copy (sparse rows stay sparse,
    see :func:`bound_inputs`).
    """
    if input_map.uniform and fitted_rows:
        return rows.with_scale(float(_array_api.largest(input_map.scale)))
    return rows.with_inputs(
        partial(bound_inputs, dtype=dtype),
        input_map.offset,
        input_map.scale,
        input_map.lower,
        input_map.upper,
        input_map.radius,
        dtype=dtype,
    )


def bound_inputs(X, offset, scale, lower, upper, radius, dtype=None, runner=None):
    """``(clip(X, lower, upper) - offset) / scale``, rows shrunk to ``radius``.

    A new array in ``dtype`` (None: that of ``X``), computed in the dtype of
    ``X``: a map to float32 rounds only the mapped rows, whatever their
    offsets and units were. Sparse ``X`` stays sparse: a CSR matrix where
    every zero maps to zero (no offset, and every range holds 0), otherwise a
    :class:`~skexpreg._sparse.CentredSparse`, the map of the dense copy of
    ``X`` in O(nnz) memory. Dense numpy rows are mapped in row blocks (on
    the ``runner``'s threads), written straight into the result.
    """
    if sparse.issparse(X):
        bounded = _bound_sparse_inputs(X, offset, scale, lower, upper, radius)
        return bounded if dtype is None else bounded.astype(dtype)
    xp, is_numpy = _array_api.namespace(X)
    lower, upper, offset, scale = (
        _array_api.astype_like(vector, X) for vector in (lower, upper, offset, scale)
    )
    if not is_numpy:
        bounded = _bound_dense(xp, X, offset, scale, lower, upper, radius)
        return bounded if dtype is None else xp.astype(bounded, dtype, copy=False)
    result = np.empty(X.shape, dtype=X.dtype if dtype is None else dtype)

    def bound_block(block):
        bounded = _bound_dense(np, X[block], offset, scale, lower, upper, radius)
        result[block] = bounded

    blocks = row_blocks(X.shape[0], X.shape[1], X.dtype)
    for _ in (runner.map if runner else map)(bound_block, blocks):
        pass
    return result


def _bound_dense(xp, X, offset, scale, lower, upper, radius):
    """:func:`bound_inputs` of dense rows, in their dtype (vectors alike)."""
    if xp is np:  # in a cache-sized workspace of this thread
        bounded = np.clip(X, lower, upper, out=workspace("map", *X.shape, X.dtype))
    else:
        bounded = xp.minimum(xp.maximum(X, lower), upper)
    bounded -= offset
    bounded /= scale
    if radius < np.inf:
        shrink = _shrink_factors(_row_norms(bounded), radius)
        bounded *= _array_api.astype_like(shrink, X)[:, None]
    return bounded


def _keep_rare_values(X, sample_weight, lower, upper):
    """Widen collapsed clip ranges to the column's range.

    A feature that takes one value on more than 95 % of the rows (a rare
    indicator, a mostly-zero count) has equal clip quantiles: clipping would
    make it constant and lose it. Such columns are clipped to their range
    over the rows of positive weight instead (and the row bound still keeps
    far rows in check).
    """
    collapsed = np.flatnonzero(lower == upper)
    if collapsed.size:
        seen = X[np.flatnonzero(sample_weight > 0)][:, collapsed]
        smallest, largest = seen.min(axis=0), seen.max(axis=0)
        if sparse.issparse(seen):  # implicit zeros count
            smallest, largest = smallest.toarray().ravel(), largest.toarray().ravel()
        lower, upper = lower.copy(), upper.copy()
        lower[collapsed] = np.asarray(smallest, dtype=np.float64)
        upper[collapsed] = np.asarray(largest, dtype=np.float64)
    return lower, upper


def _bound_sparse_inputs(X, offset, scale, lower, upper, radius):
    """:func:`bound_inputs` of sparse rows, without filling in their zeros.

    Every implicit zero of feature ``j`` maps to ``c_j = (clip_j(0) -
    offset_j) / scale_j``; a stored entry ``x`` maps to ``c_j`` plus
    ``(clip_j(x) - clip_j(0)) / scale_j``, which keeps the sparsity pattern.
    """
    X = X.tocsr()
    offset, scale, lower, upper = (
        np.asarray(vector, dtype=np.float64) for vector in (offset, scale, lower, upper)
    )
    columns = X.indices
    zero = np.clip(0.0, lower, upper)  # what clipping makes of a zero
    values = np.clip(X.data, lower[columns], upper[columns])
    values -= zero[columns]
    values /= scale[columns]
    values = sparse.csr_matrix(
        (values.astype(X.dtype), X.indices.copy(), X.indptr.copy()), shape=X.shape
    )
    values.eliminate_zeros()  # features clipped to a constant store nothing
    return _sparse.centred_rows(values, (zero - offset) / scale, radius)


def _shrink_factors(norms, radius):
    """1 for rows within the ball, ``radius / norm`` for the others."""
    xp, _ = _array_api.namespace(norms)
    outside = norms > radius
    safe = xp.where(outside, norms, xp.ones_like(norms))
    return xp.where(outside, radius / safe, xp.ones_like(norms))


def _row_norms(X):
    if _sparse.issparse(X):
        return _sparse.row_norms(X)
    xp, is_numpy = _array_api.namespace(X)
    if is_numpy:
        return row_norms(X)  # no temporary as large as X
    return xp.sqrt(xp.sum(X * X, axis=1))


def _sample(rows, random_state):
    """``(X, sample_weight)`` of at most MAX_QUANTILE_ROWS random rows, on the host."""
    X, _, sample_weight = rows.random_rows(MAX_QUANTILE_ROWS, random_state).gather()
    return X, np.asarray(sample_weight, dtype=np.float64)


def _weighted_quantiles(values, sample_weight, quantiles):
    """Weighted quantiles of each column of ``values`` (inverted CDF).

    The smallest value whose cumulative weight reaches ``q`` times the total:
    with integer weights, the quantile of the data with repeated rows.
    Returns one array (of a row's shape) per quantile. The quantiles of a
    sparse matrix count its implicit zeros, as those of its dense copy do.
    """
    if sparse.issparse(values):
        return _sparse_weighted_quantiles(values, sample_weight, quantiles)
    values = np.asarray(values, dtype=np.float64)
    # Any order of tied values gives the same quantile (the cumulative weight
    # after a run of ties does not depend on it, up to the tolerance below),
    # so the sort need not be stable: numpy's default is 5 times faster here.
    order = np.argsort(values, axis=0)
    ordered = np.take_along_axis(values, order, axis=0)
    weights = sample_weight[order]
    cumulative = np.cumsum(weights, axis=0)
    total = cumulative[-1]
    result = []
    for q in quantiles:
        # first position where the cumulative weight reaches q * total
        index = np.sum(cumulative < q * total - 1e-12 * total, axis=0)
        index = np.minimum(index, len(values) - 1)
        result.append(np.take_along_axis(ordered, np.expand_dims(index, 0), axis=0)[0])
    return result


def _sparse_weighted_quantiles(X, sample_weight, quantiles):
    """:func:`_weighted_quantiles` of the columns of a sparse matrix.

    The zeros of a column (implicit or stored) are one entry of value 0 and
    the weight of their rows, sorted with the column's other entries; the
    selection is that of the dense copy, with cumulative weights summed per
    column (:func:`_cumulative_by_column`). O(nnz + d) memory.
    """
    X = X.tocsc()
    n_features = X.shape[1]
    weight = np.asarray(sample_weight, dtype=np.float64)
    columns = np.repeat(np.arange(n_features), np.diff(X.indptr))
    values = X.data.astype(np.float64)
    entry_weight = weight[X.indices]
    nonzero = values != 0
    columns, values, entry_weight = (
        array[nonzero] for array in (columns, values, entry_weight)
    )
    # The weight of a column's zeros: exactly 0 where every row of positive
    # weight stores a non-zero value, so that no zero is ever selected there.
    positive = entry_weight > 0
    rows_with_zero = np.count_nonzero(weight > 0) - np.bincount(
        columns[positive], minlength=n_features
    )
    stored_weight = np.bincount(columns, entry_weight, minlength=n_features)
    zero_weight = np.where(
        rows_with_zero > 0, np.maximum(weight.sum() - stored_weight, 0), 0.0
    )
    columns = np.concatenate([columns, np.arange(n_features)])
    values = np.concatenate([values, np.zeros(n_features)])
    entry_weight = np.concatenate([entry_weight, zero_weight])
    # Sorted by value, then (stably) by column: each column's entries in
    # order of value. Small integer keys sort by radix.
    order = np.argsort(values)
    keys = columns.astype(np.min_scalar_type(n_features))[order]
    order = order[np.argsort(keys, kind="stable")]
    columns, values = columns[order], values[order]
    cumulative, total = _cumulative_by_column(entry_weight[order], columns, n_features)
    starts = np.searchsorted(columns, np.arange(n_features))
    lengths = np.diff(np.append(starts, len(columns)))
    result = []
    for q in quantiles:
        # first position where the cumulative weight reaches q * total
        threshold = (q * total - 1e-12 * total)[columns]
        index = np.bincount(
            columns, cumulative < threshold, minlength=n_features
        ).astype(np.intp)
        result.append(values[starts + np.minimum(index, lengths - 1)])
    return result


def _cumulative_by_column(weights, columns, n_features):
    """Cumulative sums of ``weights`` within each column (``columns``
    sorted, every column present) and each column's total.

    One cumulative sum restarted at every column: each column's first
    weight is reduced by the previous column's total, and what that leaves
    over (round-off) is taken off again, so that the sums are accurate to
    round-off of one column's total, however many columns precede it.
    """
    starts = np.searchsorted(columns, np.arange(n_features))
    totals = np.add.reduceat(weights, starts)
    restarted = weights.copy()
    restarted[starts[1:]] -= totals[:-1]
    cumulative = np.cumsum(restarted)
    ends = np.append(starts[1:], len(weights)) - 1
    carried = np.concatenate([[0.0], cumulative[ends[:-1]] - totals[:-1]])
    cumulative -= carried[columns]
    return cumulative, cumulative[ends]


def standardize(X, offset, scale):
    """``(X - offset) / scale`` in the dtype of ``X``.

    Sparse ``X`` is only scaled: it comes here with a zero offset only (the
    uniform maps); the centred map of sparse rows is :func:`bound_inputs`.
    """
    if sparse.issparse(X):
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


def _feature_moments(rows, lower, upper, shift):
    """Weighted mean and standard deviation of each feature clipped to
    ``[lower, upper]`` (the zeros of sparse features clipped too), in one
    pass (``shift``: near the means, see :func:`_moments`); constant
    features get a standard deviation of 1."""
    mean, spread, magnitude = _moments(rows, "inputs", lower, upper, shift)
    xp = rows.xp
    spread = xp.where(spread > 0, spread, xp.ones_like(spread))
    return mean * magnitude, spread * magnitude


def _moments(rows, part, lower=None, upper=None, shift=None):
    """``(mean, std, magnitude)`` of each column of ``X`` or ``Y``, weighted.

    With bounds, of the columns clipped to ``[lower, upper]``. ``mean`` and
    ``std`` are of the columns divided by ``magnitude``, their largest
    absolute value (1 for all-zero columns). The sums are of the deviations
    from ``shift`` (of the divided columns), so that the variance,
    ``E[(a - c)^2] - (E[a] - c)^2``, loses nothing to cancellation when
    ``c`` is near the mean: one pass over the rows with a ``shift`` (an
    estimate), two without (the first finds the mean).
    """
    xp = rows.xp
    if lower is None:
        magnitude = rows.map_reduce(_column_magnitude, part, combine=_maximum)
        magnitude = xp.where(magnitude > 0, magnitude, xp.ones_like(magnitude))
    else:
        magnitude = _magnitude(lower, upper)
    total = rows.map_reduce(_total_weight)
    sums = partial(_weighted_column_sums, part=part, lower=lower, upper=upper)
    if shift is None:
        shift = rows.map_reduce(sums, magnitude, xp.zeros_like(magnitude))
        shift = shift[0, :] / total
    sums = rows.map_reduce(sums, magnitude, shift)
    deviation = sums[0, :] / total
    variance = sums[1, :] / total - deviation**2
    variance = xp.maximum(variance, xp.zeros_like(variance))
    return shift + deviation, xp.sqrt(variance), magnitude


def _magnitude(lower, upper):
    """What clipped columns are divided by: their largest absolute bound (1
    for columns clipped to 0)."""
    xp, _ = _array_api.namespace(lower)
    magnitude = xp.maximum(xp.abs(lower), xp.abs(upper))
    return xp.where(magnitude > 0, magnitude, xp.ones_like(magnitude))


def _column_range(rows):
    """Smallest and largest value of each feature over rows of positive
    weight; for sparse rows the range includes 0."""
    negated_lower, upper = rows.map_reduce(_column_bounds, combine=_maximum)
    return -negated_lower, upper


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


def _column_bounds(X, Y, sample_weight, runner):
    """``(-min, max)`` of each column over rows of positive weight (both
    maxima, so that pieces combine with one maximum)."""
    if sparse.issparse(X):
        chosen = X[np.flatnonzero(_array_api.to_numpy(sample_weight > 0))]
        if chosen.shape[0] == 0:
            return np.full(X.shape[1], -np.inf), np.full(X.shape[1], -np.inf)
        lower = np.minimum(chosen.min(axis=0).toarray().ravel(), 0)
        upper = np.maximum(chosen.max(axis=0).toarray().ravel(), 0)
        return -lower.astype(np.float64), upper.astype(np.float64)
    xp, _ = _array_api.namespace(X)
    dtype = _moment_dtype(X)
    device = _array_api.device_of(X)
    negated_lower = xp.full(X.shape[1], -np.inf, dtype=dtype, device=device)
    upper = xp.full(X.shape[1], -np.inf, dtype=dtype, device=device)
    infinity = xp.asarray(np.inf, dtype=dtype, device=device)
    for block in row_blocks(X.shape[0], X.shape[1], np.float64):
        A = xp.astype(X[block, :], dtype)
        selected = (sample_weight[block] > 0)[:, None]
        negated_lower = xp.maximum(
            negated_lower, xp.max(xp.where(selected, -A, -infinity), axis=0)
        )
        upper = xp.maximum(upper, xp.max(xp.where(selected, A, -infinity), axis=0))
    return negated_lower, upper


def _weighted_column_sums(
    X, Y, sample_weight, magnitude, shift, runner, *, part, lower, upper
):
    """``[sum_i s_i (a_i - shift), sum_i s_i (a_i - shift)^2]`` per column (a
    (2, d) array), for ``a_i`` the rows of ``X`` or ``Y`` clipped to
    ``[lower, upper]`` (if given, also the implicit zeros of sparse rows) and
    divided by ``magnitude``. Dense rows are summed in blocks (on the
    runner's threads, added in block order)."""
    A = X if part == "inputs" else Y
    if sparse.issparse(A):
        zero = None
        if lower is not None:
            A = A.tocsr(copy=True)
            A.data = np.clip(A.data, lower[A.indices], upper[A.indices])
            zero = np.clip(0.0, lower, upper)
        return _sparse_weighted_column_sums(A, sample_weight, magnitude, shift, zero)
    xp, is_numpy = _array_api.namespace(A)
    dtype = _moment_dtype(A)
    weight = xp.astype(sample_weight, dtype)

    def block_sums(block):
        if is_numpy:  # in place, in a cache-sized workspace of this thread
            deviations = workspace("moments", *A[block].shape, np.float64)
            if lower is None:
                deviations[...] = A[block]
            else:
                np.clip(A[block], lower, upper, out=deviations)
            deviations /= magnitude
            deviations -= shift
            first = weight[block] @ deviations
            np.square(deviations, out=deviations)
            return np.stack([first, weight[block] @ deviations])
        scaled = xp.astype(A[block, :], dtype)
        if lower is not None:
            scaled = xp.minimum(xp.maximum(scaled, lower), upper)
        deviations = scaled / magnitude - shift
        return xp.stack(
            [weight[block] @ deviations, weight[block] @ (deviations * deviations)]
        )

    total = xp.zeros((2, A.shape[1]), dtype=dtype, device=_array_api.device_of(A))
    blocks = row_blocks(A.shape[0], A.shape[1], np.float64)
    for sums in (runner.map if runner else map)(block_sums, blocks):
        total = total + sums
    return total


def _sparse_weighted_column_sums(A, sample_weight, magnitude, shift, zero=None):
    """:func:`_weighted_column_sums` of a sparse matrix whose implicit zeros
    stand for ``zero`` (a (d,) vector; None: 0), without a dense copy."""
    A = (A @ sparse.diags(1 / magnitude)).tocsr()
    weight = np.asarray(sample_weight, dtype=np.float64)
    entry_rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    entry_weight = weight[entry_rows]
    stored_weight = np.bincount(A.indices, weights=entry_weight, minlength=A.shape[1])
    implicit_weight = weight.sum() - stored_weight
    zero = 0.0 if zero is None else zero / magnitude
    # The implicit zeros of a column contribute (zero - shift)^k each, the
    # stored entries (x - shift)^k.
    deviations = A.data - shift[A.indices]
    sums = [
        np.bincount(
            A.indices, weights=entry_weight * deviations**power, minlength=A.shape[1]
        )
        + (zero - shift) ** power * implicit_weight
        for power in (1, 2)
    ]
    return np.stack(sums)


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
    """Largest row norm (or entry, ``magnitude_only``) of the selected rows."""
    if sparse.issparse(A):
        A = A[np.flatnonzero(_array_api.to_numpy(selected))]
        if magnitude_only:
            return float(abs(A).max()) if A.shape[0] else 0.0
        values = _row_norms(A)
        return float(values.max()) if values.size else 0.0
    xp, _ = _array_api.namespace(A)
    values = xp.max(xp.abs(A), axis=1) if magnitude_only else _row_norms(A)
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
