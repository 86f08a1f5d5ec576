"""A vectorised float64 exponential for large blocks, when numba is installed.

numpy's float64 ``exp`` is vectorised only on processors with AVX-512; on
others it calls the scalar C library once per element, and the exponential
then dominates a gradient step (two matrix products cost less). With the
optional ``numba`` dependency (``pip install "skexpreg[fast]"``) this module
compiles a loop that the compiler vectorises for the processor it runs on:

* range reduction ``x = k ln 2 + r`` with ``k = round(x / ln 2)`` and
  ``|r| <= ln 2 / 2``, ``ln 2`` split into a high part exact in the products
  and a low part (Cody and Waite);
* ``exp(r)`` from its Taylor polynomial of degree 13, whose truncation error
  ``|r|^14 / 14!`` is below ``5e-18``, by Horner's rule;
* the factor ``2^k`` added to the binary exponent of the result.

Results are within one unit in the last place of numpy's (tested). Inputs
outside ``[-708, 709]`` (where the result would overflow, be subnormal or
zero) and NaN are flagged; the caller then recomputes the block with numpy,
so overflow to ``inf`` and underflow behave exactly as with ``numpy.exp``.
The kernel is used only where it is faster. On a processor with AVX-512,
where numpy's own loop is vectorised, it is not used and numba is not even
imported (that import costs about 100 MiB and 0.3 to 0.7 s). Elsewhere, the
first time it is needed, one block is timed with the kernel and with
``numpy.exp``, and the faster one is kept for the process. Set the
environment variable
``SKEXPREG_NUMBA=0`` to never use the kernel, ``SKEXPREG_NUMBA=1`` to always
use it.
"""

import os
import threading
import time
import warnings

import numpy as np

# Blocks smaller than this use numpy: compiling the kernel (once per process
# unless numba's on-disk cache has it) would cost more than it saves.
MIN_ELEMENTS = 2**16

_kernel = []
_lock = threading.Lock()


def exp_inplace(Z):
    """``numpy.exp(Z, out=Z)`` for a C-contiguous float64 ``Z``, vectorised.

    Returns True when done. Returns None, with ``Z`` untouched, when the
    kernel does not apply: numba is missing or disabled, or ``Z`` is not
    float64, not C-contiguous or small. Returns False when some entry was
    outside ``[-708, 709]`` or NaN: ``Z`` is then garbage and the caller
    recomputes it and uses ``numpy.exp``.
    """
    if Z.dtype != np.float64 or Z.size < MIN_ELEMENTS or not Z.flags.c_contiguous:
        return None
    kernel = _compiled()
    if kernel is None:
        return None
    return not kernel(Z.reshape(-1))


def available():
    """Whether the compiled kernel can be used in this process."""
    return _compiled() is not None


def _compiled():
    if not _kernel:
        with _lock:  # the first blocks may arrive on several threads at once
            if not _kernel:
                _kernel.append(_compile())
    return _kernel[0]


def _compile():
    choice = os.environ.get("SKEXPREG_NUMBA", "auto")
    if choice == "0" or (choice != "1" and _numpy_exp_is_vectorised()):
        return None
    kernel = load_kernel()
    if kernel is None or (choice != "1" and not _faster_than_numpy(kernel)):
        return None
    return kernel


def load_kernel():
    """The compiled kernel, or None without numba (or if it cannot compile)."""
    try:
        import numba  # noqa: F401
    except ImportError:  # the optional dependency is not installed
        return None
    try:
        from skexpreg._fastexp_kernel import exp_flat
    except Exception as error:  # a numba that cannot compile it here
        warnings.warn(
            f"numba is installed but could not compile skexpreg's exp kernel "
            f"({type(error).__name__}: {error}); numpy's exp is used instead.",
            RuntimeWarning,
        )
        return None
    return exp_flat


def _numpy_exp_is_vectorised():
    """Whether this processor has AVX-512, where numpy's float64 exp runs a
    vectorised loop that the kernel does not beat (numpy's CPU feature
    table; False if it cannot be read)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:
            return False
    return bool(__cpu_features__.get("AVX512_SKX", __cpu_features__.get("AVX512F")))


def _faster_than_numpy(kernel, repeats=7):
    """Whether ``kernel`` beats ``numpy.exp`` here by at least 5 %.

    numpy's exp is itself vectorised on processors with AVX-512 (measured
    0.50 ns per element against the kernel's 0.57 on an AMD EPYC), and the
    kernel only pays where numpy calls the scalar C library (1.4 times
    faster on an AVX2 processor). One block of MIN_ELEMENTS typical
    pre-activations, best of ``repeats`` runs each: about a millisecond,
    once per process, after the compilation.
    """
    values = np.linspace(-4.0, 4.0, MIN_ELEMENTS)
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
