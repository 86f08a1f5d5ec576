"""The numba kernel of :mod:`skexpreg._fastexp`; importing it imports numba."""

import math

import numba
import numpy as np

_LOG2E = 1.0 / math.log(2.0)
_LN2_HIGH = 6.93147180369123816490e-01  # ln 2 to 32 bits: k * _LN2_HIGH is exact
_LN2_LOW = 1.90821492927058770002e-10  # ln 2 - _LN2_HIGH
_LOWEST, _HIGHEST = -708.0, 709.0  # exp is a normal float64 in between
(_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13) = (
    1.0 / math.factorial(k) for k in range(2, 14)
)


@numba.njit("boolean(float64[::1])", nogil=True, cache=True, error_model="numpy")
def exp_flat(values):
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
        bits[i] += np.int64(k) << 52  # times 2**k: p is in [0.7, 1.5]
    return outside
