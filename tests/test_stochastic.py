"""The stochastic solver (``solver="sgd"``) and ``solver="auto"``."""

import warnings

import numpy as np
import pytest
from exact import exact
from numpy.testing import assert_allclose
from sklearn import config_context
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from skexpreg import DivergenceWarning, ExponentialRegressor
from skexpreg import _regressor as regressor_module
from skexpreg._regressor import _MiniBatches, _objective
from skexpreg._rows import InMemoryRows
from skexpreg._step_size import batch_step


@pytest.fixture(scope="module")
def data():
    X, y = make_friedman1(n_samples=600, n_features=5, noise=0.3, random_state=0)
    return X, y


def _sgd(**params):
    params = {"n_neurons": 32, "solver": "sgd", "random_state": 0, **params}
    return ExponentialRegressor(**params)


def _quiet(model, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def test_a_batch_of_all_rows_takes_exactly_the_full_batch_step(data):
    X, y = data
    fixed = {"n_neurons": 32, "learning_rate": 1e-3, "alpha": 0.3, "max_iter": 1}
    full = _quiet(exact(solver="gd", tol=0.0, random_state=0, **fixed), X, y)
    batch = _quiet(
        exact(solver="sgd", batch_size=len(X), random_state=0, **fixed), X, y
    )
    assert batch.n_iter_ == full.n_iter_ == 1
    assert_allclose(batch.weights_, full.weights_, rtol=1e-13, atol=1e-15)
    assert batch.loss_curve_[0] == pytest.approx(full.initial_loss_, rel=1e-13)


@pytest.mark.parametrize("batch_size", [50, 120])
def test_an_epochs_batch_gradients_average_to_the_full_gradient(data, batch_size):
    X, y = data
    rng = np.random.RandomState(1)
    weight = rng.uniform(0.2, 3.0, size=len(X))
    X = X / 10
    W0 = rng.normal(size=(X.shape[1], 8))
    W = W0 + 0.1 * rng.normal(size=W0.shape)
    signs = np.sign(rng.normal(size=(8, 1)))
    rows = InMemoryRows(X, y[:, None], weight)
    full_loss, full_gradient = _objective(rows, signs, W, initial_weights=W0, alpha=0.7)
    batches = _MiniBatches(rows, signs, W0, 0.7, batch_size, check_random_state(0))
    estimates = [objective(W) for objective in batches.epoch()]
    # Every row in exactly one batch; batches of equal size (600 = 12 x 50 =
    # 5 x 120) estimate the weighted loss and gradient without bias, and
    # their mean over a partition is the full one.
    assert len(estimates) == len(X) // batch_size
    assert np.mean([loss for loss, _ in estimates]) == pytest.approx(full_loss)
    mean_gradient = np.mean([gradient for _, gradient in estimates], axis=0)
    assert_allclose(mean_gradient, full_gradient, rtol=1e-10, atol=1e-12)
    assert not np.allclose(estimates[0][1], full_gradient)  # a batch is not all


def test_the_batch_step_spans_one_row_to_the_full_batch():
    largest, diagonal, alpha, n = 50.0, 0.2, 0.1, 1000
    assert batch_step(largest, diagonal, alpha, n, n) == pytest.approx(
        1 / (largest + alpha)
    )
    assert batch_step(largest, diagonal, alpha, n, 1) == pytest.approx(
        1 / (n * diagonal + alpha)
    )
    steps = [batch_step(largest, diagonal, alpha, n, b) for b in (1, 10, 100, n)]
    assert steps == sorted(steps)  # larger batches, longer steps


def test_same_seed_same_fit_and_n_jobs_does_not_change_it(data):
    X, y = data
    with config_context(working_memory=0.002):  # several blocks per batch
        fits = [
            _quiet(
                exact(32, solver="sgd", batch_size=200, random_state=0, n_jobs=k), X, y
            )
            for k in (1, 1, 2)
        ]
    assert_allclose(fits[1].weights_, fits[0].weights_, rtol=0, atol=0)
    assert_allclose(fits[2].weights_, fits[0].weights_, rtol=1e-10, atol=1e-13)
    assert fits[2].loss_curve_ == pytest.approx(fits[0].loss_curve_, rel=1e-10)
    other = _quiet(exact(32, solver="sgd", batch_size=200, random_state=1), X, y)
    assert not np.allclose(other.weights_, fits[0].weights_)


def test_sgd_learns_and_stops_by_its_rule_without_warnings(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = _sgd(batch_size=64, alpha=0.01).fit(X, y)
    assert model.solver_ == "sgd"
    assert model.score(X, y) > 0.9
    assert model.n_iter_ == len(model.loss_curve_) < model.max_iter
    # One evaluation per batch, ten batches an epoch, and the one at W(0).
    assert model.n_evaluations_ == 10 * model.n_iter_ + 1
    assert model.loss_curve_[-1] < 0.1 * model.initial_loss_
    assert model.learning_rate_ > 0


def test_sample_weights_are_honoured(data):
    X, y = data
    corrupted = y.copy()
    corrupted[::2] = -50.0  # every other target is wrong
    weight = np.ones_like(y)
    weight[::2] = 0.0
    weighted = _quiet(
        _sgd(batch_size=64, alpha=0.01), X, corrupted, sample_weight=weight
    )
    clean = slice(1, None, 2)
    assert weighted.score(X[clean], y[clean]) > 0.85
    unweighted = _quiet(_sgd(batch_size=64, alpha=0.01), X, corrupted)
    assert unweighted.score(X[clean], y[clean]) < 0.5


def test_too_large_a_step_recovers_and_warns(data):
    X, y = data
    with pytest.warns(DivergenceWarning, match="halved") as caught:
        model = _sgd(batch_size=64, learning_rate=50.0, alpha=0.01).fit(X, y)
    assert not [w for w in caught if "stopped" in str(w.message)]  # not stalled
    assert model.learning_rate_ < 50.0
    assert np.isfinite(model.predict(X)).all()
    assert model.score(X, y) > 0.5


def test_early_stopping_scores_every_epoch(data):
    X, y = data
    model = _quiet(_sgd(batch_size=64, early_stopping=True, alpha=0.01), X, y)
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_auto_picks_full_batch_on_small_data_and_sgd_on_large(data, monkeypatch):
    X, y = data
    small = _quiet(ExponentialRegressor(32, alpha=0.1, random_state=0), X, y)
    assert small.solver_ == "nesterov"
    monkeypatch.setattr(regressor_module, "AUTO_SGD_ROWS", 500)
    monkeypatch.setattr(regressor_module, "AUTO_BATCH_SIZE", 64)
    large = _quiet(ExponentialRegressor(32, alpha=0.1, random_state=0), X, y)
    assert large.solver_ == "sgd"
    explicit = _quiet(_sgd(batch_size=64, alpha=0.1), X, y)
    assert_allclose(large.weights_, explicit.weights_, rtol=1e-6, atol=1e-7)
    # The alpha path of a large fit runs the same solver.
    path = _quiet(ExponentialRegressor(32, random_state=0), X, y)
    assert path.solver_ == "sgd" and path.alpha_scores_ is not None


def test_partial_fit_still_takes_one_full_batch_step(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(regressor_module, "AUTO_SGD_ROWS", 100)
    model = ExponentialRegressor(16, learning_rate=1e-3, alpha=0.3, random_state=0)
    model.partial_fit(X, y)
    model.partial_fit(X, y)
    assert model.n_iter_ == 2 and model.solver_ == "gd"


def test_warm_start_continues_with_the_stochastic_solver(data):
    X, y = data
    model = _quiet(_sgd(batch_size=64, alpha=0.1, max_iter=3, warm_start=True), X, y)
    first = list(model.loss_curve_)
    _quiet(model, X, y)
    assert model.n_iter_ == 6 and model.loss_curve_[:3] == first
