"""The numba kernels of :mod:`skexpreg._fastexp`; importing it imports numba.

Both compute ``exp(x) = 2**k * exp(r)`` with ``k = round(x / ln 2)`` and
``|r| <= ln 2 / 2``, ``ln 2`` split into a high part whose products with
``k`` are exact and a low part (Cody and Waite), ``exp(r)`` from its Taylor
polynomial by Horner's rule, and ``2**k`` added to the binary exponent of
the result. ``fastmath={"contract"}`` lets each ``p * r + c`` be one fused
multiply-add (every processor with AVX2 has FMA): one rounding instead of
two, and about a third fewer instructions. No other fast-math licence is
given, so comparisons with NaN and the order of operations are kept.
``k`` is converted to int32 and then widened: processors without AVX-512
have no vector instruction from float64 to int64.
"""

import math

import numba
import numpy as np

_OPTIONS = dict(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})

# float64: degree 13, truncation error |r|^14 / 14! below 5e-18.
_LOG2E = 1.0 / math.log(2.0)
_LN2_HIGH = 6.93147180369123816490e-01  # ln 2 to 32 bits: k * _LN2_HIGH is exact
_LN2_LOW = 1.90821492927058770002e-10  # ln 2 - _LN2_HIGH
_LOWEST, _HIGHEST = -708.0, 709.0  # exp is a normal float64 in between
(_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13) = (
    1.0 / math.factorial(k) for k in range(2, 14)
)

# float32: degree 7, truncation error |r|^8 / 8! below 6e-9 (float32's
# epsilon is 1.2e-7); every constant and operation in float32.
_LOG2E_32 = np.float32(_LOG2E)
_HALF_32 = np.float32(0.5)
_LN2_HIGH_32 = np.float32(0.693359375)  # 9 significant bits: k * high is exact
_LN2_LOW_32 = np.float32(math.log(2.0) - 0.693359375)
_LOWEST_32, _HIGHEST_32 = np.float32(-87.0), np.float32(88.0)  # normal results
(_D0, _D1, _D2, _D3, _D4, _D5, _D6, _D7) = (
    np.float32(1.0 / math.factorial(k)) for k in range(8)
)


@numba.njit("boolean(float64[::1])", **_OPTIONS)
def exp_flat64(values):
    """``exp`` of a 1-D float64 array in place; True if an entry was outside.

    Entries outside ``[-708, 709]`` and NaN are computed as if clamped to the
    interval, and the return value says that this happened.
    """
    bits = values.view(np.int64)
    outside = False
    for i in range(values.size):
        x = values[i]
        outside |= not (x >= _LOWEST and x <= _HIGHEST)  # NaN too
        x = min(max(x, _LOWEST), _HIGHEST)
        k = np.floor(x * _LOG2E + 0.5)
        r = (x - k * _LN2_HIGH) - k * _LN2_LOW
        p = _C13 * r + _C12
        p = p * r + _C11
        p = p * r + _C10
        p = p * r + _C9
        p = p * r + _C8
        p = p * r + _C7
        p = p * r + _C6
        p = p * r + _C5
        p = p * r + _C4
        p = p * r + _C3
        p = p * r + _C2
        p = p * r + 1.0
        p = p * r + 1.0
        values[i] = p
        bits[i] += np.int64(np.int32(k)) << 52  # times 2**k: p is in [0.7, 1.5]
    return outside


@numba.njit("boolean(float32[::1])", **_OPTIONS)
def exp_flat32(values):
    """``exp`` of a 1-D float32 array in place; True if an entry was outside.

    Entries outside ``[-87, 88]`` and NaN are computed as if clamped to the
    interval, and the return value says that this happened.
    """
    bits = values.view(np.int32)
    outside = False
    for i in range(values.size):
        x = values[i]
        outside |= not (x >= _LOWEST_32 and x <= _HIGHEST_32)  # NaN too
        x = min(max(x, _LOWEST_32), _HIGHEST_32)
        k = np.floor(x * _LOG2E_32 + _HALF_32)
        r = (x - k * _LN2_HIGH_32) - k * _LN2_LOW_32
        p = _D7 * r + _D6
        p = p * r + _D5
        p = p * r + _D4
        p = p * r + _D3
        p = p * r + _D2
        p = p * r + _D1
        p = p * r + _D0
        values[i] = p
        bits[i] += np.int32(k) << 23  # times 2**k: p is in [0.7, 1.5]
    return outside
