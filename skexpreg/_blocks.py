"""Row blocks and the runner that computes them, serially or on threads.

Owns how an in-memory pass over the rows is cut and scheduled: the block size
(from scikit-learn's ``working_memory`` and the activation width, never from
the number of threads), the thread pool, the BLAS thread limit inside it, and
the thread-local workspaces of the numpy fast path. Results always come back
in block order, so that sums over blocks do not depend on the number of
threads.
"""

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import numpy as np
from joblib import cpu_count, effective_n_jobs
from sklearn import get_config
from threadpoolctl import ThreadpoolController

from skexpreg._array_api import numpy_dtype

# Upper bound on the (block, m) activation matrix of one thread. Blocks that
# fit in the cache keep exp and the two products from streaming through main
# memory; scikit-learn's ``working_memory`` can only make blocks smaller.
_MAX_BLOCK_BYTES = 4 * 2**20
# Rows that fit in one block are split in two halves when each half has at
# least this many rows or this many bytes of activations: enough work for a
# second thread to pay (a 2 MiB float32 block of W1 took 1.4 ms; handing
# blocks to the threads and collecting them, about 0.3 ms a pass).
_MIN_SPLIT_ROWS = 1024
_MIN_SPLIT_BYTES = 2**20


def row_blocks(n_samples, width, dtype):
    """Split ``range(n_samples)`` into row blocks of a (block, ``width``) matrix.

    A block holds at most ``working_memory`` (scikit-learn's configuration,
    in MiB) and at most 4 MiB of (block, width) entries of ``dtype`` (of any
    namespace), and at most half the rows if there are 2,048 or more or
    they hold 2 MiB or more (a mini-batch of 512 rows and 2,048 float32
    neurons: two blocks, so that two threads share it); the block size
    depends only on these and on the shapes, never on the number of
    threads.

    Returns
    -------
    blocks : list of slice
    """
    row_bytes = max(1, width * numpy_dtype(dtype).itemsize)
    working_bytes = get_config()["working_memory"] * 2**20
    block_rows = int(min(working_bytes, _MAX_BLOCK_BYTES) // row_bytes)
    # Rows that would fit in one block but are many, or much work, make two,
    # so that two threads share them (the alpha path's 6,400 rows: a fit 38 %
    # faster; an epoch of 512-row float32 batches on W1: 1.5 times faster).
    if (
        n_samples >= 2 * _MIN_SPLIT_ROWS
        or n_samples * row_bytes >= 2 * _MIN_SPLIT_BYTES
    ):
        block_rows = min(block_rows, -(-n_samples // 2))
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
    blocks are in flight. Use as a context manager (re-entrant: only the
    outermost context stops the threads, which start at the first pass of
    more than one block); outside the context the blocks are computed
    serially, with BLAS as configured.

    ``limit_blas=False`` leaves the BLAS threads alone: for namespaces other
    than numpy, whose products are parallel by themselves (a GPU, or
    PyTorch's own CPU threads) and run with ``n_threads=1``.
    """

    def __init__(self, n_threads=1, limit_blas=True):
        self.n_threads = max(1, int(n_threads))
        self.limit_blas = limit_blas
        self._executor = None
        self._holds_blas = False
        self._depth = 0

    def __enter__(self):
        self._depth += 1
        if self._depth > 1:
            return self
        if self.limit_blas:
            _single_threaded_blas.acquire()
            self._holds_blas = True
        return self

    def __exit__(self, *exc_info):
        self._depth -= 1
        if self._depth > 0:
            return
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._holds_blas:
            self._holds_blas = False
            _single_threaded_blas.release()

    def map(self, func, blocks):
        """Yield ``func(block)`` for each block, in order."""
        blocks = list(blocks)
        if self._depth == 0 or self.n_threads == 1 or len(blocks) < 2:
            for block in blocks:
                yield func(block)
            return
        if self._executor is None:  # started at the first pass that can use it
            self._executor = ThreadPoolExecutor(max_workers=self.n_threads)
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


def threads_for(n_jobs):
    """Threads for ``n_jobs``: None means every core this process may use.

    None follows scikit-learn's BLAS- and OpenMP-backed estimators: as many
    threads as the cores available (``joblib.cpu_count``, which honours CPU
    affinity and container quotas), but no more than the BLAS thread limit in
    force, so that inside a parallel search (where joblib limits each
    worker's BLAS threads) or a ``threadpoolctl`` limit nothing is
    oversubscribed. An integer is joblib's ``n_jobs`` (-1: all cores).
    """
    if n_jobs is not None:
        return effective_n_jobs(n_jobs)
    limits = [
        library["num_threads"]
        for library in _blas_controller().info()
        if library["user_api"] in ("blas", "openmp")
    ]
    return max(1, min([cpu_count(), *limits]))


_controller = []


def _blas_controller():
    """One shared ThreadpoolController: finding the BLAS libraries costs ms."""
    if not _controller:
        _controller.append(ThreadpoolController())
    return _controller[0]


class _SharedBlasLimit:
    """BLAS held at one thread while any runner of this process is inside
    its context, restored when the last one leaves.

    The limit is the process's: runners in concurrent threads that each set
    it and restored it on leaving would restore it under another's feet.
    Note that OpenBLAS (0.3.30) ignores a limit set from a thread other than
    the main one once its threads have started: runners entered in worker
    threads (the chunk tasks of dask's threaded scheduler) do not limit it,
    so :mod:`skexpreg._dask` holds this limit in the calling thread while a
    local scheduler computes.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._limits = None

    def acquire(self):
        with self._lock:
            if self._holders == 0:
                self._limits = _blas_controller().limit(limits=1, user_api="blas")
            self._holders += 1

    def release(self):
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                self._limits.restore_original_limits()
                self._limits = None


_single_threaded_blas = _SharedBlasLimit()

_workspaces = threading.local()


def workspace(name, n_rows, n_cols, dtype):
    """A reusable (n_rows, n_cols) numpy buffer private to the calling thread."""
    size = n_rows * n_cols
    buffer = getattr(_workspaces, name, None)
    if buffer is None or buffer.dtype != dtype or buffer.size < size:
        buffer = np.empty(size, dtype=dtype)
        setattr(_workspaces, name, buffer)
    return buffer[:size].reshape(n_rows, n_cols)
