"""The vectorised float64 exponential used with the optional numba."""

import time
from pathlib import Path

import numpy as np
import pytest
from exact import exact
from numpy.testing import assert_allclose, assert_array_equal

from skexpreg import _fastexp, _network

pytest.importorskip("numba")
KERNEL = _fastexp.load_kernel()
if KERNEL is None:
    pytest.skip("the numba kernel did not compile", allow_module_level=True)


@pytest.fixture(autouse=True)
def kernel_in_use(monkeypatch):
    """The kernel, whether or not it is faster than numpy's exp here."""
    monkeypatch.setattr(_fastexp, "_kernel", [KERNEL])


def _exp(values):
    Z = np.array(values, dtype=np.float64).reshape(256, -1)
    assert Z.size >= _fastexp.MIN_ELEMENTS
    return Z, _fastexp.exp_inplace(Z)


def test_within_one_ulp_of_numpy_over_the_whole_range():
    x = np.concatenate(
        [
            np.linspace(-708, 709, 2**18),
            np.random.RandomState(0).normal(scale=3, size=2**18),
            np.linspace(-1e-3, 1e-3, 2**16),
            [0.0, -0.0, 1.0, -1.0, np.log(2), 708.9999, -707.9999] + [0.5] * 249,
        ]
    )
    Z, done = _exp(x)
    assert done is True
    expected = np.exp(x).reshape(Z.shape)
    ulps = np.abs(Z - expected) / np.spacing(expected)
    assert ulps.max() <= 1.0
    assert Z.ravel()[np.flatnonzero(x == 0)].tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "special", [709.5, 800.0, -708.5, -800.0, np.inf, -np.inf, np.nan]
)
def test_entries_outside_the_range_are_flagged(special):
    x = np.zeros(2**16)
    x[12345] = special
    _, done = _exp(x)
    assert done is False  # the caller falls back to numpy


def test_kernel_is_skipped_for_small_float32_or_strided_blocks():
    for Z in (
        np.zeros((8, 8)),
        np.zeros((256, 256), dtype=np.float32),
        np.zeros((256, 512))[:, ::2],
    ):
        before = Z.copy()
        assert _fastexp.exp_inplace(Z) is None
        assert_array_equal(Z, before)


def test_activations_fall_back_to_numpy_for_overflow_and_underflow():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    W = rng.normal(size=(4, 512))
    X[7] *= 400.0  # pre-activations far beyond 709 and below -708
    E = _network._activations(X, W)
    with np.errstate(over="ignore"):
        expected = np.exp(X @ W)
    assert np.isinf(E[7]).any() and (E[7] == 0).any()
    assert_array_equal(np.isinf(E), np.isinf(expected))
    finite = np.isfinite(expected)
    assert_allclose(E[finite], expected[finite], rtol=3e-16, atol=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fit_with_the_kernel_equals_the_fit_with_numpy(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 6))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    params = dict(n_neurons=256, max_iter=50, tol=0.0, alpha=0.3, random_state=0)
    kernel, calls = _fastexp._compiled(), []

    def counted(values):
        calls.append(values.size)
        return kernel(values)

    monkeypatch.setattr(_fastexp, "_kernel", [counted])
    fast = exact(**params).fit(X, y)
    assert len(calls) > 50 and set(calls) == {600 * 256}  # every pass used it
    monkeypatch.setattr(_fastexp, "_kernel", [None])  # as without numba
    plain = exact(**params).fit(X, y)
    assert_allclose(fast.weights_, plain.weights_, rtol=1e-9, atol=1e-12)
    assert_allclose(fast.predict(X), plain.predict(X), rtol=1e-9, atol=1e-12)


def test_the_kernel_is_kept_only_where_it_beats_numpy():
    def slow(values):  # far slower than numpy's exp
        time.sleep(0.002)
        np.exp(values, out=values)
        return False

    def instant(values):  # far faster (it does nothing)
        return False

    assert not _fastexp._faster_than_numpy(slow, repeats=2)
    assert _fastexp._faster_than_numpy(instant, repeats=2)


def test_avx512_skips_numba_unless_forced(monkeypatch):
    loads = []
    monkeypatch.setattr(_fastexp, "load_kernel", lambda: loads.append(1))
    monkeypatch.setattr(_fastexp, "_numpy_exp_is_vectorised", lambda: True)
    monkeypatch.setattr(_fastexp, "_kernel", [])
    monkeypatch.delenv("SKEXPREG_NUMBA", raising=False)
    assert not _fastexp.available()
    assert loads == []  # numba not even imported
    monkeypatch.setattr(_fastexp, "_kernel", [])
    monkeypatch.setenv("SKEXPREG_NUMBA", "1")
    _fastexp.available()
    assert loads == [1]


def test_numpy_exp_check_agrees_with_the_cpu_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to compare with")
    flags = set(cpuinfo.read_text().split())
    skylake_avx512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
    assert _fastexp._numpy_exp_is_vectorised() == (skylake_avx512 <= flags)


def test_skexpreg_numba_forces_the_choice(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(_fastexp, "_numpy_exp_is_vectorised", lambda: False)
    monkeypatch.setattr(_fastexp, "_faster_than_numpy", lambda kernel: False)
    monkeypatch.setattr(_fastexp, "_kernel", [])
    monkeypatch.setenv("SKEXPREG_NUMBA", "1")
    assert _fastexp.available()  # forced, though timed slower
    monkeypatch.setattr(_fastexp, "_kernel", [])
    monkeypatch.delenv("SKEXPREG_NUMBA")
    assert not _fastexp.available()  # auto: slower, so numpy's
