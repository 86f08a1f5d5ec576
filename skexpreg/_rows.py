"""Training and prediction rows: one protocol, whatever holds the data.

A *row source* holds the rows ``X`` the network sees (divided by
``scale``), their targets ``Y`` (n, k) and sample weights (n,), and
answers everything a fit needs of the data: the loss and its gradient, the
tangent-kernel products of the step-size estimate, the network's outputs,
weighted sums for the scalings and the validation score, and a validation
split. Everything is built on the primitives that a backend implements:

``map_reduce(function, *operands, combine=operator.add)``
    ``function(X, Y, sample_weight, *operands, runner)`` on every in-memory
    piece of the rows, combined in a fixed order. The functions are the pure
    array functions of :mod:`skexpreg._network` and
    :mod:`skexpreg._preprocessing`; a piece is all the rows in memory and
    one row chunk on a cluster.
``map_rows(function, *operands, n_outputs)``
    ``function(X, *operands, runner)`` on every piece, concatenated along
    the rows (lazily where the backend is lazy).
``with_inputs(function, *operands, dtype=None)`` / ``with_targets(function, *operands)``
    The same source with ``X`` (``Y``) replaced by ``function(X, *operands)``;
    new inputs are in ``dtype`` (None: the rows'), and ``function`` gets the
    in-memory source's block runner as ``runner`` (a chunk on a cluster: none).
``take(indices)``, ``astype(dtype)``, ``gather()``, ``in_memory()``
    A selection of rows, the same rows in another dtype (the training
    precision), the rows as numpy arrays on the host, and the rows as an
    in-memory source in this process (for a few rows that many small
    passes will go over).

:class:`InMemoryRows` holds numpy arrays, scipy sparse CSR matrices (the
rows as the network sees them may be centred sparse rows,
:mod:`skexpreg._sparse`) or arrays of any array API namespace (on their
device); :mod:`skexpreg._dask` holds dask arrays on a cluster.
:func:`fit_rows` and :func:`predict_rows` validate the input and choose the
source, once per call of ``fit`` or ``predict``; nothing below asks which
backend it has.
"""

import importlib
import operator

import numpy as np
from scipy import sparse
from sklearn.utils.validation import _check_sample_weight, validate_data

from skexpreg import _array_api, _keys, _network, _preprocessing, _sparse
from skexpreg._blocks import BlockRunner, threads_for


class Rows:
    """What a fit asks of its rows; subclasses implement the primitives.

    Attributes
    ----------
    shape : tuple of int
        ``(n_samples, n_features)`` of ``X``.
    dtype : dtype
        Of ``X`` and of the arrays computed from it.
    scale : float
        The network sees ``X / scale`` (folded into the weights).
    raw : tuple
        ``(X, y, sample_weight)`` as the caller passed them after
        validation (``y`` 1-D for a 1-D target), for scikit-learn's callbacks.
    """

    scale = 1.0
    _total_squares = None
    _keys = _copies = None
    # Whether a pass over a small batch of rows costs little beyond its
    # arithmetic (in memory), so that solver="auto" may choose mini-batches;
    # on a cluster every pass is a round trip through the scheduler.
    small_passes_are_cheap = True

    # The primitives: see the module docstring.

    def map_reduce(self, function, *operands, combine=operator.add):
        raise NotImplementedError

    def map_rows(self, function, *operands, n_outputs=None):
        raise NotImplementedError

    def with_inputs(self, function, *operands, dtype=None):
        raise NotImplementedError

    def with_targets(self, function, *operands):
        raise NotImplementedError

    def take(self, indices):
        raise NotImplementedError

    def astype(self, dtype):
        """The same rows with ``X``, ``Y`` and the weights in ``dtype``."""
        raise NotImplementedError

    def gather(self):
        raise NotImplementedError

    def in_memory(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    # What the fit asks, written once on the primitives.

    @property
    def n_samples(self):
        return self.shape[0]

    def with_scale(self, scale):
        """The same rows, seen divided by ``scale`` (no copy)."""
        rows = self._copy()
        rows.scale = float(scale)
        return rows

    def random_rows(self, size, random_state):
        """``size`` distinct rows chosen at random, in their order
        (:func:`skexpreg._keys.subsample`: copies of a row are kept or left
        together); all the rows if there are no more."""
        if self.n_distinct() <= size:
            return self
        keys = _keys.seeded(self.content_keys(), _seed(random_state))
        return self.take(_keys.subsample(keys, size))

    def content_keys(self):
        """Each row's content key (:func:`skexpreg._keys.content_keys`),
        uint64 (n,) on the host: computed once, and kept by the rows'
        selections, copies and maps (a map sends copies to copies)."""
        if self._keys is None:
            self._keys = self.map_reduce(_content_keys, combine=_concatenate)
        return self._keys

    def host_weights(self):
        """The sample weights, float64 (n,) on the host."""
        return self.map_reduce(_weights, combine=_concatenate)

    def with_relative_weights(self):
        """The rows of positive weight, weighted relative to the mean weight
        of a distinct row.

        The weights are divided by the mean over the distinct rows (copies
        of a row count once, with their weights added), so that their sum
        is the number of distinct rows: a common factor of all the weights
        (1e-300 or 1e300 alike) changes nothing, and a row of weight 3
        weighs as its three copies would. Rows of zero weight (or under
        float64's resolution, 2**-52, of the total) are dropped, as if they
        had not been passed. Unit weights on rows without
        copies are kept as they are.
        """
        weights = self.host_weights()
        largest = float(np.max(weights))
        relative = weights / largest  # in [0, 1]: its sum cannot overflow
        # A weight under float64's resolution of the total changes no sum:
        # such rows count as zero (they would only add round-off, which the
        # input map would magnify where one row holds all the weight).
        positive = relative > np.finfo(np.float64).eps * float(np.sum(relative))
        rows = self
        if not positive.all():
            rows = self.take(np.flatnonzero(positive))
            relative = relative[positive]
        factor = rows.n_distinct() / float(np.sum(relative))
        if largest == 1.0 and factor == 1.0:
            return rows
        return rows.with_weights(relative * factor)

    def with_weights(self, weights):
        """The same rows with the sample weights ``weights`` (host, (n,))."""
        raise NotImplementedError

    def folds(self, n_folds, random_state):
        """``n_folds`` ``(fit, held_out)`` sources: a random cut of the
        distinct rows into parts of equal size (:func:`skexpreg._keys.folds`:
        copies of a row in one part), each source's rows in increasing order."""
        keys = _keys.seeded(self.content_keys(), _seed(random_state))
        return [
            (self.take(fit), self.take(held_out))
            for fit, held_out in _keys.folds(keys, n_folds)
        ]

    def loss_and_gradient(self, weights, output_signs):
        """Data loss (float) and its (d, m) gradient at ``weights``."""
        loss, gradient = self.map_reduce(
            _network.loss_and_gradient, weights, output_signs, self.scale
        )
        return float(loss), gradient

    def weight_space_dot(self, weights, direction):
        """``Phi^T S Phi u`` of the rows as the network sees them, (d, m)."""
        s = self.scale
        product = self.map_reduce(
            _weight_space_dot,
            weights / _array_api.scalar(s, weights),
            direction / s,
        )
        return product / _array_api.scalar(s, product)

    def largest_kernel_diagonal(self, weights):
        """``max_i s_i H(W)_ii`` of the rows as the network sees them,
        copies of a row counting as one row with their weights added."""
        s = self.scale
        weights = weights / _array_api.scalar(s, weights)
        if self.n_distinct() == self.n_samples:
            largest = self.map_reduce(_largest_kernel_diagonal, weights, combine=max)
        else:
            entries = self.map_reduce(_kernel_diagonal, weights, combine=_concatenate)
            order, starts, _ = self.copies()
            largest = np.max(np.add.reduceat(entries[order], starts))
        return float(largest) / (s * s)

    def batches(self, batch_size, random_state):
        """One pass over the rows in random batches of ``batch_size``
        distinct rows, each with its copies.

        Yields ``(share, rows)``: the distinct rows (groups of copies, in
        the order of their content keys) in a random permutation cut into
        ``ceil(n / batch_size)`` consecutive batches whose sizes differ by
        at most one (a last batch of a few rows, its gradient scaled up by
        ``n / b``, made the stochastic solver's epochs noisy: on diamonds a
        last batch of 57 rows cost 30 % more epochs), ``share`` the batch's
        fraction of the distinct rows, and each batch's rows in increasing
        order. So the same seed
        draws the same rows whatever holds them or in whatever order, and
        copies of a row take the step their weight would. A batch of all
        the rows is this source itself.
        """
        order, starts, counts = self.copies()
        n_distinct = len(starts)
        if batch_size >= n_distinct:
            yield 1.0, self
            return
        permutation = random_state.permutation(n_distinct)
        copies = n_distinct < self.n_samples
        n_batches = -(-n_distinct // batch_size)
        for groups in np.array_split(permutation, n_batches):
            rows = _ranges(starts[groups], counts[groups]) if copies else groups
            yield len(groups) / n_distinct, self.take(np.sort(order[rows]))

    def copies(self):
        """The rows in groups of copies: ``(order, starts, counts)``, the
        rows in the order of their content keys (:meth:`content_keys`) and
        where each group starts in it and how many rows it has. Computed
        once for a source and its copies and maps."""
        if self._copies is None:
            order, first = _keys.groups(self.content_keys())
            starts = np.flatnonzero(first)
            self._copies = order, starts, np.diff(np.append(starts, len(order)))
        return self._copies

    def n_distinct(self):
        """The number of distinct rows (groups of copies)."""
        return len(self.copies()[1])

    def squared_errors(self, weights, output_signs):
        """Weighted sums of squared residuals per output, float64 (k,)."""
        return self.map_reduce(_squared_errors, weights, output_signs, self.scale)

    def r2_terms(self, weights, output_signs):
        """Each row's share of the R² deficit, float64 (n,) on the host:
        ``r2_score`` is ``1 - sum`` of them (outputs with a constant target
        add nothing)."""
        errors = self.map_reduce(
            _row_squared_errors, weights, output_signs, self.scale, combine=_concatenate
        )
        total = self._r2_denominator()
        with np.errstate(over="ignore", invalid="ignore"):
            terms = np.where(total > 0, errors / np.where(total > 0, total, 1.0), 0.0)
        return terms.mean(axis=1)

    def _r2_denominator(self):
        if self._total_squares is None:
            self._total_squares = _array_api.to_numpy(
                _preprocessing.total_squares(self)
            )
        return self._total_squares

    def r2_score(self, weights, output_signs):
        """Weighted R² of the network on these rows, averaged over outputs.

        scikit-learn's :func:`~sklearn.metrics.r2_score` conventions (a
        constant target scores 1 if predicted exactly, else 0), computed
        from weighted sums of squares, so that a cluster sends back only
        (k,) vectors; -inf when the network overflows.
        """
        total = self._r2_denominator()
        residual = _array_api.to_numpy(self.squared_errors(weights, output_signs))
        if not np.isfinite(residual).all():
            return -np.inf
        constant = total == 0
        scores = np.where(
            constant,
            np.where(residual == 0, 1.0, 0.0),
            1 - residual / np.where(constant, 1.0, total),
        )
        return float(np.mean(scores))

    def total_weight(self):
        """The sum of the sample weights, a float."""
        return float(self.map_reduce(_preprocessing._total_weight))

    def squared_targets(self):
        """``1/2 sum_i s_i ||y_i||^2``, the loss of the zero network."""
        return float(self.map_reduce(_half_squared_targets))

    def outputs(self, function, *operands, n_outputs=None):
        """``function(X_seen, *operands, scale, runner)`` along the rows."""
        return self.map_rows(function, *operands, self.scale, n_outputs=n_outputs)

    def split(self, test_size, random_state):
        """``(train, test)`` sources: ``test_size`` of the distinct rows
        (rounded up) held out at random (:func:`skexpreg._keys.split`:
        copies of a row on one side), each kept in increasing order."""
        keys = _keys.seeded(self.content_keys(), _seed(random_state))
        train, test = _keys.split(keys, test_size)
        return self.take(train), self.take(test)


class InMemoryRows(Rows):
    """Rows in this process: numpy, scipy sparse (CSR) or any array API namespace.

    numpy and sparse rows are processed in blocks by ``n_threads`` threads
    (BLAS limited to one thread each, see :class:`~skexpreg._blocks.BlockRunner`);
    other namespaces compute each block with their own parallelism. Use as a
    context manager to hold the threads for several passes.
    """

    def __init__(self, X, Y=None, sample_weight=None, *, n_threads=1, raw=None):
        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.shape, self.dtype = X.shape, X.dtype
        self.xp, is_numpy = _array_api.namespace(X)
        self.is_numpy = is_numpy
        self.device = None if is_numpy else _array_api.device_of(X)
        self.n_threads = n_threads if is_numpy else 1
        self.runner = BlockRunner(self.n_threads, limit_blas=is_numpy)
        self.raw = raw

    def __enter__(self):
        self.runner.__enter__()
        return self

    def __exit__(self, *exc_info):
        self.runner.__exit__(*exc_info)

    def _copy(self, X=None, Y=None, sample_weight=None):
        rows = InMemoryRows.__new__(InMemoryRows)
        rows.__dict__.update(self.__dict__)
        for name, value in (("X", X), ("Y", Y), ("sample_weight", sample_weight)):
            if value is not None:
                setattr(rows, name, value)
        rows.shape, rows.dtype = rows.X.shape, rows.X.dtype
        rows._total_squares = None
        return rows

    def map_reduce(self, function, *operands, combine=operator.add):
        with self.runner:
            return function(self.X, self.Y, self.sample_weight, *operands, self.runner)

    def map_rows(self, function, *operands, n_outputs=None):
        return function(self.X, *operands, self.runner)

    def with_inputs(self, function, *operands, dtype=None):
        with self.runner:
            return self._copy(X=function(self.X, *operands, runner=self.runner))

    def with_targets(self, function, *operands):
        return self._copy(Y=function(self.Y, *operands))

    def astype(self, dtype):
        return self._copy(
            *(
                None if array is None else _astype(array, dtype)
                for array in (self.X, self.Y, self.sample_weight)
            )
        )

    def take(self, indices):
        if self.is_numpy:  # numpy arrays and sparse matrices
            select = operator.itemgetter(indices)
        else:
            device_indices = self.xp.asarray(indices, device=self.device)

            def select(array):
                return self.xp.take(array, device_indices, axis=0)

        rows = self._copy(
            *(
                None if array is None else select(array)
                for array in (self.X, self.Y, self.sample_weight)
            )
        )
        rows._keys = None if self._keys is None else self._keys[indices]
        rows._copies = None
        return rows

    def with_weights(self, weights):
        weights = np.asarray(weights, dtype=_array_api.numpy_dtype(self.dtype))
        return self._copy(sample_weight=_array_api.from_host(weights, self))

    def in_memory(self):
        return self

    def gather(self):
        to_host = _array_api.to_numpy
        return tuple(
            array if array is None or _sparse.issparse(array) else to_host(array)
            for array in (self.X, self.Y, self.sample_weight)
        )


def fit_rows(estimator, X, y, sample_weight, *, reset, dtype=None, n_jobs=None):
    """Validated training rows, in the backend that holds ``X``.

    ``Y`` is (n, k) in ``dtype`` (that of ``X`` unless given: float32 stays
    float32, everything else becomes float64, or float32 on devices without
    float64); sparse ``X`` becomes CSR; with array API dispatch ``y`` and
    ``sample_weight`` move to the namespace and device of ``X``. Sample
    weights must be non-negative with a positive sum.
    """
    backend = _backend_for(X, y, sample_weight)
    if backend is not None:
        return backend.fit_rows(
            estimator, X, y, sample_weight, reset=reset, dtype=dtype, n_jobs=n_jobs
        )
    xp, device = _array_api.namespace_and_device(X)
    y = _array_api.follow(y, xp, device)
    sample_weight = _array_api.follow(sample_weight, xp, device)
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse=("csr", "csc"),
        dtype=_array_api.float_dtypes(xp, device),
        multi_output=True,
        y_numeric=True,
        reset=reset,
    )
    if sparse.issparse(X):
        X = _canonical_csr(X)
    dtype = X.dtype if dtype is None else dtype
    xp, _ = _array_api.namespace(X)
    X = xp.astype(X, dtype, copy=False) if not sparse.issparse(X) else X.astype(dtype)
    Y = xp.reshape(xp.astype(xp.asarray(y), dtype), (X.shape[0], -1))
    sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
    if _array_api.any_true(sample_weight < 0):
        raise ValueError("sample_weight must be non-negative.")
    if not _array_api.total(sample_weight) > 0:
        raise ValueError("sample_weight must contain at least one positive value.")
    raw = (X, Y if y.ndim == 2 else Y[:, 0], sample_weight)
    return InMemoryRows(X, Y, sample_weight, n_threads=threads_for(n_jobs), raw=raw)


def predict_rows(estimator, X, weights, *, n_jobs=None):
    """Validated rows to predict with ``weights``, in the backend that holds ``X``.

    In the dtype of ``weights``, or float64 if ``X`` is float64; sparse ``X``
    becomes CSR; a ``ValueError`` if ``weights`` are of another namespace.
    """
    backend = _backend_for(X)
    if backend is not None:
        return backend.predict_rows(estimator, X, weights, n_jobs=n_jobs)
    xp, device = _array_api.namespace_and_device(X)
    X = validate_data(
        estimator,
        X,
        accept_sparse=("csr", "csc"),
        dtype=_array_api.float_dtypes(xp, device),
        reset=False,
    )
    X = _canonical_csr(X) if sparse.issparse(X) else X
    xp, is_numpy = _array_api.namespace(X)
    if _array_api.namespace(weights)[1] != is_numpy:
        raise ValueError(
            "The model was fitted on arrays of another namespace (with "
            "scikit-learn's array_api_dispatch on): predict with dispatch on "
            "and inputs of that namespace and device."
        )
    if is_numpy:
        X = X.astype(np.result_type(X.dtype, weights.dtype), copy=False)
    else:
        X = xp.astype(X, xp.result_type(X.dtype, weights.dtype), copy=False)
    return InMemoryRows(X, n_threads=threads_for(n_jobs))


def _canonical_csr(X):
    """``X`` as CSR without duplicate entries (summed, in a copy if needed):
    the input map clips each entry, and clips the sum of duplicates."""
    X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


# Backends other than in-memory rows: modules with ``accepts(X, y,
# sample_weight)``, ``fit_rows`` and ``predict_rows`` (signatures as below),
# imported when first asked, so that none of their packages is imported
# before it is needed.
_BACKENDS = ("skexpreg._dask",)


def _backend_for(X, y=None, sample_weight=None):
    for name in _BACKENDS:
        backend = importlib.import_module(name)
        if backend.accepts(X, y, sample_weight):
            return backend
    return None


def _weight_space_dot(X, Y, sample_weight, weights, direction, runner):
    return _network.ntk_weight_space_dot(
        X, weights, direction, runner, sample_weight=sample_weight
    )


def _largest_kernel_diagonal(X, Y, sample_weight, weights, runner):
    return _network.ntk_largest_diagonal(X, weights, runner, sample_weight)


def _kernel_diagonal(X, Y, sample_weight, weights, runner):
    entries = _network.ntk_diagonal(X, weights, runner, sample_weight)
    return np.asarray(_array_api.to_numpy(entries), dtype=np.float64)


def _ranges(starts, counts):
    """The indices ``starts[k] .. starts[k] + counts[k] - 1`` for every k,
    concatenated."""
    ends = np.cumsum(counts)
    return np.repeat(starts - ends + counts, counts) + np.arange(ends[-1])


def _squared_errors(X, Y, sample_weight, weights, output_signs, scale, runner):
    """``sum_i s_i (y_i - F(x_i))^2`` per output, in float64."""
    xp, _ = _array_api.namespace(Y)
    with np.errstate(over="ignore", invalid="ignore"):
        outputs = _network.forward(X, weights, output_signs, scale, runner)
        dtype = _preprocessing._moment_dtype(Y)
        residual = xp.astype(Y, dtype) - xp.astype(outputs, dtype)
        return xp.astype(sample_weight, dtype) @ (residual * residual)


def _row_squared_errors(X, Y, sample_weight, weights, output_signs, scale, runner):
    """``s_i (y_i - F(x_i))^2`` per row and output, float64 (n, k) on the host."""
    with np.errstate(over="ignore", invalid="ignore"):
        outputs = _network.forward(X, weights, output_signs, scale, runner)
        Y, outputs, sample_weight = (
            np.asarray(_array_api.to_numpy(a), dtype=np.float64)
            for a in (Y, outputs, sample_weight)
        )
        residual = Y - outputs.reshape(Y.shape)
        return sample_weight[:, None] * residual * residual


def _seed(random_state):
    """A seed for the row keys, drawn from ``random_state``."""
    return int(random_state.randint(np.iinfo(np.int32).max))


def _content_keys(X, Y, sample_weight, runner):
    if not (_sparse.issparse(X) or isinstance(X, np.ndarray)):
        X, Y = _array_api.to_numpy(X), _array_api.to_numpy(Y)
    return _keys.content_keys(X, Y)


def _weights(X, Y, sample_weight, runner):
    return np.asarray(_array_api.to_numpy(sample_weight), dtype=np.float64)


def _concatenate(first, second):
    return np.concatenate([first, second])


def _half_squared_targets(X, Y, sample_weight, runner):
    weighted = Y * sample_weight[:, None]
    return 0.5 * _array_api.inner(weighted, Y, float64=True)


def _astype(array, dtype):
    # Values beyond the new dtype's range become inf without a warning: the
    # fit's checks of the rows and the initial loss name the problem.
    with np.errstate(over="ignore"):
        if isinstance(array, _sparse.CentredSparse):
            return array.astype(dtype)
        if _sparse.issparse(array):
            return array.astype(dtype, copy=False)
        xp, _ = _array_api.namespace(array)
        return xp.astype(array, dtype, copy=False)
