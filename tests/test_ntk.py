"""Neural tangent kernels: closed forms, J J^T, Monte Carlo limit, spectra."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skexpreg import ExponentialRegressor, _blocks, _network, ntk
from skexpreg.ntk import (
    empirical_ntk,
    network_inputs,
    ntk_diagnostics,
    ntk_eigenvalues,
    ntk_kernel,
    ntk_operator,
)


@pytest.fixture(autouse=True)
def _single_blas_thread():
    """Tiny products only: multithreaded BLAS on (20, m) x (m, 20) products
    can take seconds instead of milliseconds on a busy machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _unit_ball(rng, n_samples, n_features):
    """Points drawn uniformly from the unit ball."""
    directions = rng.standard_normal((n_samples, n_features))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = rng.uniform(0, 1, size=(n_samples, 1)) ** (1 / n_features)
    return directions * radii


def _naive_ntk_kernel(X, Y):
    """``<x, y> exp(||x + y||^2 / 2)`` entry by entry, by broadcasting."""
    inner = np.einsum("ik,jk->ij", X, Y)
    sums = X[:, None, :] + Y[None, :, :]
    return inner * np.exp(0.5 * np.sum(sums**2, axis=2))


def _naive_empirical_ntk(X, weights, Y):
    """``<x, y> (1/m) sum_r exp(<w_r, x> + <w_r, y>)`` over an (i, j, r) grid."""
    exponents = (X @ weights)[:, None, :] + (Y @ weights)[None, :, :]
    return np.einsum("ik,jk->ij", X, Y) * np.exp(exponents).mean(axis=2)


def _weighted(kernel, sample_weight):
    """``diag(sqrt(s)) H diag(sqrt(s))``."""
    if sample_weight is None:
        return kernel
    root = np.sqrt(sample_weight)
    return root[:, None] * kernel * root[None, :]


# ntk_kernel


@pytest.mark.parametrize("rectangular", [False, True])
def test_ntk_kernel_matches_closed_form(rectangular):
    rng = np.random.RandomState(0)
    X = rng.uniform(-0.6, 0.6, size=(7, 3))
    Y = rng.uniform(-0.6, 0.6, size=(5, 3)) if rectangular else None
    kernel = ntk_kernel(X, Y)
    expected = _naive_ntk_kernel(X, X if Y is None else Y)
    assert kernel.shape == expected.shape
    assert kernel.dtype == np.float64
    assert_allclose(kernel, expected, rtol=1e-12, atol=1e-15)
    if Y is None:
        assert_allclose(kernel, kernel.T, rtol=1e-14)


def test_ntk_kernel_preserves_float32():
    rng = np.random.RandomState(1)
    X = rng.uniform(-0.6, 0.6, size=(6, 3)).astype(np.float32)
    kernel = ntk_kernel(X)
    assert kernel.dtype == np.float32
    assert_allclose(kernel, _naive_ntk_kernel(X.astype(np.float64), X), rtol=1e-5)


def test_ntk_kernel_is_finite_where_naive_exp_overflows():
    # <x, y> = 3e-299 and ||x + y||^2 = 1800: exp(900) overflows float64, but
    # the entry 3e-299 * exp(900) ~ 2.2e92 is representable.
    x = np.array([[1e-300, 30.0]])
    y = np.array([[30.0, 0.0]])
    with np.errstate(over="ignore"):
        assert np.isinf(_naive_ntk_kernel(x, y)[0, 0])
    kernel = ntk_kernel(x, y)
    inner = 1e-300 * 30.0
    expected = np.exp(np.log(inner) + 0.5 * ((1e-300 + 30.0) ** 2 + 30.0**2))
    assert np.isfinite(kernel).all()
    assert_allclose(kernel[0, 0], expected, rtol=1e-12)
    # A negative inner product keeps its sign (||x - y||^2 is 1800 as well).
    assert_allclose(ntk_kernel(x, -y)[0, 0], -expected, rtol=1e-12)


# empirical_ntk


@pytest.mark.parametrize("rectangular", [False, True])
def test_empirical_ntk_matches_closed_form(rectangular):
    rng = np.random.RandomState(2)
    X = _unit_ball(rng, 7, 3)
    Y = _unit_ball(rng, 5, 3) if rectangular else None
    weights = rng.standard_normal((3, 11))
    kernel = empirical_ntk(X, weights, Y)
    expected = _naive_empirical_ntk(X, weights, X if Y is None else Y)
    assert kernel.shape == expected.shape
    assert_allclose(kernel, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("rectangular", [False, True])
def test_empirical_ntk_does_not_depend_on_working_memory(rectangular):
    rng = np.random.RandomState(3)
    X = _unit_ball(rng, 23, 3)
    Y = _unit_ball(rng, 17, 3) if rectangular else None
    weights = rng.standard_normal((3, 40))
    reference = empirical_ntk(X, weights, Y)
    with config_context(working_memory=1e-4):  # blocks of one neuron, 13 rows
        blocked = empirical_ntk(X, weights, Y)
    assert_allclose(blocked, reference, rtol=1e-12)


def _monte_carlo_errors(widths, errors):
    """``||H(W) - H*||_2 / ||H*||_2`` with ``N(0, 1)`` weights, per seed and m."""
    for seed in range(errors.shape[0]):
        rng = np.random.RandomState(seed)
        X = _unit_ball(rng, 20, 3)
        limit = ntk_kernel(X)
        limit_norm = np.linalg.norm(limit, 2)
        for k, n_neurons in enumerate(widths):
            weights = rng.standard_normal((3, n_neurons))
            difference = empirical_ntk(X, weights) - limit
            errors[seed, k] = np.linalg.norm(difference, 2) / limit_norm


def test_empirical_ntk_converges_to_ntk_kernel_at_monte_carlo_rate():
    widths = (500, 8000, 128000)
    errors = np.zeros((3, len(widths)))
    _monte_carlo_errors(widths, errors)
    mean_error = errors.mean(axis=0)
    # 1/sqrt(m) predicts a ratio of 16 between m = 500 and m = 128000.
    assert mean_error[-1] < mean_error[0] / 4
    assert mean_error[-1] < 0.05


def test_empirical_ntk_equals_jacobian_gram_matrix():
    rng = np.random.RandomState(4)
    X = _unit_ball(rng, 4, 2)
    weights = rng.standard_normal((2, 3))
    signs = np.array([1.0, -1.0, -1.0])  # a_r^2 = 1: H does not see the signs

    def outputs(W):
        with _blocks.BlockRunner() as runner:
            return _network.forward(X, W, signs, 1.0, runner)[:, 0]

    # The network itself, written out: F(W, x) = m^(-1/2) sum_r a_r e^<w_r, x>.
    assert_allclose(
        outputs(weights), np.exp(X @ weights) @ signs / np.sqrt(3), rtol=1e-14
    )
    step = 1e-5
    jacobian = np.zeros((X.shape[0], weights.size))
    for column, index in enumerate(np.ndindex(*weights.shape)):
        delta = np.zeros_like(weights)
        delta[index] = step
        jacobian[:, column] = (outputs(weights + delta) - outputs(weights - delta)) / (
            2 * step
        )
    assert_allclose(empirical_ntk(X, weights), jacobian @ jacobian.T, rtol=1e-6)


# ntk_eigenvalues and ntk_operator


@pytest.mark.parametrize("empirical", [False, True])
@pytest.mark.parametrize("use_sample_weight", [False, True])
def test_ntk_eigenvalues_dense_and_iterative_agree(empirical, use_sample_weight):
    rng = np.random.RandomState(5)
    # d = 30 keeps lambda_min well away from round-off (about 1 here).
    X = _unit_ball(rng, 60, 30)
    weights = rng.standard_normal((30, 200)) if empirical else None
    sample_weight = rng.uniform(0.5, 2.0, size=60) if use_sample_weight else None
    dense = ntk_eigenvalues(X, weights, sample_weight=sample_weight, method="dense")
    iterative = ntk_eigenvalues(
        X,
        weights,
        sample_weight=sample_weight,
        method="iterative",
        tol=1e-10,
        random_state=0,
    )
    kernel = (
        _naive_empirical_ntk(X, weights, X) if empirical else _naive_ntk_kernel(X, X)
    )
    expected = np.linalg.eigvalsh(_weighted(kernel, sample_weight))
    assert dense[0] < dense[1]
    assert_allclose(dense, (expected[0], expected[-1]), rtol=1e-10)
    assert_allclose(iterative, dense, rtol=1e-5)


@pytest.mark.parametrize("empirical", [False, True])
@pytest.mark.parametrize("use_sample_weight", [False, True])
def test_ntk_operator_matvec_matches_explicit_matrix(empirical, use_sample_weight):
    rng = np.random.RandomState(6)
    X = _unit_ball(rng, 25, 3)
    weights = rng.standard_normal((3, 30)) if empirical else None
    sample_weight = rng.uniform(0.5, 2.0, size=25) if use_sample_weight else None
    operator = ntk_operator(X, weights, sample_weight=sample_weight)
    kernel = (
        _naive_empirical_ntk(X, weights, X) if empirical else _naive_ntk_kernel(X, X)
    )
    matrix = _weighted(kernel, sample_weight)
    vector = rng.standard_normal(25)
    assert operator.shape == (25, 25)
    assert_allclose(operator.matvec(vector), matrix @ vector, rtol=1e-10)
    block = rng.standard_normal((25, 2))
    assert_allclose(operator @ block, matrix @ block, rtol=1e-10)


def test_ntk_eigenvalues_iterative_handles_singular_kernel():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((30, 2))
    X /= 2 * np.linalg.norm(X, axis=1, keepdims=True)
    dense_min, dense_max = ntk_eigenvalues(X, method="dense")
    assert abs(dense_min) < 1e-12 * dense_max  # singular up to round-off
    with pytest.warns(UserWarning, match="below the iterative solver's accuracy"):
        lambda_min, lambda_max = ntk_eigenvalues(X, method="iterative", random_state=0)
    assert abs(lambda_min) < 1e-6 * dense_max
    assert_allclose(lambda_max, dense_max, rtol=1e-6)


def _sphere(rng, n_samples, n_features):
    X = rng.standard_normal((n_samples, n_features))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("empirical", [False, True])
@pytest.mark.parametrize("tol", [1e-7, 1e-10, 0.0])
def test_ntk_eigenvalues_iterative_with_tight_tol_falls_back_to_dense(empirical, tol):
    # 200 unit rows in 5 dimensions: lambda_min / lambda_max is 1e-8 (m = 64)
    # or 4e-6 (H*), and eigenvalues cluster near 0, where ARPACK's residual
    # test at tol * lambda_max cannot be met within its iteration cap.
    rng = np.random.RandomState(0)
    X = _sphere(rng, 200, 5)
    weights = rng.standard_normal((5, 64)) if empirical else None
    dense = ntk_eigenvalues(X, weights, method="dense")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iterative = ntk_eigenvalues(
            X, weights, method="iterative", tol=tol, max_iter=200, random_state=0
        )
    messages = [str(w.message) for w in caught]
    fell_back = [m for m in messages if "dense eigensolver" in m]
    if tol <= 1e-10 or empirical:
        assert fell_back, messages
    if fell_back:  # exact, then
        assert_allclose(iterative, dense, rtol=1e-12, atol=1e-12 * dense[1])
    else:
        assert_allclose(iterative[1], dense[1], rtol=1e-9)
        assert dense[0] - 1e-12 <= iterative[0] <= dense[0] + tol * dense[1]


@pytest.mark.parametrize("empirical", [False, True])
def test_ntk_eigenvalues_iterative_estimate_when_too_large_for_dense(
    monkeypatch, empirical
):
    # Above the dense fallback's size, the tolerance is loosened until ARPACK
    # converges, and the warning names the accuracy reached.
    monkeypatch.setattr(ntk, "_DENSE_FALLBACK_MAX_SAMPLES", 100)
    rng = np.random.RandomState(0)
    X = _sphere(rng, 200, 5)
    weights = rng.standard_normal((5, 64)) if empirical else None
    dense_min, dense_max = ntk_eigenvalues(X, weights, method="dense")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lambda_min, lambda_max = ntk_eigenvalues(
            X, weights, method="iterative", tol=1e-10, max_iter=200, random_state=0
        )
    loosened = [
        w
        for w in caught
        if issubclass(w.category, ConvergenceWarning)
        and "converged only to tol" in str(w.message)
    ]
    assert loosened, [str(w.message) for w in caught]
    reached = float(str(loosened[0].message).split("converged only to tol=")[1][:7])
    assert 1e-10 < reached <= 1e-2
    assert_allclose(lambda_max, dense_max, rtol=reached)
    # Lanczos' Ritz values lie inside the spectrum: an upper bound on lambda_min.
    assert dense_min - 1e-12 * dense_max <= lambda_min
    assert lambda_min <= dense_min + 2 * reached * dense_max


def test_ntk_eigenvalues_reports_lambda_min_below_accuracy_of_rank_deficient_kernel():
    # 300 rows, d * m = 4 * 40 = 160 < 300: H(W) = Phi Phi^T has rank <= 160,
    # lambda_min = 0 to round-off. The iterative value is a small positive
    # number below tol * lambda_max, which must be reported as such.
    rng = np.random.RandomState(1)
    X = _sphere(rng, 300, 4)
    weights = rng.standard_normal((4, 40))
    dense_min, dense_max = ntk_eigenvalues(X, weights, method="dense")
    assert abs(dense_min) < 1e-12 * dense_max
    with pytest.warns(UserWarning, match="below the iterative solver's accuracy"):
        lambda_min, lambda_max = ntk_eigenvalues(
            X, weights, method="iterative", tol=1e-6, random_state=0
        )
    assert 0 <= lambda_min <= 1e-6 * lambda_max
    assert_allclose(lambda_max, dense_max, rtol=1e-6)


def test_ntk_eigenvalues_iterative_well_conditioned_kernel_does_not_warn():
    rng = np.random.RandomState(2)
    X = _unit_ball(rng, 60, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lambda_min, lambda_max = ntk_eigenvalues(
            X, method="iterative", tol=1e-8, random_state=0
        )
    assert_allclose((lambda_min, lambda_max), ntk_eigenvalues(X), rtol=1e-6)


def test_kernel_drift_iterative_with_tight_tol_does_not_raise(monkeypatch):
    rng = np.random.RandomState(3)
    X = _sphere(rng, 200, 5)
    y = rng.uniform(-1, 1, 200)
    model = ExponentialRegressor(
        64,
        max_iter=20,
        tol=0.0,
        input_scaling=None,
        target_scaling=False,
        alpha=0.0,
        init="gaussian",
        solver="gd",
        precision="double",
        random_state=0,
    ).fit(X, y)
    dense = ntk_diagnostics(model, X, method="dense")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iterative = ntk_diagnostics(
            model, X, method="iterative", tol=1e-12, max_iter=100, random_state=0
        )
    assert_allclose(iterative.kernel_drift, dense.kernel_drift, rtol=1e-6)
    assert_allclose(iterative.lambda_max_final, dense.lambda_max_final, rtol=1e-9)


@pytest.mark.parametrize("method", ["dense", "iterative"])
def test_a_zero_kernel_has_zero_eigenvalues_and_no_drift(method):
    # Every feature constant: every row the network sees is 0, and so is
    # its kernel, on which ARPACK cannot start.
    X, y = np.ones((60, 3)), np.arange(60.0)
    model = ExponentialRegressor(n_neurons=8, max_iter=5, random_state=0).fit(X, y)
    seen = network_inputs(model, X)
    assert not np.any(seen)
    assert ntk_eigenvalues(seen, model.weights_, method=method) == (0.0, 0.0)
    diagnostics = ntk_diagnostics(model, X, method=method, random_state=0)
    assert diagnostics.kernel_drift == 0.0
    assert diagnostics.lambda_max_initial == diagnostics.lambda_min_final == 0.0


# Bad input


def test_ntk_functions_reject_bad_input():
    rng = np.random.RandomState(8)
    X = rng.uniform(-0.5, 0.5, size=(6, 3))
    weights = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match="X has 3 features but Y has 2"):
        ntk_kernel(X, X[:, :2])
    with pytest.raises(ValueError, match="X has 3 features but Y has 2"):
        empirical_ntk(X, weights, X[:, :2])
    with pytest.raises(ValueError, match="weights has 2 rows but X has 3 features"):
        empirical_ntk(X, weights[:2])
    with pytest.raises(ValueError, match="weights has 4 rows but X has 3 features"):
        ntk_operator(X, np.ones((4, 5)))
    negative = np.ones(6)
    negative[2] = -1.0
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        ntk_operator(X, sample_weight=negative)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        ntk_eigenvalues(X, weights, sample_weight=negative)
    with pytest.raises(ValueError, match="sample_weight has shape"):
        ntk_eigenvalues(X, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="method must be 'auto', 'dense' or"):
        ntk_eigenvalues(X, method="lanczos")


def test_ntk_docstring_examples_run():
    # The module's examples are its documentation: they must print what they
    # say (0.36 * exp(0.72) = 0.7396 for the first entry).
    import doctest

    result = doctest.testmod(ntk, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
