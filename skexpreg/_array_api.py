"""Small array API helpers: one place that knows numpy from other namespaces.

With scikit-learn's ``array_api_dispatch`` off (the default), or with numpy
input, everything here answers "numpy" and the callers keep their numpy code
(in-place ufuncs, thread-local workspaces, scipy sparse). Other namespaces
(PyTorch, CuPy, array-api-strict) go through the array API standard, on the
device of the input. Only helpers that exist in scikit-learn 1.6 are imported
unguarded; newer ones have a fallback here.
"""

import numpy as np
from sklearn import config_context, get_config
from sklearn.utils._array_api import (
    _convert_to_numpy,
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
)

from skexpreg import _sparse

try:  # vendored from scikit-learn 1.7 on
    from sklearn.externals import array_api_compat
except ImportError:  # scikit-learn 1.6 uses the separately installed package
    try:
        import array_api_compat
    except ImportError:
        array_api_compat = None

try:  # scikit-learn >= 1.8
    from sklearn.utils._array_api import move_to as _sklearn_move_to
except ImportError:
    _sklearn_move_to = None

try:  # scikit-learn >= 1.9
    from sklearn.utils._array_api import (
        check_same_namespace as _sklearn_check_same_namespace,
    )
except ImportError:
    _sklearn_check_same_namespace = None


def namespace_and_device(*arrays):
    """``(xp, device)`` of the inputs; ``(numpy, None)`` for the numpy path.

    The numpy path is taken when dispatch is off, when the inputs are numpy
    arrays (or lists, or sparse matrices), whatever scikit-learn's wrapper of
    numpy is called.
    """
    if not get_config().get("array_api_dispatch", False):
        return np, None
    xp, is_array_api, device = get_namespace_and_device(*arrays)
    if not is_array_api or is_numpy_namespace(xp):
        return np, None
    return xp, device


def namespace(*arrays):
    """``(xp, is_numpy)``: a namespace of the array API standard for the arrays.

    numpy arrays and scipy sparse matrices (and dask collections, whose chunks
    are numpy) get scikit-learn's compliant wrapper of numpy, whatever the
    configuration, and ``is_numpy=True`` so that a caller can take a numpy
    fast path; arrays of another namespace get theirs. None is ignored.
    """
    arrays = [array for array in arrays if array is not None]
    for array in arrays:  # (a loop, not all(): called several times a step)
        if type(array) is not np.ndarray and not _is_numpy(array):
            return array_api_compat.array_namespace(*arrays), False
    return _numpy_namespace(), True


_numpy = []


def _numpy_namespace():
    if not _numpy:
        with config_context(array_api_dispatch=False):
            _numpy.append(get_namespace(np.zeros(0))[0])
    return _numpy[0]


def is_numpy_namespace(xp):
    return xp is np or xp.__name__.split(".")[-1] == "numpy"


def _is_numpy(array):
    """numpy arrays and scipy sparse matrices (also centred, see
    :mod:`skexpreg._sparse`) take the numpy code path.

    So do dask collections: their chunks are numpy arrays, processed by the
    numpy code on the workers (see :mod:`skexpreg._dask`).
    """
    return (
        isinstance(array, (np.ndarray, np.generic, float, int))
        or _sparse.issparse(array)
        or type(array).__module__.partition(".")[0] == "dask"
    )


def device_of(array):
    return None if isinstance(array, np.ndarray) else array_api_compat.device(array)


def supports_float64(xp, device):
    """Whether ``device`` computes in float64 (some GPUs only have float32).

    The estimator falls back to float32 where this is False; tests patch it
    to exercise that path on a CPU.
    """
    if xp is np:
        return True
    return _max_precision_float_dtype(xp, device) == xp.float64


def float_dtypes(xp, device):
    """Accepted input dtypes, most precise first."""
    if supports_float64(xp, device):
        return (xp.float64, xp.float32)
    return (xp.float32,)


def numpy_dtype(dtype):
    """The numpy dtype of the same name as a float dtype of any namespace."""
    if isinstance(dtype, (np.dtype, type)):
        return np.dtype(dtype)
    # torch.float32, array_api_strict.float64, ...: the name after the dot
    return np.dtype(str(dtype).rsplit(".", 1)[-1])


def to_numpy(array):
    """``array`` as a numpy array on the host (unchanged if it is one)."""
    if isinstance(array, np.ndarray):
        return array
    if _is_numpy(array):  # a scalar
        return np.asarray(array)
    if _sklearn_move_to is not None:
        return _sklearn_move_to(array, xp=np, device="cpu")
    return _convert_to_numpy(array, namespace(array)[0])


def move_to(array, xp, device):
    """``array`` in namespace ``xp`` on ``device``; None stays None."""
    if array is None:
        return None
    if xp is np:
        return to_numpy(array)
    if _sklearn_move_to is not None:
        return _sklearn_move_to(array, xp=xp, device=device)
    if not isinstance(array, np.ndarray) and namespace(array)[0] is xp:
        if device_of(array) == device:
            return array
    return xp.asarray(to_numpy(array), device=device)


def from_host(array, rows, dtype=None):
    """A numpy ``array`` moved to the namespace and device of a row source
    (and converted to ``dtype`` of that namespace, if given)."""
    if rows.device is None and is_numpy_namespace(rows.xp):
        return array if dtype is None else array.astype(dtype, copy=False)
    array = rows.xp.asarray(array, device=rows.device)
    return array if dtype is None else rows.xp.astype(array, dtype)


def follow(array, xp, device):
    """Move an array of another namespace to ``xp`` on ``device`` (where ``X``
    is), as scikit-learn's estimators do with ``y`` and ``sample_weight``.

    With dispatch off, or for lists, scalars, data frames and None, the
    argument is returned unchanged (validation converts those).
    """
    if array is None or not get_config().get("array_api_dispatch", False):
        return array
    if isinstance(array, np.ndarray) and xp is np:
        return array
    if array_api_compat is None or not array_api_compat.is_array_api_obj(array):
        return array
    return move_to(array, xp, device)


def from_numpy_like(array, like, copy=True):
    """The numpy ``array`` in the namespace, device and dtype of ``like``.

    ``copy=False`` allows a numpy result to share memory with ``array``.
    """
    xp, is_numpy = namespace(like)
    if is_numpy:
        return array.astype(like.dtype, copy=copy)
    array = np.asarray(array, dtype=numpy_dtype(like.dtype))
    return xp.asarray(array, device=device_of(like))


def astype_like(array, like):
    """``array`` (of the namespace of ``like``) in the dtype of ``like``."""
    xp, _ = namespace(like)
    return xp.astype(xp.asarray(array), like.dtype, copy=False)


def copy(array):
    xp, is_numpy = namespace(array)
    return array.copy() if is_numpy else xp.asarray(array, copy=True)


def scalar(value, like):
    """``value`` as a scalar to combine with ``like`` without changing its dtype.

    numpy arrays get a numpy scalar of their dtype (as the numpy code always
    did); other namespaces take Python floats, which the array API combines
    with arrays in the array's dtype.
    """
    if _is_numpy(like):
        return like.dtype.type(value)
    return float(value)


def inner(array, other, float64=False, on_host=True):
    """``<array, other>`` over all entries, as a Python float.

    With ``float64=True`` float32 operands are multiplied and summed in
    float64 (where the device has it). ``on_host=False`` returns a 0-d array
    of the operands' namespace instead (numpy operands: a float regardless),
    so that the caller can add several without waiting for the device.
    """
    xp, is_numpy = namespace(array)
    if is_numpy:  # once per row block: vdot makes no temporary
        if float64:
            array = array.astype(np.float64)
        return float(np.vdot(array, other))
    if float64 and array.dtype == xp.float32:
        if supports_float64(xp, device_of(array)):
            array, other = xp.astype(array, xp.float64), xp.astype(other, xp.float64)
    product = xp.sum(array * other)
    return float(product) if on_host else product


def all_finite(array):
    xp, _ = namespace(array)
    return bool(xp.all(xp.isfinite(array)))


def any_true(mask):
    xp, _ = namespace(mask)
    return bool(xp.any(mask))


def count_true(mask):
    xp, _ = namespace(mask)
    return int(xp.sum(xp.astype(mask, xp.int32)))


def total(array):
    """Sum of all entries as a Python float."""
    xp, _ = namespace(array)
    return float(xp.sum(array))


def largest(array):
    """Largest entry as a Python float."""
    xp, _ = namespace(array)
    return float(xp.max(array))


def dtype_name(dtype):
    return numpy_dtype(dtype).name


def check_same_namespace(X, estimator, *, attribute, method):
    """Raise if ``X`` is not in the namespace and device of a fitted attribute.

    scikit-learn's own check where it exists (>= 1.9); the same test and the
    same start of the message otherwise.
    """
    if not get_config().get("array_api_dispatch", False):
        return
    if _sklearn_check_same_namespace is not None:
        _sklearn_check_same_namespace(X, estimator, attribute=attribute, method=method)
        return
    fitted = getattr(estimator, attribute)
    fitted_xp, fitted_device = namespace_and_device(fitted)
    X_xp, X_device = namespace_and_device(X)
    if fitted_xp is X_xp and fitted_device == X_device:
        return
    raise ValueError(
        f"Inputs passed to {type(estimator).__name__}.{method}() must use the "
        "same namespace and the same device as those passed to fit(). "
        f"fit used {_describe(fitted_xp, fitted_device)}, {method} got "
        f"{_describe(X_xp, X_device)}."
    )


def _describe(xp, device):
    return "numpy" if xp is np else f"{xp.__name__} on {device}"
