"""The vectorised float32 and float64 exponentials used with the optional numba."""

import time

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skexpreg import ExponentialRegressor, _fastexp, _network

pytest.importorskip("numba")
KERNELS = {
    np.dtype(dtype): _fastexp.load_kernel(dtype) for dtype in (np.float32, np.float64)
}
if None in KERNELS.values():
    pytest.skip("the numba kernels did not compile", allow_module_level=True)
# The interval each kernel computes itself (normal results); outside, numpy.
INTERVALS = {np.dtype(np.float32): (-87.0, 88.0), np.dtype(np.float64): (-708.0, 709.0)}
WIDTHS = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def kernels_in_use(monkeypatch):
    """The kernels, whether or not they are faster than numpy's exp here."""
    monkeypatch.setattr(_fastexp, "_chosen", dict(KERNELS))


def _exp(values, dtype):
    Z = np.array(values, dtype=dtype).reshape(256, -1)
    assert Z.size >= _fastexp.MIN_ELEMENTS
    return Z, _fastexp.exp_inplace(Z)


def _ulps(result, reference):
    """|result - reference| in units in the last place (same float dtype,
    both finite and positive: their bit patterns are ordered as they are)."""
    signed = np.int32 if result.dtype == np.float32 else np.int64
    return np.abs(result.view(signed).astype(np.int64) - reference.view(signed))


def _float32_range():
    """Samples of the whole float32 range the kernel serves: an even grid and
    random bit patterns of the interval, every eighth float32 of [0.5, 2) and
    of (-2, -0.5], the 4,096 floats next to each end, the ends and zeros."""
    low, high = INTERVALS[np.dtype(np.float32)]
    rng = np.random.RandomState(0)
    bits = rng.randint(0, 2**31, size=2**20).astype(np.uint32)
    patterns = bits.view(np.float32)  # positive floats of every exponent
    patterns = np.concatenate([patterns, -patterns])
    patterns = patterns[(patterns >= low) & (patterns <= high)]
    every_float = np.arange(
        np.float32(0.5).view(np.int32), np.float32(2.0).view(np.int32), 1, np.int32
    ).view(np.float32)  # the 2**24 floats of [0.5, 2)
    steps = np.arange(4096, dtype=np.float32)  # the floats next to each end
    ends = np.concatenate(
        [
            np.float32(high) - steps * np.spacing(np.float32(high)),
            np.float32(low) + steps * np.abs(np.spacing(np.float32(low))),
        ]
    )
    values = np.concatenate(
        [
            np.linspace(low, high, 2**22, dtype=np.float32),
            patterns,
            every_float[::8],
            -every_float[::8],
            ends,
            np.float32([low, high, 0.0, -0.0, 1e-30, -1e-30]),
        ]
    ).astype(np.float32)
    return values[: values.size // 256 * 256]


def test_float32_within_one_ulp_of_the_correctly_rounded_exp_over_its_range():
    x = _float32_range()
    Z, done = _exp(x, np.float32)
    assert done is True
    exact = np.exp(x.astype(np.float64)).astype(np.float32).reshape(Z.shape)
    assert _ulps(Z, exact).max() <= 1
    numpy_exp = np.exp(x).reshape(Z.shape)
    # numpy's own float32 exp is within 3 ulp of the exact one, so the two
    # differ by at most 4; measured: at most 3.
    assert _ulps(Z, numpy_exp).max() <= 4
    assert _ulps(numpy_exp, exact).max() <= 3


def test_float64_within_one_ulp_of_numpy_over_the_whole_range():
    x = np.concatenate(
        [
            np.linspace(-708, 709, 2**18),
            np.random.RandomState(0).normal(scale=3, size=2**18),
            np.linspace(-1e-3, 1e-3, 2**16),
            [0.0, -0.0, 1.0, -1.0, np.log(2), 708.9999, -707.9999] + [0.5] * 249,
        ]
    )
    Z, done = _exp(x, np.float64)
    assert done is True
    expected = np.exp(x).reshape(Z.shape)
    assert _ulps(Z, expected).max() <= 1
    assert Z.ravel()[np.flatnonzero(x == 0)].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("dtype", WIDTHS)
def test_exact_at_zero_and_ordered(dtype):
    x = np.linspace(-3, 3, 2**16 + 1)[:-1].astype(dtype)
    x[0] = 0.0
    Z, done = _exp(x, dtype)
    assert done is True and Z.ravel()[0] == 1.0
    assert np.all(np.diff(Z.ravel()[1:]) >= 0)  # exp is increasing


@pytest.mark.parametrize("dtype", WIDTHS)
@pytest.mark.parametrize("where", ["above", "below", "inf", "-inf", "nan"])
def test_entries_outside_the_interval_are_flagged(dtype, where):
    low, high = INTERVALS[np.dtype(dtype)]
    special = {
        "above": np.nextafter(dtype(high), dtype(np.inf)),
        "below": np.nextafter(dtype(low), dtype(-np.inf)),
        "inf": np.inf,
        "-inf": -np.inf,
        "nan": np.nan,
    }[where]
    x = np.zeros(2**16, dtype=dtype)
    x[12345] = special
    _, done = _exp(x, dtype)
    assert done is False  # the caller falls back to numpy


@pytest.mark.parametrize("dtype", WIDTHS)
def test_the_ends_of_the_interval_are_computed_not_flagged(dtype):
    low, high = INTERVALS[np.dtype(dtype)]
    x = np.zeros(2**16, dtype=dtype)
    x[:2] = low, high
    Z, done = _exp(x, dtype)
    assert done is True
    assert np.isfinite(Z).all() and Z.ravel()[0] >= np.finfo(dtype).tiny
    exact = np.exp(np.float64([low, high]))
    assert_allclose(Z.ravel()[:2], exact, rtol=2 * np.finfo(dtype).eps)


def test_kernel_is_skipped_for_small_other_dtype_or_strided_blocks():
    for Z in (
        np.zeros((8, 8)),
        np.zeros((8, 8), dtype=np.float32),
        np.zeros((256, 256), dtype=np.float16),
        np.zeros((256, 512))[:, ::2],
        np.zeros((256, 512), dtype=np.float32)[:, ::2],
    ):
        before = Z.copy()
        assert _fastexp.exp_inplace(Z) is None
        assert_array_equal(Z, before)


@pytest.mark.parametrize("dtype", WIDTHS)
def test_activations_fall_back_to_numpy_for_overflow_and_underflow(dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4)).astype(dtype)
    W = rng.normal(size=(4, 512)).astype(dtype)
    X[7] *= 400.0  # pre-activations far beyond the interval on both sides
    E = _network._activations(X, W)
    with np.errstate(over="ignore"):
        expected = np.exp(X @ W)
    assert np.isinf(E[7]).any() and (E[7] == 0).any()
    assert_array_equal(np.isinf(E), np.isinf(expected))
    assert_array_equal(E == 0, expected == 0)
    finite = np.isfinite(expected)
    rtol = 3e-16 if dtype == np.float64 else 5e-7  # 1 and about 4 ulp
    assert_allclose(E[finite], expected[finite], rtol=rtol, atol=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("precision", ["single", "double"])
def test_fit_with_the_kernel_equals_the_fit_with_numpy(monkeypatch, precision):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 6))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    params = dict(n_neurons=256, max_iter=50, tol=0.0, alpha=0.3, random_state=0)
    dtype = np.dtype(np.float32 if precision == "single" else np.float64)
    calls = []

    def counted(values):
        calls.append((values.size, values.dtype))
        return KERNELS[dtype](values)

    monkeypatch.setattr(_fastexp, "_chosen", {dtype: counted})
    fast = ExponentialRegressor(precision=precision, **params).fit(X, y)
    assert len(calls) > 50 and set(calls) == {(600 * 256, dtype)}  # every pass
    monkeypatch.setattr(_fastexp, "_chosen", {dtype: None})  # as without numba
    plain = ExponentialRegressor(precision=precision, **params).fit(X, y)
    # float32: exps a few ulp apart, through 50 steps (measured: weights of
    # up to 13 and predictions of up to 7 differed by 4e-5 and 6e-6)
    tolerance = dict(rtol=1e-9, atol=1e-12)
    if precision == "single":
        tolerance = dict(rtol=1e-5, atol=1e-4)
    assert_allclose(fast.weights_, plain.weights_, **tolerance)
    assert_allclose(fast.predict(X), plain.predict(X), **tolerance)


@pytest.mark.parametrize("dtype", WIDTHS)
def test_the_kernel_is_kept_only_where_it_beats_numpy(dtype):
    def slow(values):  # far slower than numpy's exp
        time.sleep(0.002)
        np.exp(values, out=values)
        return False

    def instant(values):  # far faster (it does nothing)
        return False

    assert not _fastexp._faster_than_numpy(slow, dtype, repeats=2)
    assert _fastexp._faster_than_numpy(instant, dtype, repeats=2)


def test_each_width_is_chosen_on_its_own(monkeypatch):
    timed = []

    def faster(kernel, dtype):
        timed.append(np.dtype(dtype))
        return dtype == np.float32  # as if only the float32 kernel paid

    monkeypatch.setattr(_fastexp, "_faster_than_numpy", faster)
    monkeypatch.setattr(_fastexp, "_chosen", {})
    monkeypatch.delenv("SKEXPREG_NUMBA", raising=False)
    assert _fastexp.available(np.float32)
    assert not _fastexp.available(np.float64)
    assert not _fastexp.available(np.float16)  # no kernel for it, none timed
    assert timed == [np.dtype(np.float32), np.dtype(np.float64)]
    assert _fastexp.available(np.float32) and timed[2:] == []  # once a process
    Z = np.zeros((256, 256))
    assert _fastexp.exp_inplace(Z) is None and not Z.any()  # numpy's for float64
    Z32 = np.zeros((256, 256), dtype=np.float32)
    assert _fastexp.exp_inplace(Z32) is True and (Z32 == 1).all()


@pytest.mark.parametrize("dtype", WIDTHS)
def test_skexpreg_numba_forces_the_choice(monkeypatch, dtype):
    monkeypatch.setattr(_fastexp, "_faster_than_numpy", lambda kernel, dtype: False)
    monkeypatch.setattr(_fastexp, "_chosen", {})
    monkeypatch.setenv("SKEXPREG_NUMBA", "1")
    assert _fastexp.available(dtype)  # forced, though timed slower
    monkeypatch.setattr(_fastexp, "_chosen", {})
    monkeypatch.delenv("SKEXPREG_NUMBA")
    assert not _fastexp.available(dtype)  # auto: slower, so numpy's
    monkeypatch.setattr(_fastexp, "_chosen", {})
    monkeypatch.setenv("SKEXPREG_NUMBA", "0")
    monkeypatch.setattr(_fastexp, "load_kernel", lambda dtype: 1 / 0)
    assert not _fastexp.available(dtype)  # off: numba not even imported
