"""Vectorised float32 and float64 exponentials for large blocks, with numba.

numpy's ``exp`` is the largest part of a gradient step after the two matrix
products, and how fast it is depends on the processor: its float64 loop is
vectorised only with AVX-512 (elsewhere it calls the scalar C library once
per element), and its float32 loop, vectorised everywhere, is about twice
as slow per element with AVX2 as with AVX-512. With the optional ``numba``
dependency (``pip install "skexpreg[fast]"``) this module compiles, for each
of the two widths, a loop that the compiler vectorises for the processor it
runs on (:mod:`skexpreg._fastexp_kernel`: Cody and Waite's range reduction,
a Taylor polynomial by fused multiply-adds, the power of two added to the
exponent bits).

Accuracy: float64 results are within one unit in the last place (ulp) of
numpy's; float32 results are within one ulp of the correctly rounded
``exp`` (numpy's float32 ``exp`` is within three). Inputs outside the
interval where the result is a normal number (``[-708, 709]`` in float64,
``[-87, 88]`` in float32) and NaN are flagged; the caller then recomputes the
block with numpy, so overflow to ``inf`` and underflow behave exactly as
with ``numpy.exp``.

Each kernel is used only where it is faster. The first time a large block
of a width needs an exponential, numba is imported (about 100 MiB and 0.3 to
0.7 s, once per process), one block is timed with the kernel and with
``numpy.exp``, and the faster one is kept for that width for the process.
Set the environment variable ``SKEXPREG_NUMBA=0`` to never use the kernels,
``SKEXPREG_NUMBA=1`` to always use them.
"""

import os
import threading
import time
import warnings

import numpy as np

# Blocks smaller than this use numpy: compiling the kernel (once per process
# unless numba's on-disk cache has it) would cost more than it saves.
MIN_ELEMENTS = 2**16

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_chosen = {}  # dtype -> the kernel in use for it, or None for numpy's exp
_lock = threading.Lock()


def exp_inplace(Z):
    """``numpy.exp(Z, out=Z)`` for a C-contiguous float32 or float64 ``Z``.

    Returns True when done. Returns None, with ``Z`` untouched, when no
    kernel applies: numba is missing or disabled, numpy's exp is faster
    here, or ``Z`` is of another dtype, not C-contiguous or small. Returns
    False when some entry was outside the kernel's interval or NaN: ``Z`` is
    then garbage and the caller recomputes it and uses ``numpy.exp``.
    """
    if Z.dtype not in _DTYPES or Z.size < MIN_ELEMENTS or not Z.flags.c_contiguous:
        return None
    kernel = _kernel_for(Z.dtype)
    if kernel is None:
        return None
    return not kernel(Z.reshape(-1))


def available(dtype=np.float64):
    """Whether blocks of ``dtype`` use a compiled kernel in this process."""
    dtype = np.dtype(dtype)
    return dtype in _DTYPES and _kernel_for(dtype) is not None


def _kernel_for(dtype):
    kernel = _chosen.get(dtype, False)
    if kernel is False:
        with _lock:  # the first blocks may arrive on several threads at once
            if dtype not in _chosen:
                _chosen[dtype] = _choose(dtype)
            kernel = _chosen[dtype]
    return kernel


def _choose(dtype):
    choice = os.environ.get("SKEXPREG_NUMBA", "auto")
    if choice == "0":
        return None
    kernel = load_kernel(dtype)
    if kernel is None or (choice != "1" and not _faster_than_numpy(kernel, dtype)):
        return None
    return kernel


def load_kernel(dtype=np.float64):
    """The compiled kernel for ``dtype``, or None without numba (or if it
    cannot compile)."""
    try:
        import numba  # noqa: F401
    except ImportError:  # the optional dependency is not installed
        return None
    try:
        from skexpreg import _fastexp_kernel
    except Exception as error:  # a numba that cannot compile them here
        warnings.warn(
            f"numba is installed but could not compile skexpreg's exp kernels "
            f"({type(error).__name__}: {error}); numpy's exp is used instead.",
            RuntimeWarning,
        )
        return None
    if np.dtype(dtype) == np.float32:
        return _fastexp_kernel.exp_flat32
    return _fastexp_kernel.exp_flat64


def _faster_than_numpy(kernel, dtype, repeats=7):
    """Whether ``kernel`` beats ``numpy.exp`` on ``dtype`` here by 5 % or more.

    One block of MIN_ELEMENTS typical pre-activations, best of ``repeats``
    runs each: about a millisecond, once per width and process, after the
    compilation. Measured on an AMD EPYC, in ns per element (numpy, kernel):
    float32 0.45 and 0.21 with AVX-512, 1.02 and 0.31 with AVX2; float64
    0.79 and 0.65 with AVX-512, 4.1 and 1.07 with AVX2
    (``benchmarks/exp_kernels.py``).
    """
    values = np.linspace(-4.0, 4.0, MIN_ELEMENTS, dtype=dtype)
    kernel(values.copy())  # compiled, and its code in the cache

    def best_time(function):
        best = np.inf
        for _ in range(repeats):
            block = values.copy()
            start = time.perf_counter()
            function(block)
            best = min(best, time.perf_counter() - start)
        return best

    return best_time(kernel) < 0.95 * best_time(lambda block: np.exp(block, out=block))
