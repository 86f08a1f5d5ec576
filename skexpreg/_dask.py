"""The dask backend: rows of dask arrays or dataframes, on their cluster.

:class:`DaskRows` implements the row-source primitives of
:mod:`skexpreg._rows`. Every pass over the data applies the same in-memory
function as for numpy input to each row chunk, where the chunk lives, with
the current (d, m) weights, and returns a small partial result per chunk:
on a distributed cluster the training rows are persisted as one run of
chunks per worker thread, placed on its worker, and a pass is one task per
run, submitted with the weights inside it; otherwise one task per chunk,
the weights entering the pass's graph once. The partial results are
combined over a binary tree of the chunks that depends on their number
only, so a step is the same gradient step as in memory (up to the order of
floating-point additions), and the same data give the same fit to the bit
whatever the number of workers, the scheduler and wherever the chunks are.
Nothing here imports dask unless the input is a dask collection; dask is an
optional dependency (``pip install "skexpreg[dask]"``).
"""

import operator
import sys

import numpy as np
from sklearn.utils.validation import _check_feature_names, _check_n_features

from skexpreg import _array_api
from skexpreg._blocks import BlockRunner, threads_for
from skexpreg._rows import InMemoryRows, Rows


def is_dask_collection(value):
    """Whether ``value`` is a dask array or dataframe (without importing dask)."""
    if "dask" not in sys.modules:
        return False
    import dask

    return dask.is_dask_collection(value)


def accepts(X, y=None, sample_weight=None):
    """Whether this backend holds the data: any of them is a dask collection."""
    return any(is_dask_collection(value) for value in (X, y, sample_weight))


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


def fit_rows(estimator, X, y, sample_weight, *, reset, dtype=None, n_jobs=None):
    """Checked dask inputs for fit, as :class:`DaskRows`.

    ``X`` is (n, d) with all columns in one chunk, ``Y`` (n, k) and
    ``sample_weight`` (n,) chunked like its rows; all in ``dtype`` (``X``'s if
    float32, else float64, unless given). Finiteness, non-negative weights and
    a positive total weight are checked in one pass over the data.
    """
    import dask
    import dask.array as da

    if not is_dask_collection(X):
        raise TypeError(
            "y or sample_weight is a dask collection but X is not; pass "
            "X as a dask array (or dask dataframe) too."
        )
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
    raw = (X, Y if y_ndim == 2 else Y[:, 0], sample_weight)
    return DaskRows(X, Y, sample_weight, n_threads=threads_for(n_jobs), raw=raw)


def predict_rows(estimator, X, weights, *, n_jobs=None):
    """Checked dask ``X`` for predict, all columns in one chunk, as DaskRows."""
    X = _checked_X(estimator, X, reset=False)
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    dtype = np.result_type(dtype, weights.dtype)
    return DaskRows(X.rechunk({1: -1}).astype(dtype))


class DaskRows(Rows):
    """Row chunks of dask arrays: ``X`` (n, d) with all columns in one chunk,
    ``Y`` (n, k) and ``sample_weight`` (n,) chunked like its rows.

    Until the source is entered, every pass computes the chunks from their
    sources; inside ``with rows:`` training rows are persisted in
    (distributed) memory once, and every pass reads them where they live
    (rows to predict stay lazy: ``predict`` returns a lazy array).
    """

    small_passes_are_cheap = False

    def __init__(self, X, Y=None, sample_weight=None, *, n_threads=1, raw=None):
        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.shape, self.dtype = X.shape, X.dtype
        self.n_threads, self.raw = n_threads, raw
        # The chunks' results, combined on the client, are numpy arrays.
        self.xp, self.device = _array_api.namespace(np.zeros(0))[0], None
        self._persisted = self._groups = self._client = None

    def _copy(self, X=None, Y=None, sample_weight=None):
        rows = DaskRows(
            self.X if X is None else X,
            self.Y if Y is None else Y,
            self.sample_weight if sample_weight is None else sample_weight,
            n_threads=self.n_threads,
            raw=self.raw,
        )
        rows.scale, rows._keys, rows._copies = self.scale, self._keys, self._copies
        return rows

    def __enter__(self):
        import dask

        if self.Y is None:  # rows to predict: map_rows stays lazy
            return self
        aligned = [
            array.map_blocks(_aligned, dtype=array.dtype)
            for array in (self.X, self.Y, self.sample_weight)
        ]
        client = _distributed_client()
        if client is None:
            # The persisted arrays hold the references to the chunks: the
            # delayed views of map_reduce name the chunks but do not keep
            # them alive.
            self._persisted = dask.persist(*aligned)
        else:
            self._client = client
            self._groups = _persist_on_threads(client, aligned)
        return self

    def __exit__(self, *exc_info):
        self._persisted = self._groups = self._client = None

    def _chunks(self):
        return _chunk_views(self._persisted or (self.X, self.Y, self.sample_weight))

    def map_reduce(self, function, *operands, combine=operator.add):
        """One result per chunk, combined over a fixed binary tree of chunks.

        Rows persisted on a distributed cluster: one task per run of chunks
        (:func:`_persist_on_threads`), submitted to the client directly,
        with the operands inside each task: a task per chunk costs the
        scheduler a round trip each, and a graph through ``dask.compute``
        (tokenised, then unpacked) about 10 ms a pass. Each task combines
        the subtrees that lie within its run (:func:`_run_subtrees`) and
        returns those few, not every chunk's result. Otherwise one task per
        chunk, the operands entering the graph once. The tree depends on
        the number of chunks only, so the result is the same to the bit
        whatever the runs, the workers or the scheduler.
        """
        if self._groups:
            futures = [
                self._client.submit(
                    _run_subtrees,
                    function,
                    combine,
                    run[0],
                    chunks,
                    *operands,
                    pure=False,
                )
                for run, chunks in self._groups
            ]
            known = {}
            for subtrees in self._client.gather(futures):
                known.update(subtrees)
        else:
            import dask

            shared = [dask.delayed(operand, traverse=False) for operand in operands]
            task = dask.delayed(_reduce_chunks, pure=True)
            # The tasks of a local scheduler run in this process's threads,
            # where OpenBLAS ignores a thread limit set inside a task once its
            # pool has started (OpenBLAS 0.3.30): held from here, the limit
            # holds for them all. Left to each task, products ran on one or
            # two threads depending on timing, and two fits differed.
            with BlockRunner(1):
                results = dask.compute(
                    *(task(function, [chunk], *shared) for chunk in self._chunks())
                )
            known = {(index, 1): part for index, (part,) in enumerate(results)}
        count = len(self.X.chunks[0])
        return _subtree(known, 0, 1 << (count - 1).bit_length(), count, combine)

    def map_rows(self, function, *operands, n_outputs=None):
        """A lazy dask array with the row chunks of ``X``."""
        dtype = self.dtype
        if n_outputs is None:
            return self.X.map_blocks(
                _rows_chunk,
                function,
                *operands,
                drop_axis=1,
                dtype=dtype,
                meta=np.empty((0,), dtype),
            )
        return self.X.map_blocks(
            _rows_chunk,
            function,
            *operands,
            chunks=(self.X.chunks[0], (n_outputs,)),
            dtype=dtype,
            meta=np.empty((0, 0), dtype),
        )

    def with_inputs(self, function, *operands, dtype=None):
        dtype = self.dtype if dtype is None else dtype
        return self._copy(X=self.X.map_blocks(function, *operands, dtype=dtype))

    def with_targets(self, function, *operands):
        return self._copy(Y=self.Y.map_blocks(function, *operands, dtype=self.dtype))

    def astype(self, dtype):
        return self._copy(
            *(
                None if array is None else array.astype(dtype)
                for array in (self.X, self.Y, self.sample_weight)
            )
        )

    def take(self, indices):
        """The rows at ``indices`` (increasing: each chunk keeps its own rows)."""
        rows = self._copy(
            *(
                None if array is None else array[indices]
                for array in (self.X, self.Y, self.sample_weight)
            )
        )
        rows._keys = None if self._keys is None else self._keys[indices]
        rows._copies = None
        return rows

    def with_weights(self, weights):
        import dask.array as da

        weights = np.asarray(weights, dtype=self.dtype)
        return self._copy(sample_weight=da.from_array(weights, chunks=self.X.chunks[0]))

    def gather(self):
        import dask

        return dask.compute(self.X, self.Y, self.sample_weight)

    def in_memory(self):
        """The rows, computed into this process, as an in-memory source with
        the estimator's threads (the same scale)."""
        rows = InMemoryRows(*self.gather(), n_threads=self.n_threads)
        rows.scale, rows._keys, rows._copies = self.scale, self._keys, self._copies
        return rows


def _aligned(chunk):
    """``chunk``, copied if its data is not aligned to its item size.

    A chunk unpickled from a network frame may start at any byte; numpy's
    matrix product copies such an operand before every call to BLAS, which
    on a worker (whose glibc returns freed memory at once, under distributed's
    ``MALLOC_TRIM_THRESHOLD_``) costs a mmap and its page faults per block:
    a step on 100,000 rows took 106 ms instead of 94.
    """
    return chunk if chunk.flags.aligned else chunk.copy()


def _reduce_chunks(function, chunks, *operands):
    """``function``'s result on each ``(X, Y, sample_weight)`` chunk, in
    order, all with one single-threaded runner (entered once)."""
    with BlockRunner(1) as runner:
        return [function(*chunk, *operands, runner) for chunk in chunks]


def _run_subtrees(function, combine, first, chunks, *operands):
    """The combined results of the largest subtrees of chunks (see
    :func:`_subtree`) that lie within the run of ``chunks`` starting at
    chunk ``first``: ``{(start, size): result}``."""
    end = first + len(chunks)
    known = {
        (first + offset, 1): part
        for offset, part in enumerate(_reduce_chunks(function, chunks, *operands))
    }
    subtrees, start = {}, first
    while start < end:
        size = start & -start or 1 << (end - start).bit_length()
        while start + size > end:
            size //= 2
        subtrees[start, size] = _subtree(known, start, size, end, combine)
        start += size
    return subtrees


def _subtree(known, start, size, count, combine):
    """The results of chunks ``start`` to ``start + size`` (a power of two,
    ``start`` a multiple of it; chunks from ``count`` on are absent),
    combined as a binary tree: each half first, then the halves. Subtrees
    already in ``known`` (by ``(start, size)``) are taken from there."""
    if (start, size) in known:
        return known[start, size]
    half = size // 2
    left = _subtree(known, start, half, count, combine)
    if start + half >= count:
        return left
    return _combine(combine, left, _subtree(known, start + half, half, count, combine))


def _distributed_client():
    """The distributed client that ``dask.persist`` would use, or None."""
    try:
        from distributed import get_client
    except ImportError:
        return None
    from dask.base import get_scheduler

    try:
        client = get_client()
    except ValueError:  # no client
        return None
    scheduler = get_scheduler()
    return client if getattr(scheduler, "__self__", None) is client else None


def _persist_on_threads(client, arrays):
    """Persist the row chunks of ``arrays`` (X, Y, sample_weight) as one run
    of consecutive chunks per worker thread, balanced by rows.

    Returns ``[(chunk indices, future of the list of their (X, Y,
    sample_weight))]``, one per run: a pass is then one task per run, where
    the run lives. Each run is placed on its thread's worker (loosely: the
    scheduler may use another if that one is gone); the threads are taken
    worker by worker in turn, so that a few chunks spread over the workers.
    The chunks are computed (or moved) there once.
    """
    import dask

    threads = sorted(client.nthreads().items())
    slots = [
        address
        for turn in range(max((count for _, count in threads), default=1))
        for address, count in threads
        if turn < count
    ]
    sizes = arrays[0].chunks[0]
    runs = _balanced_runs(
        list(range(len(sizes))), list(sizes), max(1, min(len(slots), len(sizes)))
    )
    chunks = _chunk_views(arrays)
    return [
        (
            run,
            client.compute(
                dask.delayed([chunks[index] for index in run]),
                workers=address,
                allow_other_workers=True,
            ),
        )
        for run, address in zip(runs, slots or [None] * len(runs))
    ]


def _chunk_views(arrays):
    """``(X, Y, sample_weight)`` delayed views of each row chunk, in order."""
    return list(zip(*(array.to_delayed().ravel() for array in arrays)))


def _balanced_runs(indices, sizes, count):
    """``indices`` cut into ``count`` consecutive runs of about equal total size."""
    ends = np.cumsum(sizes)
    cuts = np.searchsorted(ends, ends[-1] * np.arange(1, count) / count, side="right")
    return [run.tolist() for run in np.split(np.asarray(indices), cuts) if run.size]


def _rows_chunk(X, function, *operands):
    return function(X, *operands, BlockRunner(1))


def _combine(combine, first, second):
    if isinstance(first, tuple):
        return tuple(combine(a, b) for a, b in zip(first, second))
    return combine(first, second)
