"""The step-size estimate: the tangent kernel's top eigenpair in weight space."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from test_ntk import _naive_empirical_ntk, _unit_ball, _weighted

import skexpreg._step_size
from skexpreg._rows import InMemoryRows
from skexpreg._step_size import WeightSpaceNTK


def _weight_space_problem(n_samples, n_neurons, seed=7):
    rng = np.random.RandomState(seed)
    input_scale = 3.0
    X_raw = input_scale * _unit_ball(rng, n_samples, 3)
    weights = rng.standard_normal((3, n_neurons))
    sample_weight = rng.uniform(0.5, 2.0, size=n_samples)
    kernel = _naive_empirical_ntk(X_raw / input_scale, weights, X_raw / input_scale)
    expected = np.linalg.eigvalsh(_weighted(kernel, sample_weight))[-1]
    return X_raw, weights, sample_weight, input_scale, expected


def _check_largest_eigenpair(X_raw, weights, sample_weight, input_scale, expected):
    rows = InMemoryRows(X_raw, None, sample_weight).with_scale(input_scale)
    with rows:
        operator = WeightSpaceNTK(rows)
        value, vector = operator.largest_eigenpair(weights, random_state=0)
        product = operator.dot(weights, vector)
        start = np.random.RandomState(1).standard_normal(weights.shape)
        refined, refined_vector = operator.refine_largest_eigenpair(
            weights, start, n_steps=200
        )
    assert vector.shape == weights.shape
    assert_allclose(np.linalg.norm(vector), 1.0, rtol=1e-12)
    assert_allclose(value, expected, rtol=1e-6)
    # An eigenvector of Phi^T S Phi, for the eigenvalue of S^(1/2) H S^(1/2).
    assert_allclose(product, expected * vector, rtol=1e-4, atol=1e-6 * expected)
    assert_allclose(refined, expected, rtol=1e-3)
    assert_allclose(np.linalg.norm(refined_vector), 1.0, rtol=1e-12)


def test_weight_space_largest_eigenpair_dense_path():
    _check_largest_eigenpair(*_weight_space_problem(n_samples=40, n_neurons=50))


@pytest.fixture
def lanczos_calls(monkeypatch):
    """The shapes of the operators that Lanczos (``eigsh``) runs on."""
    calls = []
    eigsh = skexpreg._step_size.eigsh

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return eigsh(*args, **kwargs)

    monkeypatch.setattr(skexpreg._step_size, "eigsh", spy)
    return calls


@pytest.mark.parametrize("n_neurons", [50, 10])  # Lanczos; dm = 30 <= 64: Gram
def test_weight_space_largest_eigenpair_iterative_path(
    monkeypatch, lanczos_calls, n_neurons
):
    monkeypatch.setattr(skexpreg._step_size, "_DENSE_MAX_SAMPLES", 10)
    _check_largest_eigenpair(*_weight_space_problem(40, n_neurons))
    size = 3 * n_neurons
    assert lanczos_calls == ([(size, size)] if size > 64 else [])


def test_the_first_step_of_large_data_comes_from_a_subsample(monkeypatch):
    from skexpreg._step_size import learning_rate_schedule

    X_raw, weights, sample_weight, input_scale, expected = _weight_space_problem(
        400, 30
    )
    rows = InMemoryRows(X_raw, None, sample_weight).with_scale(input_scale)
    full, _ = learning_rate_schedule(
        "auto", rows, weights, 0.0, np.random.RandomState(0)
    )
    monkeypatch.setattr(skexpreg._step_size, "MAX_KERNEL_ROWS", 200)
    sampled, bound = learning_rate_schedule(
        "auto", rows, weights, 0.0, np.random.RandomState(0)
    )
    assert_allclose(full, 1 / expected, rtol=1e-6)
    assert_allclose(sampled, full, rtol=0.3)  # about the same step
    # the bound re-estimates the curvature on all the rows
    assert_allclose(bound(weights), full, rtol=0.05)


def test_a_warm_bound_replaces_the_lanczos_run(monkeypatch):
    from skexpreg._step_size import learning_rate_schedule

    monkeypatch.setattr(skexpreg._step_size, "_DENSE_MAX_SAMPLES", 10)
    X_raw, weights, sample_weight, input_scale, expected = _weight_space_problem(40, 50)
    rows = InMemoryRows(X_raw, None, sample_weight).with_scale(input_scale)
    alpha = 0.5
    with rows:
        eta, bound = learning_rate_schedule(
            "auto", rows, weights, alpha, np.random.RandomState(0)
        )
        assert_allclose(eta, 1 / (expected + alpha), rtol=1e-6)
        assert_allclose(bound.value, expected, rtol=1e-6)

        def no_lanczos(*args, **kwargs):
            raise AssertionError("a warm bound needs no Lanczos run")

        monkeypatch.setattr(skexpreg._step_size, "eigsh", no_lanczos)
        # Started at the top eigenvector: power iteration keeps the eigenvalue.
        warm_eta, warm = learning_rate_schedule(
            "auto", rows, weights, alpha, None, warm_bound=bound
        )
        assert_allclose(warm_eta, eta, rtol=1e-6)
        assert_allclose(warm.value, expected, rtol=1e-6)
        # Both estimates are lower bounds of lambda_max: the larger is kept.
        bound.value, bound.vector = 2 * expected, np.ones_like(weights)
        warm_eta, _ = learning_rate_schedule(
            "auto", rows, weights, alpha, None, warm_bound=bound
        )
        assert_allclose(warm_eta, 1 / (2 * expected + alpha))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_alpha_path_runs_lanczos_once_per_part(monkeypatch, lanczos_calls):
    # Each strength on the path warm-starts at the previous one's weights,
    # and its step at the previous fit's curvature estimate.
    from sklearn.datasets import make_friedman1

    from skexpreg import ExponentialRegressor

    monkeypatch.setattr(skexpreg._step_size, "_DENSE_MAX_SAMPLES", 10)
    X, y = make_friedman1(n_samples=2500, n_features=5, random_state=0)
    model = ExponentialRegressor(n_neurons=16, max_iter=100, random_state=0)
    model.fit(X, y)
    assert len(model.alpha_scores_) > 1
    assert len(lanczos_calls) == 2  # the path's first fit and the final fit
