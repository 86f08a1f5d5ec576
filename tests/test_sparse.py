"""Sparse rows under "standard": centred exactly, never densified.

The input map of sparse rows is the map of their dense copy: the quantiles
and moments count the implicit zeros, and the centring is kept as a rank-one
term beside the sparse matrix (:class:`~skexpreg.ntk.CentredSparse`), so
every product the network takes equals the dense one to round-off.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from exact import exact
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning

from skexpreg import ExponentialRegressor, _blocks, _network, _preprocessing
from skexpreg._rows import fit_rows
from skexpreg.ntk import (
    CentredSparse,
    empirical_ntk,
    network_inputs,
    ntk_diagnostics,
    ntk_eigenvalues,
    ntk_kernel,
    ntk_operator,
)


def _columns(rng, n_samples=300):
    """Columns of every kind: mostly zero, never zero, all zero, negative,
    with ties, and with a few zeros only (so that 0 lies outside the
    central 95 %)."""
    mostly_zero = np.where(rng.uniform(size=n_samples) < 0.9, 0, rng.randn(n_samples))
    never_zero = rng.uniform(1, 2, n_samples)
    all_zero = np.zeros(n_samples)
    negative = np.where(
        rng.uniform(size=n_samples) < 0.5, 0, -rng.exponential(1, n_samples)
    )
    ties = rng.randint(-2, 3, n_samples).astype(float)
    few_zeros = rng.uniform(-3, -1, n_samples)
    few_zeros[:2] = 0
    half = np.where(rng.uniform(size=n_samples) < 0.5, 0, rng.uniform(2, 3, n_samples))
    return np.column_stack(
        [mostly_zero, never_zero, all_zero, negative, ties, few_zeros, half]
    )


def _weights(kind, rng, n_samples):
    if kind == "none":
        return np.ones(n_samples)
    if kind == "integer":
        return rng.randint(0, 4, n_samples).astype(float)
    if kind == "normalised":  # equal weights that do not add up exactly
        return np.full(n_samples, 1 / n_samples)
    weight = rng.uniform(0.1, 3, n_samples)
    weight[rng.uniform(size=n_samples) < 0.05] = 0
    return weight


@pytest.mark.parametrize("kind", ["none", "integer", "normalised", "random"])
@pytest.mark.parametrize("n_samples", [40, 300])
def test_weighted_quantiles_of_sparse_columns_count_their_zeros(kind, n_samples):
    rng = np.random.RandomState(0)
    X = _columns(rng, n_samples)
    weight = _weights(kind, rng, n_samples)
    quantiles = [0.025, 0.1, 0.5, 0.9, 0.975, 1.0]
    X = sparse.csr_matrix(X)
    X.data[::7] = 0.0  # explicitly stored zeros count as zeros
    expected = _preprocessing._weighted_quantiles(X.toarray(), weight, quantiles)
    for container in (sparse.csr_matrix, sparse.csc_matrix):
        actual = _preprocessing._weighted_quantiles(container(X), weight, quantiles)
        for got, want in zip(actual, expected):
            assert_array_equal(got, want)


def test_sparse_quantiles_stay_exact_with_many_columns():
    """Cumulative weights summed across all columns at once would carry the
    round-off of every column before: with equal weights such as 1/n, whose
    sums hit the quantile's threshold exactly, hundreds of columns would
    select a neighbouring value."""
    rng = np.random.RandomState(0)
    n_samples, n_features = 200, 10_000
    X = rng.randint(-3, 4, (n_samples, n_features)).astype(float)
    X *= rng.uniform(size=X.shape) < 0.5
    quantiles = [0.025, 0.1, 0.9, 0.975]
    for weight in (np.full(n_samples, 1 / n_samples), np.full(n_samples, 1 / 3)):
        expected = _preprocessing._weighted_quantiles(X, weight, quantiles)
        actual = _preprocessing._weighted_quantiles(
            sparse.csr_matrix(X), weight, quantiles
        )
        for got, want in zip(actual, expected):
            assert_array_equal(got, want)


def _input_map(rng, n_features):
    lower = rng.uniform(-2, 0.5, n_features)
    upper = lower + rng.uniform(0.1, 3, n_features)
    upper[0], lower[1] = -0.5, 0.5  # ranges without 0
    offset = rng.uniform(-1, 1, n_features)
    scale = rng.uniform(0.5, 2, n_features)
    return offset, scale, lower, upper


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_centred_rows_equal_the_dense_map_in_every_product(dtype):
    rng = np.random.RandomState(0)
    X = _columns(rng, 60).astype(dtype)
    X[5] = 0  # a row of implicit zeros only
    offset, scale, lower, upper = _input_map(rng, X.shape[1])
    radius = 2.0
    dense = _preprocessing.bound_inputs(X, offset, scale, lower, upper, radius)
    seen = _preprocessing.bound_inputs(
        sparse.csr_matrix(X), offset, scale, lower, upper, radius
    )
    assert isinstance(seen, CentredSparse)
    assert seen.shape == X.shape and seen.dtype == dtype
    assert seen.sparse.nnz <= sparse.csr_matrix(X).nnz
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(seen.toarray(), dense, rtol=rtol, atol=rtol)
    assert np.linalg.norm(dense, axis=1).max() <= radius * (1 + rtol)
    assert_allclose(seen.row_norms(), np.linalg.norm(dense, axis=1), rtol=rtol)
    W = rng.randn(X.shape[1], 5).astype(dtype)
    E = rng.randn(X.shape[0], 5).astype(dtype)
    assert_allclose(seen @ W, dense @ W, rtol=rtol, atol=rtol)
    assert_allclose(seen @ W[:, 0], dense @ W[:, 0], rtol=rtol, atol=rtol)
    assert_allclose(seen.T @ E, dense.T @ E, rtol=rtol, atol=rtol)
    for rows in (slice(3, 17), np.array([4, 0, 9]), np.arange(60) % 3 == 0):
        assert_allclose(seen[rows].toarray(), dense[rows], rtol=rtol, atol=rtol)
        assert_allclose(seen[rows, :].toarray(), dense[rows], rtol=rtol, atol=rtol)
    assert_allclose((seen / 4).toarray(), dense / 4, rtol=rtol, atol=rtol)


def test_uniform_maps_keep_plain_sparse_rows():
    """With no centring and every clip range containing 0 the map needs no
    rank-one term: the rows stay a scipy CSR matrix."""
    X = sparse.random(30, 6, density=0.3, random_state=0, format="csr")
    d = X.shape[1]
    seen = _preprocessing.bound_inputs(
        X, np.zeros(d), np.full(d, 2.0), np.full(d, -1.0), np.full(d, 1.0), np.inf
    )
    assert sparse.issparse(seen) and seen.format == "csr"
    assert_allclose(seen.toarray(), np.clip(X.toarray(), -1, 1) / 2)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_network_functions_on_centred_rows_equal_dense(n_outputs):
    rng = np.random.RandomState(1)
    X = _columns(rng, 80)
    offset, scale, lower, upper = _input_map(rng, X.shape[1])
    dense = _preprocessing.bound_inputs(X, offset, scale, lower, upper, 1.5)
    seen = _preprocessing.bound_inputs(
        sparse.csr_matrix(X), offset, scale, lower, upper, 1.5
    )
    y = rng.randn(80, n_outputs)
    weight = rng.uniform(0.5, 2, 80)
    W = rng.randn(X.shape[1], 8)
    U = rng.randn(X.shape[1], 8)
    _, signs = _network.initial_parameters(X.shape[1], 8, n_outputs, rng, float, False)
    with _blocks.BlockRunner(2) as runner:
        for function, args in (
            (_network.loss_and_gradient, (y, weight, W, signs, 1.3)),
            (_network.ntk_weight_space_dot, (W, U)),
            (_network.ntk_features_transpose_dot, (W, y[:, 0])),
            (_network.ntk_features_dot, (W, U)),
            (_network.forward, (W, signs, 1.3)),
        ):
            expected = function(dense, *args, runner)
            actual = function(seen, *args, runner)
            if not isinstance(expected, tuple):
                expected, actual = (expected,), (actual,)
            for got, want in zip(actual, expected):
                assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        # weights so large that exp overflows: the clipped rows agree too
        huge = 400 * W
        max_z = _network.max_safe_preactivation(8, np.float64)
        want, want_clipped = _network.forward_clipped(
            dense, huge, signs, 1.0, runner, max_z
        )
        with np.errstate(over="ignore", invalid="ignore"):
            got, got_clipped = _network.forward_clipped(
                seen, huge, signs, 1.0, runner, max_z
            )
    assert want_clipped.any()
    assert_array_equal(got_clipped, want_clipped)
    assert np.isfinite(got).all()
    assert_allclose(got, want, rtol=1e-9)


def test_kernels_take_centred_rows():
    rng = np.random.RandomState(2)
    X = _columns(rng, 40)
    offset, scale, lower, upper = _input_map(rng, X.shape[1])
    scale *= 4  # rows of norm about 1
    dense = _preprocessing.bound_inputs(X, offset, scale, lower, upper, 1.0)
    seen = _preprocessing.bound_inputs(
        sparse.csr_matrix(X), offset, scale, lower, upper, 1.0
    )
    other = sparse.csr_matrix(X[:7] / 10)
    W = rng.randn(X.shape[1], 6)
    assert_allclose(ntk_kernel(seen), ntk_kernel(dense), rtol=1e-10)
    assert_allclose(ntk_kernel(seen, other), ntk_kernel(dense, other), rtol=1e-10)
    assert_allclose(ntk_kernel(other, seen), ntk_kernel(other, dense), rtol=1e-10)
    assert_allclose(
        ntk_kernel(seen, seen[:5]), ntk_kernel(dense, dense[:5]), rtol=1e-10
    )
    assert_allclose(empirical_ntk(seen, W), empirical_ntk(dense, W), rtol=1e-10)
    v = rng.randn(40)
    for weights in (None, W):
        assert_allclose(
            ntk_operator(seen, weights).matvec(v),
            ntk_operator(dense, weights).matvec(v),
            rtol=1e-10,
        )
    expected = ntk_eigenvalues(dense, W, method="iterative", random_state=0)
    assert_allclose(
        ntk_eigenvalues(seen, W, method="iterative", random_state=0),
        expected,
        rtol=1e-6,
        atol=1e-6 * expected[1],  # lambda_min is 0 to round-off
    )


def test_network_inputs_of_sparse_rows_are_centred_sparse():
    rng = np.random.RandomState(3)
    X = _columns(rng, 120)
    y = X[:, 0] - X[:, 3] ** 2 + 0.1 * rng.randn(120)

    def fit(X, **params):
        model = exact(n_neurons=16, max_iter=30, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return model.set_params(**params).fit(X, y)

    dense, fitted = fit(X), fit(sparse.csc_matrix(X))
    seen = network_inputs(fitted, sparse.csr_matrix(X))
    assert isinstance(seen, CentredSparse)
    assert_allclose(seen.toarray(), network_inputs(dense, X), rtol=1e-8, atol=1e-12)
    uniform = fit(sparse.csr_matrix(X), input_scaling="max_norm")
    assert sparse.issparse(network_inputs(uniform, sparse.csr_matrix(X)))
    expected = ntk_diagnostics(dense, X)
    actual = ntk_diagnostics(fitted, sparse.csr_matrix(X))
    for name in ("lambda_max_initial", "lambda_max_final", "kernel_drift"):
        assert_allclose(getattr(actual, name), getattr(expected, name), rtol=1e-6)


def test_duplicate_entries_count_as_their_sum():
    """A CSR matrix may store an entry twice; the map clips the sum."""
    rng = np.random.RandomState(4)
    n_samples, n_features, per_row = 150, 4, 3
    columns = rng.randint(0, n_features, n_samples * per_row)
    values = rng.uniform(-1, 2, n_samples * per_row)
    indptr = np.arange(0, n_samples * per_row + 1, per_row)
    X = sparse.csr_matrix((values, columns, indptr), shape=(n_samples, n_features))
    assert not X.has_canonical_format
    y = rng.randn(n_samples)
    params = dict(n_neurons=8, max_iter=10, alpha=1.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = exact(**params).fit(X.toarray(), y)
        fitted = exact(**params).fit(X, y)
    assert not X.has_canonical_format  # the caller's matrix is left alone
    assert_allclose(fitted.weights_, dense.weights_, rtol=1e-8, atol=1e-12)
    assert_allclose(fitted.predict(X), dense.predict(X.toarray()), rtol=1e-8)


def test_wide_sparse_rows_are_never_densified():
    """20,000 x 100,000 rows with about 30 entries each: a dense sample would
    take 16 GB; the map's statistics and the centred rows take O(nnz + d)."""
    rng = np.random.RandomState(0)
    n_samples, n_features, per_row, n_full = 20_000, 100_000, 10, 20
    columns = rng.randint(0, n_features - n_full, n_samples * per_row)
    scattered = sparse.csr_matrix(
        (
            rng.uniform(1, 2, n_samples * per_row),
            (np.repeat(np.arange(n_samples), per_row), columns),
        ),
        shape=(n_samples, n_features - n_full),
    )
    full = rng.uniform(1, 2, (n_samples, n_full))  # never 0: centred away from 0
    X = sparse.hstack([sparse.csr_matrix(full), scattered], format="csr")
    rows = fit_rows(ExponentialRegressor(), X, rng.randn(n_samples), None, reset=True)
    tracemalloc.start()
    try:
        input_map = _preprocessing.fit_input_map(
            rows, "standard", 0.35, np.random.RandomState(0)
        )
        seen = _preprocessing.map_inputs(rows, input_map)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(seen.X, CentredSparse)
    assert np.all(input_map.lower[:n_full] > 1)
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB"
