"""One data path: every backend answers the row-source protocol alike.

numpy, sparse CSR, array-api-strict arrays and dask arrays go through the
same estimator code; only the row source differs. Each backend must give
the statistics, the loss and gradient, the kernel products, the validation
score and the fitted model of the numpy rows, up to round-off.
"""

import warnings

import numpy as np
import pytest
import sklearn
from exact import exact
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning

from skexpreg import ExponentialRegressor, _array_api, _network
from skexpreg._preprocessing import (
    bound_inputs,
    fit_input_map,
    fit_target_map,
    map_inputs,
    map_targets,
)
from skexpreg._rows import fit_rows

BACKENDS = ["numpy", "sparse", "array_api_strict", "dask"]


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 3, size=(150, 4))
    X[rng.uniform(size=X.shape) < 0.3] = 0.0  # some zeros for the sparse rows
    y = np.column_stack([np.sin(X[:, 0]) + X[:, 1], X[:, 2] * X[:, 3]])
    y += 0.1 * rng.randn(*y.shape)
    return X, y, rng.uniform(0.5, 2.0, size=len(X))


@pytest.fixture(params=BACKENDS)
def backend(request):
    """``(convert, context)``: how to hold the rows, and a factory of the
    configuration to hold them in."""
    name = request.param
    if name == "numpy":
        yield (lambda array: array), sklearn.config_context
    elif name == "sparse":
        yield sparse.csr_matrix, sklearn.config_context
    elif name == "array_api_strict":
        strict = pytest.importorskip("array_api_strict")
        try:
            with sklearn.config_context(array_api_dispatch=True):
                pass
        except (ImportError, RuntimeError):
            pytest.skip("scikit-learn cannot dispatch to the array API here")
        yield strict.asarray, lambda: sklearn.config_context(array_api_dispatch=True)
    else:
        da = pytest.importorskip("dask.array")
        dask = pytest.importorskip("dask")
        with dask.config.set(scheduler="synchronous"):
            yield _chunked(da), sklearn.config_context


def _chunked(da):
    def convert(array):
        return da.from_array(array, chunks=(40,) + (-1,) * (array.ndim - 1))

    return convert


def _convert_all(convert, X, y, weight):
    """X in the backend; y and weights follow X as users pass them."""
    if convert is sparse.csr_matrix:
        return convert(X), y, weight
    return convert(X), convert(y), convert(weight)


def _host(array):
    if sparse.issparse(array) or hasattr(array, "toarray"):  # CentredSparse too
        return array.toarray()
    if hasattr(array, "compute"):
        array = array.compute()
    return _array_api.to_numpy(array)


def _fields(input_map):
    return [
        input_map.offset,
        input_map.scale,
        input_map.lower,
        input_map.upper,
        input_map.radius,
    ]


def _sources(convert, context, input_scaling):
    """The numpy source and the backend's, with both maps applied."""
    X, y, weight = _data()
    sources = []
    for to_backend, config in (
        (lambda a: a, sklearn.config_context),
        (convert, context),
    ):
        with config():
            rows = fit_rows(
                ExponentialRegressor(),
                *_convert_all(to_backend, X, y, weight),
                reset=True,
            )
            input_map = fit_input_map(
                rows, input_scaling, 0.35, np.random.RandomState(0)
            )
            target_map = fit_target_map(rows, True)
            seen = map_targets(map_inputs(rows, input_map), *target_map)
            sources.append((rows, seen, input_map, target_map))
    return sources


def test_every_backend_answers_the_protocol_like_numpy(backend):
    convert, context = backend
    (_, reference, ref_inputs, ref_targets), (rows, seen, inputs, targets) = _sources(
        convert, context, "standard"
    )
    for expected, actual in zip(_fields(ref_inputs), _fields(inputs)):
        assert_allclose(_host(actual), expected, rtol=1e-12)
    for expected, actual in zip(ref_targets, targets):
        assert_allclose(_host(actual), expected, rtol=1e-12)
    rng = np.random.RandomState(1)
    weights = 0.5 * rng.randn(4, 6)
    _, signs = _network.initial_parameters(4, 6, 2, rng, np.float64, paired=False)
    direction = rng.randn(4, 6)
    with context(), seen, reference:
        to_rows = _array_api.from_host
        W, A, U = (to_rows(array, seen) for array in (weights, signs, direction))
        loss, gradient = seen.loss_and_gradient(W, A)
        ref_loss, ref_gradient = reference.loss_and_gradient(weights, signs)
        assert_allclose(loss, ref_loss, rtol=1e-12)
        assert_allclose(_host(gradient), ref_gradient, rtol=1e-10, atol=1e-12)
        assert_allclose(
            _host(seen.weight_space_dot(W, U)),
            reference.weight_space_dot(weights, direction),
            rtol=1e-10,
        )
        assert_allclose(seen.r2_score(W, A), reference.r2_score(weights, signs))
        train, test = seen.split(0.2, np.random.RandomState(3))
        ref_train, ref_test = reference.split(0.2, np.random.RandomState(3))
        assert_allclose(_host(test.gather()[1]), ref_test.gather()[1], rtol=1e-12)
        assert train.n_samples == ref_train.n_samples
        single = seen.astype(seen.xp.float32)
        assert "float32" in str(single.dtype)
        for part, expected in zip(single.gather(), reference.gather()):
            part = _host(part)
            assert part.dtype == np.float32
            assert_allclose(part, _host(expected), rtol=1e-6, atol=1e-6)
        # In this process, the same rows as the network sees them.
        local = test.in_memory()
        with local:
            assert type(local).__name__ == "InMemoryRows"
            assert local.scale == test.scale
            assert_allclose(
                local.r2_score(W, A), ref_test.r2_score(weights, signs), rtol=1e-10
            )


@pytest.mark.parametrize("early_stopping", [False, True])
def test_every_backend_fits_the_numpy_model(backend, early_stopping):
    convert, context = backend
    X, y, weight = _data()
    params = dict(
        n_neurons=16,
        max_iter=40,
        early_stopping=early_stopping,
        n_iter_no_change=100,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = exact(**params).fit(X, y, sample_weight=weight)
        with context():
            model = exact(**params).fit(*_convert_all(convert, X, y, weight))
            predictions = _host(model.predict(convert(X)))
    assert model.n_iter_ == reference.n_iter_
    assert_allclose(_host(model.weights_), reference.weights_, rtol=1e-8, atol=1e-10)
    assert_allclose(predictions, reference.predict(X), rtol=1e-8, atol=1e-10)
    if early_stopping:
        assert_allclose(
            model.validation_scores_, reference.validation_scores_, rtol=1e-8
        )


# --- what the rows cost before the first step -------------------------------


def test_random_rows_draw_every_subset_alike():
    # Two rows of six: each of the 15 pairs about as often as the others
    # (chi-square with 14 degrees of freedom; 45 has p < 1e-4).
    X = np.arange(6.0)[:, None]
    rows = fit_rows(ExponentialRegressor(), X, X[:, 0], None, reset=True)
    rng = np.random.RandomState(0)
    counts = {}
    for _ in range(15_000):
        chosen = rows.random_rows(2, rng).gather()[0][:, 0]
        assert chosen[0] < chosen[1]  # distinct, in order
        counts[tuple(chosen)] = counts.get(tuple(chosen), 0) + 1
    assert len(counts) == 15
    observed = np.array(list(counts.values()))
    assert np.sum((observed - 1000) ** 2 / 1000) < 45
    # More than half the rows, and all of them.
    assert len(set(rows.random_rows(5, rng).gather()[0][:, 0])) == 5
    assert rows.random_rows(6, rng) is rows


def test_one_pass_moments_of_many_rows_far_from_zero():
    # Above 20,000 rows the sums are centred by a sample's mean: the offset
    # is the weighted mean of the clipped feature, and the scale its standard
    # deviation times one number, as a two-pass computation gives them.
    rng = np.random.RandomState(0)
    n = 30_000
    X = 1e9 + rng.normal(size=(n, 3)) * [50.0, 1.0, 1e3] + [0.0, 5.0, -7.0]
    weight = rng.uniform(0.1, 3.0, size=n)
    rows = fit_rows(ExponentialRegressor(), X, X[:, 0], weight, reset=True)
    input_map = fit_input_map(rows, "standard", 0.35, np.random.RandomState(0))
    # (centred by the first row: summing the raw values loses 1e-14)
    deviations = np.clip(X, input_map.lower, input_map.upper) - X[0]
    mean = np.average(deviations, axis=0, weights=weight)
    std = np.sqrt(np.average((deviations - mean) ** 2, axis=0, weights=weight))
    mean += X[0]
    assert_allclose(input_map.offset, mean, rtol=1e-15)
    ratio = input_map.scale / std
    assert_allclose(ratio, ratio[0], rtol=1e-7)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_rows_are_mapped_straight_into_the_training_dtype(n_jobs):
    rng = np.random.RandomState(0)
    X = 1e6 + rng.standard_cauchy(size=(5_000, 7))
    with sklearn.config_context(working_memory=0.05):  # many row blocks
        rows = fit_rows(ExponentialRegressor(), X, X[:, 0], None, reset=True)
        rows.n_threads, rows.runner = n_jobs, type(rows.runner)(n_jobs)
        input_map = fit_input_map(rows, "standard", 0.35, np.random.RandomState(0))
        single = map_inputs(rows, input_map, dtype=np.float32).X
        double = map_inputs(rows, input_map).X
    assert single.dtype == np.float32 and double.dtype == np.float64
    assert_array_equal(single, double.astype(np.float32))
    serial = bound_inputs(X, *_fields(input_map))  # one block, no runner
    assert_array_equal(double, serial)
