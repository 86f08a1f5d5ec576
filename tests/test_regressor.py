"""ExponentialRegressor: behaviour a scikit-learn user relies on."""

import pickle
import warnings

import numpy as np
import pytest
from bounds import assert_bounded
from numpy.testing import assert_allclose
from scipy import sparse
from sklearn import config_context
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skexpreg import DivergenceWarning, ExponentialRegressor
from skexpreg._regularization import ALPHA_GRID


@pytest.fixture(scope="module")
def data():
    X, y = make_friedman1(n_samples=120, n_features=5, noise=0.1, random_state=0)
    return X, y


def _fast(**params):
    params = {"n_neurons": 32, "max_iter": 50, "random_state": 0, **params}
    return ExponentialRegressor(**params)


def _exact(**params):
    """Like _fast, trained in float64: for fits compared to round-off."""
    return _fast(precision="double", **params)


def _fit_quietly(model, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def test_fit_learns_and_records_history(data):
    X, y = data
    model = _fit_quietly(_fast(max_iter=200), X, y)
    assert model.score(X, y) > 0.8
    assert model.weights_.shape == (5, 32)
    assert model.initial_weights_.shape == (5, 32)
    assert set(np.unique(model.output_signs_)) == {-1.0, 1.0}
    assert len(model.loss_curve_) == model.n_iter_
    assert model.loss_curve_[-1] < 0.2 * model.initial_loss_
    assert np.all(np.diff(model.loss_curve_) <= 0)
    assert model.learning_rate_ > 0


@pytest.mark.parametrize("n_jobs", [2, -1])
def test_n_jobs_does_not_change_the_fit(data, n_jobs):
    X, y = data
    with config_context(working_memory=0.005):  # several blocks
        serial = _fit_quietly(_fast(), X, y)
        threaded = _fit_quietly(_fast(n_jobs=n_jobs), X, y)
    assert_allclose(threaded.weights_, serial.weights_, rtol=1e-9)
    assert_allclose(threaded.predict(X), serial.predict(X), rtol=1e-9)


def test_working_memory_does_not_change_the_fit(data):
    X, y = data
    unblocked = _fit_quietly(_exact(), X, y)
    with config_context(working_memory=1e-5):  # one row per block
        blocked = _fit_quietly(_exact(), X, y)
        blocked_prediction = blocked.predict(X)
    assert_allclose(blocked.weights_, unblocked.weights_, rtol=1e-9)
    assert_allclose(blocked_prediction, unblocked.predict(X), rtol=1e-9)


def test_float32_is_computed_in_float32_and_agrees_with_float64(data):
    X, y = data
    # alpha given: the path's held-out scores differ in the last digits
    # between the two, and a near tie may choose another strength.
    single = _fit_quietly(_fast(alpha=0.3), X.astype(np.float32), y)
    double = _fit_quietly(_fast(alpha=0.3), X, y)
    assert single.weights_.dtype == np.float32
    assert single.predict(X.astype(np.float32)).dtype == np.float32
    assert_allclose(
        single.predict(X.astype(np.float32)), double.predict(X), rtol=1e-3, atol=1e-3
    )


def test_precision_single_trains_float64_input_in_float32(data):
    X, y = data
    single = _fit_quietly(_fast(precision="single"), X, y)
    double = _fit_quietly(_fast(), X, y)
    assert single.weights_.dtype == single.initial_weights_.dtype == np.float32
    assert single.input_offset_.dtype == np.float64  # the map stays float64
    predictions = single.predict(X)
    assert predictions.dtype == np.float64
    assert_allclose(predictions, double.predict(X), rtol=1e-3, atol=1e-3)
    # partial_fit continues in the precision of the fitted weights
    single.partial_fit(X, y)
    assert single.weights_.dtype == np.float32


def test_precision_double_trains_float32_input_in_float64(data):
    X, y = data
    model = _fit_quietly(_fast(precision="double"), X.astype(np.float32), y)
    assert model.weights_.dtype == np.float64


def test_precision_single_rounds_after_the_input_map(data):
    # A feature at a large offset (seconds since 1970) keeps its variation:
    # rounded before centring, 1.7e9 + x would keep steps of 128 only.
    X, y = data
    shifted = X.copy()
    shifted[:, 0] = 1.7e9 + 50 * X[:, 0]
    single = _fit_quietly(_fast(precision="single"), shifted, y)
    double = _fit_quietly(_fast(precision="double"), shifted, y)
    assert_allclose(single.predict(shifted), double.predict(shifted), atol=1e-3)
    assert single.score(shifted, y) > 0.8


@pytest.mark.parametrize("make_sparse", [sparse.csr_matrix, sparse.csc_matrix])
def test_precision_single_on_sparse_input_agrees_with_dense(data, make_sparse):
    X, y = _sparse_data(data, weighted=False)[:2]
    dense = _fit_quietly(_fast(precision="single"), X, y)
    from_sparse = _fit_quietly(_fast(precision="single"), make_sparse(X), y)
    assert from_sparse.weights_.dtype == np.float32
    assert_allclose(from_sparse.predict(make_sparse(X)), dense.predict(X), atol=1e-4)


def _sparse_data(data, weighted):
    """Friedman's rows with most entries 0, and columns whose clip range
    under "standard" excludes 0: column 0 is positive and column 1 negative
    except for one row (less than 2.5 % of the weight)."""
    X, y = data
    X = X.copy()
    X[X < 0.5] = 0  # genuinely sparse
    X[:, 0] = 1 + X[:, 0]
    X[:, 1] = -1 - X[:, 1]
    X[0, :2] = 0
    sample_weight = None
    if weighted:
        sample_weight = np.random.RandomState(1).uniform(0.5, 2, size=len(X))
        sample_weight[[3, 7]] = 0  # rows of zero weight count for nothing
    return X, y, sample_weight


_FITTED_INPUT_MAP = (
    "input_offset_",
    "input_scale_",
    "input_lower_",
    "input_upper_",
    "input_radius_",
    "target_mean_",
    "target_scale_",
)


@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csc_matrix])
@pytest.mark.parametrize("input_scaling", ["standard", "max_norm", None, 2.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_input_agrees_with_dense(data, container, input_scaling, weighted):
    X, y, sample_weight = _sparse_data(data, weighted)
    params = dict(input_scaling=input_scaling)
    dense = _fit_quietly(_exact(**params), X, y, sample_weight=sample_weight)
    sparse_fit = _fit_quietly(
        _exact(**params), container(X), y, sample_weight=sample_weight
    )
    if input_scaling == "standard":
        # the map centres, and clips columns 0 and 1 away from 0
        assert np.all(np.abs(dense.input_offset_) > 0)
        assert dense.input_lower_[0] > 0 and dense.input_upper_[1] < 0
    for name in _FITTED_INPUT_MAP:
        assert_allclose(getattr(sparse_fit, name), getattr(dense, name), rtol=1e-8)
    assert sparse_fit.alpha_ == dense.alpha_
    assert sparse_fit.n_iter_ == dense.n_iter_
    assert_allclose(sparse_fit.weights_, dense.weights_, rtol=1e-8, atol=1e-12)
    # rows far outside the training range are shrunk onto the ball
    rows = np.vstack([X, 1e3 * X[:5], -1e6 * X[5:10]])
    expected = dense.predict(rows)
    for model in (sparse_fit, dense):
        for as_input in (container, sparse.csr_matrix, np.asarray):
            assert_allclose(model.predict(as_input(rows)), expected, rtol=1e-8)


@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csc_matrix])
def test_sparse_standard_fit_agrees_with_dense_on_every_path(
    data, container, monkeypatch
):
    """Early stopping's split, alpha's path, the step from Lanczos in weight
    space and the quantiles of a row sample all see the centred sparse rows."""
    from skexpreg import _preprocessing, _step_size

    monkeypatch.setattr(_preprocessing, "MAX_QUANTILE_ROWS", 50)
    monkeypatch.setattr(_step_size, "_DENSE_MAX_SAMPLES", 10)
    X, y, sample_weight = _sparse_data(data, weighted=True)
    params = dict(early_stopping=True, n_iter_no_change=100, n_jobs=2)
    with config_context(working_memory=0.001):  # several row blocks
        dense = _fit_quietly(_exact(**params), X, y, sample_weight=sample_weight)
        sparse_fit = _fit_quietly(
            _exact(**params), container(X), y, sample_weight=sample_weight
        )
        predictions = sparse_fit.predict(container(X))
    for name in _FITTED_INPUT_MAP:
        assert_allclose(getattr(sparse_fit, name), getattr(dense, name), rtol=1e-8)
    assert sparse_fit.alpha_scores_.keys() == dense.alpha_scores_.keys()
    assert_allclose(
        list(sparse_fit.alpha_scores_.values()),
        list(dense.alpha_scores_.values()),
        rtol=1e-8,
    )
    assert_allclose(sparse_fit.learning_rate_, dense.learning_rate_, rtol=1e-8)
    assert_allclose(sparse_fit.validation_scores_, dense.validation_scores_, rtol=1e-8)
    assert_allclose(sparse_fit.weights_, dense.weights_, rtol=1e-8, atol=1e-12)
    assert_allclose(predictions, dense.predict(X), rtol=1e-8)


@pytest.mark.parametrize("input_scaling", ["standard", "max_norm", None])
def test_sparse_rows_are_predicted_like_their_dense_copy(data, input_scaling):
    X, y = data
    # trained where no feature is 0: every clip range excludes 0
    model = _fit_quietly(_fast(input_scaling=input_scaling), X + 1, y)
    rows = X.copy()
    rows[rows < 0.5] = 0
    assert_allclose(
        model.predict(sparse.csr_matrix(rows)), model.predict(rows), rtol=1e-10
    )


@pytest.mark.parametrize("container", [np.asarray, sparse.csr_matrix])
def test_constant_features_fit_a_constant(data, container, monkeypatch):
    """Features constant on the training rows are mapped to 0: the network
    sees rows of zeros, whose kernel is 0. The step from Lanczos (large
    data) must not fail on it."""
    from skexpreg import _step_size

    monkeypatch.setattr(_step_size, "_DENSE_MAX_SAMPLES", 10)
    X, y = data
    X = np.ones_like(X) * [0.0, 2.0, 0.0, -1.0, 0.0]
    model = _fit_quietly(_fast(), container(X), y)
    assert_allclose(model.predict(container(X)), np.mean(y), rtol=1e-12)


def test_pipeline_with_standard_scaler(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), _fast(max_iter=200))
    _fit_quietly(pipe, X, y)
    assert pipe.score(X, y) > 0.8


def test_grid_search_over_neurons_and_learning_rate(data):
    X, y = data
    search = GridSearchCV(
        _fast(),
        {"n_neurons": [8, 32], "learning_rate": ["auto", 1e-3]},
        cv=3,
    )
    _fit_quietly(search, X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["learning_rate"] in ("auto", 1e-3)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_clone_and_pickle_round_trip(data):
    X, y = data
    model = _fit_quietly(_fast(), X, y)
    cloned = clone(model)
    assert cloned.get_params() == model.get_params()
    assert not hasattr(cloned, "weights_")
    restored = pickle.loads(pickle.dumps(model))
    assert_allclose(restored.predict(X), model.predict(X))


def test_same_random_state_same_fit(data):
    X, y = data
    first = _fit_quietly(_fast(), X, y)
    second = _fit_quietly(_fast(), X, y)
    assert_allclose(first.predict(X), second.predict(X))


def test_paired_initialisation_starts_from_the_zero_network(data):
    X, y = data
    model = _fit_quietly(_exact(init="paired", max_iter=1), X, y)
    # With F(W(0)) = 0 the initial loss is half the sum of squared
    # standardised targets, i.e. n / 2.
    assert_allclose(model.initial_loss_, len(y) / 2, rtol=1e-12)


def test_multi_output_shapes(data):
    X, y = data
    Y = np.column_stack([y, -2 * y])
    model = _fit_quietly(_fast(), X, Y)
    assert model.predict(X).shape == (len(y), 2)
    assert model.output_signs_.shape == (32, 2)
    assert _fit_quietly(_fast(), X, y).predict(X).shape == (len(y),)


# --- numerics ---------------------------------------------------------------


def test_too_large_learning_rate_recovers_and_warns(data):
    X, y = data
    model = _fast(learning_rate=1e3, max_iter=30)
    with pytest.warns(DivergenceWarning, match="learning_rate=1e\\+03"):
        model.fit(X, y)
    assert model.learning_rate_ < 1e3
    assert model.n_step_reductions_ > 0
    assert np.isfinite(model.predict(X)).all()
    assert model.loss_curve_[-1] < model.initial_loss_


def test_huge_raw_inputs_without_scaling_raise_a_clear_error(data):
    X, y = data
    with pytest.raises(ValueError, match="overflows at initialisation.*input_scaling"):
        _fast(input_scaling=None).fit(X * 1e4, y)


@pytest.mark.parametrize("input_scaling", ["max_norm", "standard"])
def test_huge_raw_inputs_with_scaling_fit_fine(data, input_scaling):
    X, y = data
    # alpha given: alpha="auto" holds out rows by their content, which the
    # factor changes (another choice of rows, as another seed would make).
    model = _fit_quietly(_fast(input_scaling=input_scaling, alpha=0.3), X * 1e200, y)
    small = _fit_quietly(_fast(input_scaling=input_scaling, alpha=0.3), X, y)
    assert_allclose(model.predict(X * 1e200), small.predict(X), rtol=1e-6)


@pytest.mark.parametrize("input_scaling", ["standard", "max_norm", None, 2.0])
@pytest.mark.parametrize("container", [np.asarray, sparse.csr_matrix])
def test_inputs_far_outside_training_range_give_bounded_predictions(
    data, input_scaling, container
):
    X, y = data
    model = _fit_quietly(_fast(input_scaling=input_scaling), container(X), y)
    far = np.vstack([X[:3], X[:2] * 1e3, -X[:2] * 1e6, X[:2] * 1e300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: bounded
        predictions = model.predict(container(far))
    assert_bounded(model, predictions)
    assert_allclose(predictions[:3], model.predict(container(X[:3])))
    assert_allclose(
        model.predict(container(X[:3] * 1e300)), predictions[-1], rtol=1e-12
    )


def test_huge_targets_are_standardised(data):
    X, y = data
    # alpha given: alpha="auto" holds out rows by their content, which the
    # factor changes (another choice of rows, as another seed would make).
    model = _fit_quietly(_fast(alpha=0.3), X, y * 1e300)
    reference = _fit_quietly(_fast(alpha=0.3), X, y)
    assert_allclose(model.predict(X) / 1e300, reference.predict(X), rtol=1e-6)


def test_huge_targets_without_scaling_raise_a_clear_error(data):
    X, y = data
    with pytest.raises(ValueError, match="target_scaling=True"):
        _fast(target_scaling=False).fit(X, y * 1e300)


def test_float32_far_rows_are_bounded(data):
    X, y = data
    X32 = X.astype(np.float32)
    model = _fit_quietly(_fast(), X32, y)
    predictions = model.predict(X32 * np.float32(1e30))
    assert predictions.dtype == np.float32
    assert_bounded(model, predictions)


def test_standard_map_clips_features_to_their_weighted_quantiles():
    rng = np.random.RandomState(0)
    X = rng.standard_cauchy(size=(400, 3))  # heavy tails
    y = np.tanh(X[:, 0])
    weight = rng.randint(1, 4, size=400)
    model = _fit_quietly(_fast(max_iter=5), X, y, sample_weight=weight)
    repeated = np.repeat(X, weight, axis=0)
    for attribute, q in [("input_lower_", 0.025), ("input_upper_", 0.975)]:
        expected = np.quantile(repeated, q, axis=0, method="inverted_cdf")
        assert_allclose(getattr(model, attribute), expected)


@pytest.mark.parametrize("container", [np.asarray, sparse.csr_matrix])
def test_a_rare_indicator_is_not_clipped_away(container):
    # 2 % of the rows have the indicator: its 2.5 % and 97.5 % quantiles are
    # both 0, and clipping to them would make the column constant.
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=500), np.zeros(500)])
    X[rng.choice(500, 10, replace=False), 1] = 1.0
    y = 3.0 * X[:, 1] + 0.1 * X[:, 0]
    model = _fit_quietly(_exact(max_iter=300), container(X), y)
    assert_allclose([model.input_lower_[1], model.input_upper_[1]], [0.0, 1.0])
    assert model.score(container(X), y) > 0.9
    if container is not np.asarray:
        dense = _fit_quietly(_exact(max_iter=300), X, y)
        assert_allclose(model.predict(container(X)), dense.predict(X), rtol=1e-8)


# --- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.nan, "NaN"),
        (np.inf, "infinity"),
    ],
)
def test_non_finite_inputs_are_rejected(data, bad, message):
    X, y = data
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match=message):
        _fast().fit(X, y)
    model = _fit_quietly(_fast(), data[0], y)
    with pytest.raises(ValueError, match=message):
        model.predict(X)


def test_non_finite_targets_are_rejected(data):
    X, y = data
    y = y.copy()
    y[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _fast().fit(X, y)


def test_strings_are_rejected(data):
    X, y = data
    X = X.astype(object)
    X[0, 0] = "a"
    with pytest.raises(ValueError, match="could not convert string"):
        _fast().fit(X, y)


def test_empty_arrays_are_rejected():
    with pytest.raises(ValueError, match="0 sample"):
        _fast().fit(np.empty((0, 3)), np.empty(0))


def test_wrong_number_of_features_at_predict(data):
    X, y = data
    model = _fit_quietly(_fast(), X, y)
    with pytest.raises(ValueError, match="5 features"):
        model.predict(X[:, :3])


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        _fast().predict(np.ones((2, 2)))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_neurons": 0}, "n_neurons"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1e-3}, "tol"),
        ({"alpha": -1.0}, "alpha"),
        ({"input_scaling": "minmax"}, "input_scaling"),
        ({"input_scaling": 0.0}, "input_scaling"),
        ({"init": "zeros"}, "init"),
        ({"target_scaling": "yes"}, "target_scaling"),
    ],
)
def test_invalid_parameters_are_rejected(data, params, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        _fast(**params).fit(X, y)


def test_negative_or_all_zero_sample_weight_is_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="non-negative|negative"):
        _fast().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="positive|zero"):
        _fast().fit(X, y, sample_weight=np.zeros(len(y)))


def test_auto_alpha_is_chosen_on_held_out_rows_reproducibly(data):
    X, y = data
    with config_context(working_memory=0.005):  # several blocks
        serial = _fit_quietly(_fast(n_jobs=1), X, y)
        threaded = _fit_quietly(_fast(n_jobs=2), X, y)
        again = _fit_quietly(_fast(n_jobs=1), X, y)
    assert serial.alpha_ == threaded.alpha_ == again.alpha_
    assert serial.alpha_scores_.keys() == threaded.alpha_scores_.keys()
    # the best strength on the path, or the next stronger one (within one
    # standard error of it); small data: every strength is scored
    best = max(serial.alpha_scores_, key=serial.alpha_scores_.get)
    assert serial.alpha_ in (best, min([a for a in ALPHA_GRID if a > best] or [best]))
    assert len(serial.alpha_scores_) == 6
    assert_allclose(threaded.weights_, serial.weights_, rtol=1e-9)
    assert_allclose(again.weights_, serial.weights_, rtol=0)
    fixed = _fit_quietly(_fast(alpha=0.3), X, y)
    assert fixed.alpha_ == 0.3 and fixed.alpha_scores_ is None


def test_integer_sample_weight_equals_repeated_rows(data):
    # With a fixed alpha (alpha="auto": tests/test_weights.py).
    X, y = data
    weights = np.random.RandomState(0).randint(0, 3, size=len(y))
    weighted = _fit_quietly(_exact(alpha=0.3), X, y, sample_weight=weights)
    repeated = _fit_quietly(
        _exact(alpha=0.3), np.repeat(X, weights, 0), np.repeat(y, weights)
    )
    assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-7)


# --- solvers --------------------------------------------------------------------


def test_all_solvers_reach_the_same_minimum_of_a_strongly_convex_loss(data):
    X, y = data
    # A strong ridge toward W(0) makes the loss strongly convex around it;
    # the max_norm map leaves it ill-conditioned enough for momentum to pay.
    fits = {
        solver: _fit_quietly(
            _exact(
                solver=solver,
                alpha=5.0,
                tol=1e-12,
                max_iter=3000,
                input_scaling="max_norm",
            ),
            X,
            y,
        )
        for solver in ("gd", "nesterov", "lbfgs")
    }
    reference = fits["lbfgs"]
    for solver, model in fits.items():
        assert model.n_iter_ < 3000, f"{solver} did not converge"
        assert_allclose(model.weights_, reference.weights_, atol=1e-4)
        assert_allclose(model.predict(X), reference.predict(X), rtol=1e-5)
    assert fits["nesterov"].n_evaluations_ < fits["gd"].n_evaluations_ / 2


def test_nesterov_loss_curve_is_monotone_and_counts_evaluations(data):
    X, y = data
    model = _fit_quietly(_fast(solver="nesterov", max_iter=300, tol=0, alpha=0.3), X, y)
    losses = np.array([model.initial_loss_, *model.loss_curve_])
    assert np.all(np.diff(losses) <= 1e-12 * losses[:-1])  # up to round-off
    assert model.n_evaluations_ >= model.n_iter_ + 1
    plain = _fit_quietly(_fast(solver="gd", max_iter=300, tol=0, alpha=0.3), X, y)
    assert model.loss_curve_[-1] < plain.loss_curve_[-1]


# --- training controls --------------------------------------------------------


def test_warm_start_continues_the_same_iteration(data):
    X, y = data
    fixed = {"solver": "gd", "learning_rate": 1e-3, "tol": 0.0, "alpha": 0.3}
    once = _fit_quietly(_fast(max_iter=40, **fixed), X, y)
    twice = _fast(max_iter=20, warm_start=True, **fixed)
    _fit_quietly(twice, X, y)
    first_curve = list(twice.loss_curve_)
    _fit_quietly(twice, X, y)
    assert twice.n_iter_ == 40
    assert twice.loss_curve_[:20] == first_curve
    assert_allclose(twice.loss_curve_, once.loss_curve_, rtol=1e-12)
    assert_allclose(twice.weights_, once.weights_, rtol=1e-12)
    assert_allclose(twice.initial_weights_, once.initial_weights_)


def test_warm_start_rejects_a_different_number_of_features_or_outputs(data):
    X, y = data
    model = _fit_quietly(_fast(warm_start=True), X, y)
    with pytest.raises(ValueError, match="features"):
        model.fit(X[:, :3], y)
    with pytest.raises(ValueError, match="output"):
        model.fit(X, np.column_stack([y, y]))


def test_without_warm_start_refitting_starts_afresh(data):
    X, y = data
    model = _fit_quietly(_fast(max_iter=10, tol=0.0), X, y)
    _fit_quietly(model, X, y)
    assert model.n_iter_ == 10 and len(model.loss_curve_) == 10


def test_early_stopping_restores_the_best_validation_weights():
    from sklearn.utils import check_random_state

    from skexpreg import _keys

    X, y = make_friedman1(n_samples=200, n_features=5, noise=3.0, random_state=1)
    # alpha=0 on noisy data: the validation score peaks, then falls.
    model = _fast(
        early_stopping=True,
        alpha=0.0,
        n_neurons=64,
        max_iter=2000,
        n_iter_no_change=5,
        validation_fraction=0.25,
    )
    _fit_quietly(model, X, y)
    scores = model.validation_scores_
    assert len(scores) == model.n_iter_ < 2000
    assert model.best_validation_score_ == max(scores)
    assert np.argmax(scores) == len(scores) - 1 - 5  # five steps without gain
    # The validation rows: a quarter of the distinct rows, chosen by their
    # content keys mixed with the first seed drawn from random_state=0.
    seed = check_random_state(0).randint(np.iinfo(np.int32).max)
    keys = _keys.seeded(_keys.content_keys(X, y), seed)
    _, held_out = _keys.split(keys, 0.25)
    assert len(held_out) == 50
    assert_allclose(model.score(X[held_out], y[held_out]), model.best_validation_score_)


@pytest.mark.parametrize("solver", ["gd", "nesterov", "lbfgs"])
def test_early_stopping_works_with_every_solver(data, solver):
    X, y = data
    model = _fit_quietly(_fast(solver=solver, early_stopping=True), X, y)
    assert len(model.validation_scores_) == model.n_iter_
    assert np.isfinite(model.predict(X)).all()
    plain = _fit_quietly(_fast(solver=solver), X, y)
    assert plain.validation_scores_ is None


def test_partial_fit_takes_one_gradient_step_per_call(data):
    X, y = data
    fixed = {"learning_rate": 1e-3, "alpha": 0.3}
    streamed = _fast(**fixed)
    for _ in range(5):
        streamed.partial_fit(X, y)
    assert streamed.n_iter_ == len(streamed.loss_curve_) == 5
    batch = _fit_quietly(_fast(solver="gd", max_iter=5, tol=0.0, **fixed), X, y)
    assert_allclose(streamed.weights_, batch.weights_, rtol=1e-12)
    assert_allclose(streamed.loss_curve_, batch.loss_curve_, rtol=1e-12)


def test_partial_fit_streams_blocks_and_keeps_the_first_scaling(data):
    X, y = data
    model = _fast()
    model.partial_fit(X[:60], y[:60])
    scale, step = model.input_scale_.copy(), model.learning_rate_
    for block in (slice(60, 120), slice(0, 60), slice(60, 120)):
        model.partial_fit(X[block], y[block])
    assert model.n_iter_ == 4
    assert_allclose(model.input_scale_, scale)
    assert model.learning_rate_ <= step
    assert model.loss_curve_[-1] < model.initial_loss_
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :3], y)


def test_verbose_prints_progress_with_validation_score(data, capsys):
    X, y = data
    _fit_quietly(_fast(max_iter=40, tol=0.0), X, y)
    assert capsys.readouterr().out == ""  # silent by default
    _fit_quietly(_fast(max_iter=40, tol=0.0, verbose=1, early_stopping=True), X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    # alpha="auto": one line on the path, then the final fit's progress
    assert lines[0].startswith("alpha='auto': validation R2 by alpha {10: ")
    lines = lines[1:]
    assert 2 <= len(lines) <= 12
    assert all(line.startswith("Iteration ") for line in lines)
    assert all("validation R2 = " in line and "elapsed = " in line for line in lines)


def test_one_column_2d_target_is_the_1d_fit_with_the_same_signs(data):
    X, y = data
    flat = _fit_quietly(_fast(), X, y)
    column = _fit_quietly(_fast(), X, y[:, None])
    assert column.predict(X).shape == (len(y), 1)
    assert_allclose(column.output_signs_[:, 0], flat.output_signs_)
    assert_allclose(column.predict(X)[:, 0], flat.predict(X), rtol=1e-12)
    # Each output of a multi-output fit has its own balanced signs.
    both = _fit_quietly(_fast(), X, np.column_stack([y, y**2]))
    assert both.output_signs_.shape == (32, 2)
    assert (both.output_signs_.sum(axis=0) == 0).all()  # paired: balanced


def test_pandas_input_keeps_feature_names_and_checks_columns(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = _fit_quietly(_fast(), frame, pd.Series(y))
    assert list(model.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = model.predict(X)
    assert_allclose(model.predict(frame), from_array)
    with pytest.raises(ValueError, match="feature names"):
        model.predict(frame[frame.columns[::-1]])


# --- nothing lost, nothing silent ---------------------------------------------


class _Interrupt:
    """A solver callback that raises KeyboardInterrupt after a few steps."""

    def __init__(self, after):
        self.after, self.calls = after, 0

    def __call__(self, weights):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt


def _interrupting(monkeypatch, after=3):
    from skexpreg import _callbacks

    monkeypatch.setattr(
        _callbacks.CallbackList,
        "__init__",
        lambda self, callbacks: setattr(self, "callbacks", [_Interrupt(after)]),
    )


def test_an_interrupted_refit_leaves_the_previous_model(data, monkeypatch):
    X, y = data
    model = _fit_quietly(_fast(alpha=0.3), X, y)
    state = {
        name: np.copy(value)
        for name, value in vars(model).items()
        if isinstance(value, np.ndarray)
    }
    predictions = model.predict(X)
    _interrupting(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X * 3 + 1, -y)
    assert_allclose(model.predict(X), predictions, rtol=0)
    for name, value in state.items():
        assert_allclose(getattr(model, name), value, rtol=0)


def test_an_interrupted_first_fit_leaves_an_unfitted_estimator(data, monkeypatch):
    X, y = data
    model = _fast(alpha=0.3)
    _interrupting(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert not hasattr(model, "n_features_in_")
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_a_feature_near_the_largest_float_is_a_clear_error(data):
    X, y = data
    X = X.copy()
    X[:, 2] *= 1.5e308 / np.abs(X[:, 2]).max()
    with pytest.raises(ValueError, match=r"feature\(s\) \[2\] overflows"):
        _fast(alpha=0.3).fit(X, y)


def test_rows_near_the_largest_float_predict_finite_values(data):
    X, y = data
    model = _fit_quietly(_fast(alpha=0.3), X, y)
    far = np.full((3, X.shape[1]), 1.7e308)
    far[1] *= -1
    assert_bounded(model, model.predict(far))


@pytest.mark.parametrize("dtype, value", [(np.float64, 1.7e308), (np.float32, 3e38)])
def test_targets_near_the_largest_float_are_a_clear_error(data, dtype, value):
    X, y = data
    y = np.where(y > np.median(y), value, -value).astype(dtype)
    with pytest.raises(ValueError, match="targets are too close to the largest"):
        _fast(alpha=0.3).fit(X.astype(dtype), y)


def test_tol_zero_runs_max_iter_without_a_convergence_warning(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = _fast(alpha=0.3, tol=0.0, max_iter=15).fit(X, y)
    assert model.n_iter_ == 15


def test_a_constant_target_is_fitted_at_once_and_quietly(data):
    X, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = _fast().fit(X, np.full(len(X), 3.0))
    assert model.n_iter_ == 0
    assert_allclose(model.predict(X), 3.0)


def test_path_fits_falling_behind_stop_early(monkeypatch):
    # On the diabetes data the weak strengths' fits overfit (held-out R²
    # down to -5) and ran longest: they now stop once they stay behind the
    # best strength, and the choice is the same.
    from sklearn.datasets import load_diabetes

    from skexpreg import _regularization

    X, y = load_diabetes(return_X_y=True)
    evaluations = []
    original = ExponentialRegressor._train

    def counted(self, rows, *args, **kwargs):
        result = original(self, rows, *args, **kwargs)
        evaluations.append(result[0].n_evaluations)
        return result

    monkeypatch.setattr(ExponentialRegressor, "_train", counted)
    early = _fit_quietly(ExponentialRegressor(random_state=0), X, y)
    path_early = sum(evaluations[:-1])
    evaluations.clear()
    monkeypatch.setattr(_regularization, "BEHIND_MARGIN", np.inf)
    full = _fit_quietly(ExponentialRegressor(random_state=0), X, y)
    path_full = sum(evaluations[:-1])
    assert early.alpha_ == full.alpha_
    assert_allclose(early.weights_, full.weights_, rtol=0)
    assert early.alpha_scores_[early.alpha_] == full.alpha_scores_[full.alpha_]
    assert path_early < path_full / 3
