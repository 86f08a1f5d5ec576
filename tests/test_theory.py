"""The paper's claims on data, and the fitted-model diagnostics."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from skexpreg import ExponentialRegressor
from skexpreg.ntk import (
    NTKDiagnostics,
    empirical_ntk,
    network_inputs,
    ntk_diagnostics,
)

PAPER = {
    "input_scaling": None,
    "target_scaling": False,
    "alpha": 0.0,
    "init": "gaussian",
    "solver": "gd",
    "learning_rate": "auto",
}


@pytest.fixture(scope="module")
def sphere_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 10))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.uniform(-1, 1, size=20)
    return X, y


def _paper_fit(X, y, n_neurons, max_iter=150):
    model = ExponentialRegressor(
        n_neurons, max_iter=max_iter, tol=0.0, random_state=0, **PAPER
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.mark.parametrize("n_neurons", [1000, 4000])
def test_paper_setting_reaches_epsilon_geometrically(sphere_data, n_neurons):
    X, y = sphere_data
    model = _paper_fit(X, y, n_neurons)
    assert np.linalg.norm(model.predict(X) - y) < 0.01
    losses = np.array([model.initial_loss_, *model.loss_curve_])
    assert np.all(np.diff(losses) <= 0), "the loss must fall monotonically"
    # Geometric: the per-step factor over each quarter of the run to 1e-4 of
    # the initial loss stays well below one (no sub-linear tail).
    reached = np.argmax(losses < 1e-4 * losses[0])
    assert reached > 0
    quarters = np.array_split(losses[: reached + 1], 4)
    rates = [(q[-1] / q[0]) ** (1 / max(1, len(q) - 1)) for q in quarters]
    assert max(rates) < 0.95


def test_paper_setting_is_lazier_with_more_neurons(sphere_data):
    X, y = sphere_data
    narrow = ntk_diagnostics(_paper_fit(X, y, 500), X)
    wide = ntk_diagnostics(_paper_fit(X, y, 8000), X)
    assert wide.max_weight_movement < 0.75 * narrow.max_weight_movement
    assert wide.kernel_drift < 0.5 * narrow.kernel_drift


def test_diagnostics_match_direct_computation(sphere_data):
    X, y = sphere_data
    model = _paper_fit(X, y, 300, max_iter=40)
    diagnostics = ntk_diagnostics(model, X)
    assert isinstance(diagnostics, NTKDiagnostics)
    initial = empirical_ntk(X, model.initial_weights_)
    final = empirical_ntk(X, model.weights_)
    eigenvalues = np.linalg.eigvalsh(initial)
    assert_allclose(diagnostics.lambda_min_initial, eigenvalues[0], rtol=1e-6)
    assert_allclose(diagnostics.lambda_max_initial, eigenvalues[-1], rtol=1e-9)
    assert_allclose(
        diagnostics.lambda_max_final, np.linalg.eigvalsh(final)[-1], rtol=1e-9
    )
    assert_allclose(
        diagnostics.kernel_drift,
        np.linalg.norm(final - initial, 2) / np.linalg.norm(initial, 2),
        rtol=1e-9,
    )
    movement = np.linalg.norm(model.weights_ - model.initial_weights_, axis=0)
    assert_allclose(diagnostics.max_weight_movement, movement.max())
    observed = (model.loss_curve_[-1] / model.initial_loss_) ** (1 / 80)
    assert_allclose(diagnostics.observed_residual_contraction, observed)
    # The lazy-regime worst case bounds the observed average contraction.
    assert (
        diagnostics.observed_residual_contraction
        <= diagnostics.predicted_residual_contraction
    )
    text = repr(diagnostics)
    assert "kernel drift" in text and "lambda_min(H(W(0)))" in text


def test_diagnostics_use_the_scaled_inputs(sphere_data):
    X, y = sphere_data
    model = ExponentialRegressor(64, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X * 50 + 3, y)
    diagnostics = ntk_diagnostics(model, X * 50 + 3)
    seen = np.clip(X * 50 + 3, model.input_lower_, model.input_upper_)
    seen = (seen - model.input_offset_) / model.input_scale_
    norms = np.linalg.norm(seen, axis=1, keepdims=True)
    seen *= np.minimum(1, model.input_radius_ / norms)
    assert_allclose(network_inputs(model, X * 50 + 3), seen, rtol=1e-12)
    expected = np.linalg.eigvalsh(empirical_ntk(seen, model.initial_weights_))[-1]
    assert_allclose(diagnostics.lambda_max_initial, expected, rtol=1e-9)


def test_diagnostics_iterative_agree_with_dense(sphere_data):
    X, y = sphere_data
    model = _paper_fit(X, y, 200, max_iter=30)
    dense = ntk_diagnostics(model, X, method="dense")
    iterative = ntk_diagnostics(model, X, method="iterative", tol=1e-10, random_state=0)
    assert_allclose(iterative.lambda_max_initial, dense.lambda_max_initial, rtol=1e-6)
    assert_allclose(iterative.lambda_min_initial, dense.lambda_min_initial, rtol=1e-4)
    assert_allclose(iterative.kernel_drift, dense.kernel_drift, rtol=1e-6)
