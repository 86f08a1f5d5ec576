"""Array API support: fits on PyTorch and array-api-strict arrays.

Each test runs with scikit-learn's ``array_api_dispatch`` on and is skipped
where that is unavailable (scipy < 1.14, or without ``SCIPY_ARRAY_API=1``,
which tests/conftest.py sets) or where the namespace is not installed.
"""

import warnings

import numpy as np
import pytest
import sklearn
from bounds import assert_bounded
from exact import exact
from numpy.testing import assert_allclose
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning

from skexpreg import ExponentialRegressor, _array_api
from skexpreg.exceptions import DivergenceWarning

NAMESPACES = ["array_api_strict", "torch"]
FITTED_ARRAYS = [
    "weights_",
    "initial_weights_",
    "output_signs_",
    "input_offset_",
    "input_scale_",
    "target_mean_",
    "target_scale_",
]


def _dispatch_available():
    try:
        with sklearn.config_context(array_api_dispatch=True):
            pass
    except (ImportError, RuntimeError):
        return False
    return _array_api.array_api_compat is not None


pytestmark = pytest.mark.skipif(
    not _dispatch_available(),
    reason="scikit-learn cannot dispatch to the array API here",
)


@pytest.fixture(params=NAMESPACES)
def xp(request):
    module = pytest.importorskip(request.param)
    return _array_api.array_api_compat.array_namespace(module.asarray([1.0]))


@pytest.fixture
def dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


def _data(n_samples=60, n_features=5, n_outputs=None, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features)
    y = X[:, 0] + np.sin(2 * X[:, 1]) + 0.1 * rng.randn(n_samples)
    if n_outputs is not None:
        y = np.column_stack([y * (k + 1) for k in range(n_outputs)])
    return X, y, rng.uniform(0.5, 2, n_samples)


def _fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


def _assert_matches_numpy(estimator, reference, X, X_xp, rtol=1e-8):
    with sklearn.config_context(array_api_dispatch=True):
        predictions = estimator.predict(X_xp)
    assert_allclose(
        _array_api.to_numpy(predictions), reference.predict(X), rtol=rtol, atol=1e-12
    )
    for name in FITTED_ARRAYS:
        assert_allclose(
            _array_api.to_numpy(getattr(estimator, name)),
            getattr(reference, name),
            rtol=rtol,
            atol=1e-12,
            err_msg=name,
        )


@pytest.mark.parametrize(
    "solver, max_iter", [("nesterov", 200), ("gd", 200), ("lbfgs", 30)]
)
def test_fit_matches_numpy_to_round_off(xp, dispatch, solver, max_iter):
    X, y, _ = _data()
    params = dict(n_neurons=16, max_iter=max_iter, tol=0, solver=solver)
    reference = _fit(exact(random_state=0, **params), X, y)
    estimator = exact(random_state=0, **params)
    _fit(estimator, xp.asarray(X), xp.asarray(y))
    assert estimator.n_iter_ == reference.n_iter_ == max_iter
    _assert_matches_numpy(estimator, reference, X, xp.asarray(X))
    assert_allclose(estimator.loss_curve_, reference.loss_curve_, rtol=1e-8)
    if solver != "lbfgs":
        assert estimator.learning_rate_ == pytest.approx(
            reference.learning_rate_, rel=1e-8
        )


def test_single_precision_fit_matches_numpy(xp, dispatch):
    X, y, _ = _data()
    params = dict(n_neurons=16, max_iter=50, precision="single", random_state=0)
    reference = _fit(ExponentialRegressor(**params), X, y)
    estimator = _fit(ExponentialRegressor(**params), xp.asarray(X), xp.asarray(y))
    assert "float32" in str(estimator.weights_.dtype)
    weights = _array_api.to_numpy(estimator.weights_)
    assert_allclose(weights, reference.weights_, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "params",
    [
        dict(input_scaling="max_norm", target_scaling=False),
        dict(input_scaling=None, init="gaussian", alpha=0.0),
        # a fixed step that does not diverge: where a step is halved,
        # round-off decides the iteration, and numpy and torch part ways
        dict(input_scaling=3.0, learning_rate=0.005),
        dict(early_stopping=True, n_iter_no_change=5),
    ],
)
def test_options_match_numpy(xp, dispatch, params):
    X, y, weight = _data(n_outputs=2)
    params = dict(n_neurons=12, max_iter=60, random_state=0, **params)
    reference = _fit(exact(**params), X, y, sample_weight=weight)
    estimator = exact(**params)
    _fit(estimator, xp.asarray(X), xp.asarray(y), sample_weight=xp.asarray(weight))
    assert estimator.n_iter_ == reference.n_iter_
    _assert_matches_numpy(estimator, reference, X, xp.asarray(X))
    if params.get("early_stopping"):
        assert_allclose(
            estimator.validation_scores_, reference.validation_scores_, rtol=1e-8
        )


def test_fitted_arrays_live_beside_X_and_scalars_stay_python(xp, dispatch):
    X, y, _ = _data()
    X_xp = xp.asarray(X)
    estimator = _fit(ExponentialRegressor(8, max_iter=5), X_xp, xp.asarray(y))
    for name in FITTED_ARRAYS:
        attribute = getattr(estimator, name)
        assert _array_api.namespace(attribute)[0] is xp, name
        assert _array_api.device_of(attribute) == _array_api.device_of(X_xp), name
    assert isinstance(estimator.learning_rate_, float)
    assert isinstance(estimator.n_iter_, int)
    assert all(isinstance(loss, float) for loss in estimator.loss_curve_)
    predictions = estimator.predict(X_xp)
    assert _array_api.namespace(predictions)[0] is xp
    assert predictions.shape == (X.shape[0],)
    assert predictions.dtype == xp.float64


def test_float32_input_is_computed_in_float32(xp, dispatch):
    X, y, _ = _data()
    X32 = X.astype(np.float32)
    reference = _fit(ExponentialRegressor(8, max_iter=50, random_state=0), X32, y)
    estimator = ExponentialRegressor(8, max_iter=50, random_state=0)
    _fit(estimator, xp.asarray(X32), xp.asarray(y))
    assert estimator.weights_.dtype == xp.float32
    # as with numpy: the scalings stay float64 where the device has it
    assert estimator.input_scale_.dtype == xp.float64
    predictions = estimator.predict(xp.asarray(X32))
    assert predictions.dtype == xp.float32
    assert_allclose(
        _array_api.to_numpy(predictions), reference.predict(X32), rtol=1e-3, atol=1e-3
    )


def test_partial_fit_and_warm_start_match_numpy(xp, dispatch):
    X, y, _ = _data()
    X_xp, y_xp = xp.asarray(X), xp.asarray(y)
    reference = exact(8, alpha=0.3, random_state=0)
    estimator = exact(8, alpha=0.3, random_state=0)
    for _ in range(3):
        reference.partial_fit(X, y)
        estimator.partial_fit(X_xp, y_xp)
    params = dict(warm_start=True, max_iter=20)
    _fit(reference.set_params(**params), X, y)
    _fit(estimator.set_params(**params), X_xp, y_xp)
    assert estimator.n_iter_ == reference.n_iter_ == 23
    _assert_matches_numpy(estimator, reference, X, X_xp)


def test_learning_rate_auto_by_lanczos_matches_numpy(xp, dispatch):
    # Over 1000 rows and d * m > 64: the step comes from eigsh on the host
    # with kernel products on the device.
    X, y, _ = _data(n_samples=1100)
    params = dict(n_neurons=16, max_iter=3, random_state=0)
    reference = _fit(exact(**params), X, y)
    estimator = _fit(exact(**params), xp.asarray(X), xp.asarray(y))
    assert estimator.learning_rate_ == pytest.approx(reference.learning_rate_, 1e-8)
    _assert_matches_numpy(estimator, reference, X, xp.asarray(X), rtol=1e-7)


def test_without_float64_the_fit_falls_back_to_float32(xp, dispatch, monkeypatch):
    monkeypatch.setattr(_array_api, "supports_float64", lambda xp, device: False)
    X, y, _ = _data()
    X_xp = xp.asarray(X)  # float64 input: converted on validation
    estimator = _fit(ExponentialRegressor(8, max_iter=50, random_state=0), X_xp, y)
    for name in FITTED_ARRAYS:
        assert getattr(estimator, name).dtype == xp.float32, name
    predictions = estimator.predict(X_xp)
    assert predictions.dtype == xp.float32
    reference = _fit(
        ExponentialRegressor(8, max_iter=50, random_state=0), X.astype(np.float32), y
    )
    assert_allclose(
        _array_api.to_numpy(predictions), reference.predict(X), rtol=1e-3, atol=1e-3
    )

    # Far rows are bounded by the input map, even in float32 (whose exp
    # overflows at 88.7).
    far = xp.asarray(np.vstack([X[:3], 1e3 * X[3:5], 1e30 * X[5:7]]))
    far_predictions = estimator.predict(far)
    assert_bounded(estimator, far_predictions)
    assert_allclose(
        _array_api.to_numpy(far_predictions[:3]),
        _array_api.to_numpy(predictions[:3]),
    )


def test_float32_fit_that_overflows_halves_the_step(xp, dispatch, monkeypatch):
    monkeypatch.setattr(_array_api, "supports_float64", lambda xp, device: False)
    X, y, _ = _data()
    estimator = ExponentialRegressor(
        8, learning_rate=1e4, max_iter=20, random_state=0, target_scaling=False
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The nesterov solver reached max_iter")
        with pytest.warns(DivergenceWarning, match="overflowed .* halved"):
            estimator.fit(xp.asarray(X), xp.asarray(1e3 * y))
    assert estimator.weights_.dtype == xp.float32
    assert bool(xp.all(xp.isfinite(estimator.weights_)))
    assert bool(xp.all(xp.isfinite(estimator.predict(xp.asarray(X)))))


def test_predict_in_another_namespace_raises(xp, dispatch):
    X, y, _ = _data()
    estimator = _fit(ExponentialRegressor(8, max_iter=5), xp.asarray(X), y)
    with pytest.raises(ValueError, match="must use the same namespace"):
        estimator.predict(X)
    with pytest.raises(ValueError, match="must use the same namespace"):
        estimator.predict(sparse.csr_matrix(X))
    with sklearn.config_context(array_api_dispatch=False):
        with pytest.raises(ValueError, match="another namespace"):
            estimator.predict(X)


def test_sparse_input_keeps_the_numpy_path(dispatch):
    X, y, _ = _data()
    X[X < 0.3] = 0
    X = sparse.csr_matrix(X)
    with sklearn.config_context(array_api_dispatch=False):
        reference = _fit(ExponentialRegressor(8, max_iter=20, random_state=0), X, y)
    estimator = _fit(ExponentialRegressor(8, max_iter=20, random_state=0), X, y)
    assert isinstance(estimator.weights_, np.ndarray)
    assert_allclose(estimator.weights_, reference.weights_, rtol=0, atol=0)
    assert_allclose(estimator.predict(X), reference.predict(X), rtol=0, atol=0)


def test_numpy_input_with_dispatch_on_is_the_numpy_fit():
    X, y, _ = _data()
    params = dict(n_neurons=8, max_iter=20, random_state=0)
    reference = _fit(ExponentialRegressor(**params), X, y)
    with sklearn.config_context(array_api_dispatch=True):
        estimator = _fit(ExponentialRegressor(**params), X, y)
        predictions = estimator.predict(X)
    assert isinstance(estimator.weights_, np.ndarray)
    assert_allclose(estimator.weights_, reference.weights_, rtol=0, atol=0)
    assert_allclose(predictions, reference.predict(X), rtol=0, atol=0)


def _sklearn_array_api_checks():
    try:
        from sklearn.utils._array_api import yield_namespace_device_dtype_combinations
        from sklearn.utils.estimator_checks import check_array_api_input_and_values
    except ImportError:
        return []
    return [
        pytest.param(
            check_array_api_input_and_values, namespace, device, dtype, id=name
        )
        for namespace, device, dtype in yield_namespace_device_dtype_combinations()
        if namespace in NAMESPACES and device in ("cpu", "CPU_DEVICE", "device1")
        for name in [f"{namespace}-{device}-{dtype}"]
    ]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("check, namespace, device, dtype", _sklearn_array_api_checks())
def test_sklearn_array_api_check_with_values(check, namespace, device, dtype):
    # scikit-learn's own check, comparing attribute and prediction values
    # with those of a numpy fit (test_common.py runs the others).
    pytest.importorskip(namespace)
    check(
        "ExponentialRegressor",
        ExponentialRegressor(16, max_iter=50, precision=None),
        array_namespace=namespace,
        device_name=device,
        dtype_name=dtype,
        check_sample_weight=True,
    )
