"""Full-batch training and prediction on dask arrays.

Every pass over the data is one task per row chunk, run where the chunk
lives: the task evaluates the in-memory :mod:`skexpreg._model` function on
its chunk with the current (d, m) weights, which the scheduler sends to the
workers once per step, and returns a (d, m) partial result. The client adds
the partial results up in chunk order, so a step is the same gradient step as
in memory (up to the order of floating-point additions) and does not depend
on the number of workers. Nothing here imports dask unless the input is a
dask collection; dask is an optional dependency (``pip install
"skexpreg[dask]"``).
"""

import sys

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import _check_feature_names, _check_n_features

from skexpreg import _model
from skexpreg.ntk import _DENSE_MAX_SAMPLES, _WeightSpaceNTK


def is_dask_collection(value):
    """Whether ``value`` is a dask array or dataframe (without importing dask)."""
    if "dask" not in sys.modules:
        return False
    import dask

    return dask.is_dask_collection(value)


def any_dask(*values):
    return any(is_dask_collection(value) for value in values)


def _meta(X):
    """An empty pandas (or numpy) object with ``X``'s columns, for their names."""
    return getattr(X, "_meta", X)


def _as_array(X, name):
    """A dask array from a dask array or dataframe; names are checked elsewhere."""
    import dask.array as da

    if not isinstance(X, da.Array):
        if hasattr(X, "to_dask_array"):  # dask DataFrame or Series
            X = X.to_dask_array(lengths=True)
        else:
            raise TypeError(
                f"{name} is a {type(X).__name__}; only dask arrays and dask "
                "dataframes are supported."
            )
    if any(np.isnan(size) for size in X.shape):
        raise ValueError(
            f"{name} has unknown chunk sizes {X.chunks}; call "
            f"{name}.compute_chunk_sizes() (or to_dask_array(lengths=True) on a "
            "dataframe) before passing it."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must be numeric; got an array of dtype {X.dtype}. Encode "
            "categorical columns first."
        )
    return X


def _along_rows(values, X, name):
    """``values`` (dask or array-like, first axis = rows) chunked like ``X``."""
    import dask.array as da

    if is_dask_collection(values):
        values = _as_array(values, name)
    else:
        values = da.from_array(np.asarray(values), chunks=-1)
    if values.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} has {values.shape[0]} rows but X has {X.shape[0]}; they "
            "must have the same number of rows."
        )
    return values.rechunk((X.chunks[0],) + tuple(-1 for _ in values.shape[1:]))


def _checked_X(estimator, X, *, reset):
    """A 2-D dask array from ``X``, its feature names and count checked (or set)."""
    _check_feature_names(estimator, _meta(X), reset=reset)
    X = _as_array(X, "X")
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D dask array for X, got {X.ndim} dimension(s); "
            "reshape it to (n_samples, n_features)."
        )
    _check_n_features(estimator, X, reset=reset)
    return X


def validate_fit(estimator, X, y, sample_weight, *, reset, dtype=None):
    """Checked dask inputs for fit: ``(X, Y, sample_weight, y_ndim)``.

    ``X`` is (n, d) with all columns in one chunk, ``Y`` (n, k) and
    ``sample_weight`` (n,) chunked like its rows; all in ``dtype`` (``X``'s if
    float32, else float64, unless given). Finiteness, non-negative weights and
    a positive total weight are checked in one pass over the data.
    """
    import dask
    import dask.array as da

    X = _checked_X(estimator, X, reset=reset)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"Found a dask array with shape {X.shape}; at least 1 sample and 1 "
            "feature are required."
        )
    if dtype is None:
        dtype = np.float32 if X.dtype == np.float32 else np.float64
    X = X.rechunk({1: -1}).astype(dtype)
    if y is None:
        raise ValueError("ExponentialRegressor requires y to be passed, but y is None.")
    y = _along_rows(y, X, "y")
    if y.ndim not in (1, 2) or y.dtype.kind not in "biuf":
        raise ValueError(
            f"y must be a 1D or 2D numeric array; got ndim={y.ndim}, dtype={y.dtype}."
        )
    y_ndim = y.ndim
    Y = y.astype(dtype).reshape(X.shape[0], -1)
    if sample_weight is None:
        sample_weight = da.ones(X.shape[0], chunks=(X.chunks[0],), dtype=dtype)
    else:
        sample_weight = _along_rows(sample_weight, X, "sample_weight").astype(dtype)
        if sample_weight.ndim != 1:
            raise ValueError("sample_weight must be 1D with one weight per row.")
    finite_X, finite_Y, finite_weight, smallest, total = dask.compute(
        da.isfinite(X).all(),
        da.isfinite(Y).all(),
        da.isfinite(sample_weight).all(),
        sample_weight.min(),
        sample_weight.sum(),
    )
    for finite, name in (
        (finite_X, "X"),
        (finite_Y, "y"),
        (finite_weight, "sample_weight"),
    ):
        if not finite:
            raise ValueError(f"Input {name} contains NaN or infinity.")
    if smallest < 0:
        raise ValueError("sample_weight must be non-negative.")
    if not total > 0:
        raise ValueError("sample_weight must contain at least one positive value.")
    return X, Y, sample_weight, y_ndim


def validate_predict(estimator, X, dtype):
    """Checked dask ``X`` for predict, all columns in one chunk."""
    X = _checked_X(estimator, X, reset=False)
    dtype = np.result_type(np.float32 if X.dtype == np.float32 else np.float64, dtype)
    return X.rechunk({1: -1}).astype(dtype)


def predict(predict_block, X, n_outputs, one_dimensional, dtype):
    """``predict_block`` applied to every row chunk of ``X``, lazily."""
    if one_dimensional:
        return X.map_blocks(
            predict_block, drop_axis=1, dtype=dtype, meta=np.empty((0,), dtype)
        )
    return X.map_blocks(
        predict_block,
        chunks=(X.chunks[0], (n_outputs,)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype),
    )


def feature_moments(X, sample_weight):
    """Weighted mean and standard deviation of each column (as in memory)."""
    import dask

    magnitude, total = dask.compute(
        abs(X).max(axis=0), sample_weight.sum(dtype=np.float64)
    )
    magnitude = magnitude.astype(np.float64)
    magnitude[~(magnitude > 0)] = 1.0
    scaled = X / magnitude
    total = float(total)
    mean = (sample_weight @ scaled).compute() / total
    variance = (sample_weight @ (scaled - mean) ** 2).compute() / total
    spread = np.sqrt(np.asarray(variance, dtype=np.float64))
    spread[~(spread > 0)] = 1.0
    return mean * magnitude, spread * magnitude


def max_row_norm(X, rows):
    """Largest Euclidean norm of the rows where ``rows`` is True, or 1.0 if 0."""
    import dask.array as da

    with np.errstate(over="ignore"):
        norms = da.sqrt((X * X).sum(axis=1))
        largest = float(da.where(rows, norms, 0).max().compute())
        if not np.isfinite(largest):
            magnitude = float(da.where(rows[:, None], abs(X), 0).max().compute())
            scaled = X / X.dtype.type(magnitude)
            norms = da.sqrt((scaled * scaled).sum(axis=1))
            largest = magnitude * float(da.where(rows, norms, 0).max().compute())
    return largest if largest > 0 else 1.0


def target_moments(Y, sample_weight):
    """Weighted mean and scale of the targets (as in memory), via dask."""
    import dask

    weight = sample_weight.astype(np.float64)
    magnitude, total = dask.compute(abs(Y).max(axis=0), weight.sum())
    magnitude = magnitude.astype(np.float64)
    magnitude[magnitude == 0] = 1.0
    scaled = Y.astype(np.float64) / magnitude
    total = float(total)
    mean = (weight @ scaled).compute() / total
    variance = (weight @ (scaled - mean) ** 2).compute() / total
    scale = np.sqrt(variance)
    scale[~(scale > 1e-12)] = 1.0
    return mean * magnitude, scale * magnitude


class Rows:
    """Row chunks of dask arrays held in (distributed) memory.

    ``persist`` computes ``X``, ``Y`` and ``sample_weight`` once, so that
    every later pass reads the chunks where they live instead of recomputing
    them from their sources.
    """

    def __init__(self, X, Y, sample_weight):
        import dask

        X, Y, sample_weight = dask.persist(X, Y, sample_weight)
        # The persisted arrays hold the cluster's references to the chunks:
        # the delayed views below name the chunks but do not keep them alive.
        self.persisted = X, Y, sample_weight
        self.shape = X.shape
        self.dtype = X.dtype
        self.chunks = list(
            zip(
                X.to_delayed().ravel(),
                Y.to_delayed().ravel(),
                sample_weight.to_delayed().ravel(),
            )
        )

    def map_sum(self, function, *small):
        """Sum of ``function(X_c, Y_c, w_c, *small)`` over chunks, in order.

        The ``small`` (d, m)-sized operands enter the graph once per call and
        are shipped to the workers that need them; one task per chunk.
        """
        import dask

        shared = [dask.delayed(operand, traverse=False) for operand in small]
        task = dask.delayed(function, pure=True)
        parts = dask.compute(*(task(*chunk, *shared) for chunk in self.chunks))
        total = parts[0]
        for part in parts[1:]:
            total = _add(total, part)
        return total

    def loss_and_gradient(self, weights, output_signs, input_scale):
        return self.map_sum(
            _chunk_loss_and_gradient, weights, output_signs, float(input_scale)
        )


def split(X, Y, sample_weight, *, test_size, random_state):
    """The in-memory validation split, taken from the chunks.

    The row indices are split by :func:`~sklearn.model_selection.train_test_split`
    exactly as for in-memory input with the same random state, then sorted,
    so that each part is a per-chunk selection (no shuffle of the data
    between workers); the order of the rows changes only the order of the
    additions. Returns ``X, X_val, Y, Y_val, w, w_val``.
    """
    train, test = train_test_split(
        np.arange(X.shape[0]), test_size=test_size, random_state=random_state
    )
    train.sort()
    test.sort()
    parts = []
    for array in (X, Y, sample_weight):
        parts += [array[train], array[test]]
    return parts


class Validation:
    """The weighted R² of held-out chunks, from per-chunk sums of squares.

    Each chunk returns its weighted squared residuals per output; the
    weighted total sum of squares is computed once. The score is
    :func:`~sklearn.metrics.r2_score`'s, averaged uniformly over outputs.
    """

    def __init__(self, X, Y, sample_weight):
        import dask

        weight = sample_weight.astype(np.float64)
        Y64 = Y.astype(np.float64)
        total = weight.sum()
        mean = (weight @ Y64) / total
        (self.total_squares,) = dask.compute(weight @ (Y64 - mean) ** 2)
        self.rows = Rows(X, Y, sample_weight)

    def score(self, weights, output_signs, input_scale):
        residual_squares = self.rows.map_sum(
            _chunk_squared_residuals, weights, output_signs, float(input_scale)
        )
        if not np.isfinite(residual_squares).all():
            return -np.inf
        constant = self.total_squares == 0
        scores = np.where(
            constant,
            np.where(residual_squares == 0, 1.0, 0.0),  # r2_score's convention
            1 - residual_squares / np.where(constant, 1.0, self.total_squares),
        )
        return float(np.mean(scores))


def _chunk_squared_residuals(X, Y, sample_weight, weights, output_signs, scale):
    with np.errstate(over="ignore", invalid="ignore"):
        outputs = _model.forward(
            X, weights, output_signs, scale, _model.BlockRunner(1)
        ).astype(np.float64)
        residual = Y - outputs
        return sample_weight.astype(np.float64) @ (residual * residual)


def _add(first, second):
    if isinstance(first, tuple):
        return tuple(a + b for a, b in zip(first, second))
    return first + second


def _chunk_loss_and_gradient(X, Y, sample_weight, weights, output_signs, scale):
    return _model.loss_and_gradient(
        X, Y, sample_weight, weights, output_signs, scale, _model.BlockRunner(1)
    )


def _chunk_weight_space_dot(X, Y, sample_weight, weights, direction):
    return _model.ntk_weight_space_dot(
        X, weights, direction, _model.BlockRunner(1), sample_weight=sample_weight
    )


class WeightSpaceNTK(_WeightSpaceNTK):
    """The estimator's weight-space NTK with one task per chunk and product."""

    def __init__(self, rows, input_scale=1.0):
        super().__init__(rows, None, None, input_scale)
        self.rows = rows

    def dot(self, weights, direction):
        s = self.input_scale
        product = self.rows.map_sum(
            _chunk_weight_space_dot, weights / weights.dtype.type(s), direction / s
        )
        return product / product.dtype.type(s)

    def largest_eigenpair(self, weights, random_state, tol=1e-3):
        if self.rows.shape[0] <= _DENSE_MAX_SAMPLES:
            # Small enough to gather: the in-memory path (dense kernel) exactly.
            import dask

            X, _, sample_weight = (
                np.concatenate(parts) for parts in zip(*dask.compute(*self.rows.chunks))
            )
            local = _WeightSpaceNTK(
                X, sample_weight, _model.BlockRunner(1), self.input_scale
            )
            return local.largest_eigenpair(weights, random_state, tol=tol)
        return super().largest_eigenpair(weights, random_state, tol=tol)
