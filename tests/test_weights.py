"""Sample weights mean repeated rows; copies of a row travel together.

Row-content keys (skexpreg._keys) decide every random choice of rows, so
rows that are copies are never split between a fit and its held-out rows,
and integer weights give the fit that repeated rows give.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.datasets import load_diabetes

from skexpreg import ExponentialRegressor, _keys
from skexpreg._regularization import _one_step_stronger


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X[:240], y[:240], X[240:], y[240:]


def _fit(X, y, sample_weight=None, **params):
    params = {"random_state": 0, "n_neurons": 64, **params}
    with _quiet():
        return ExponentialRegressor(**params).fit(X, y, sample_weight=sample_weight)


class _quiet:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc_info):
        self._catch.__exit__(*exc_info)


def test_content_keys_follow_the_content_not_the_container():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 4))
    X[rng.uniform(size=X.shape) < 0.4] = 0.0
    Y = rng.normal(size=(50, 2))
    keys = _keys.content_keys(X, Y)
    order = rng.permutation(50)
    assert_array_equal(_keys.content_keys(X[order], Y[order]), keys[order])
    assert_array_equal(_keys.content_keys(sparse.csr_matrix(X), Y), keys)
    assert_array_equal(_keys.content_keys(sparse.csc_matrix(X), Y), keys)
    assert_array_equal(_keys.content_keys(X.astype(np.float32), Y), keys)
    assert_array_equal(_keys.content_keys(np.where(X == 0, -0.0, X), Y), keys)
    assert len(np.unique(keys)) == 50  # distinct rows, distinct keys
    moved = Y.copy()
    moved[0, 0] += 1
    assert _keys.content_keys(X, moved)[0] != keys[0]  # the target counts
    swapped = X.copy()
    swapped[:, [0, 1]] = swapped[:, [1, 0]]
    assert (_keys.content_keys(swapped, Y) != keys).any()  # columns count


def test_every_cut_keeps_copies_together_whatever_their_order():
    rng = np.random.RandomState(1)
    keys = _keys.content_keys(rng.normal(size=(40, 3)))
    copies = np.repeat(keys, rng.randint(1, 4, size=40))
    shuffled = rng.permutation(copies)
    for cut in (
        lambda k: [_keys.subsample(k, 15)],
        lambda k: list(_keys.split(k, 0.25)),
        lambda k: [part for pair in _keys.folds(k, 3) for part in pair],
    ):
        for k in (copies, shuffled):
            seeded = _keys.seeded(k, 7)
            parts = cut(seeded)
            for part in parts:
                inside = set(k[part].tolist())
                outside = np.delete(k, part)
                assert not inside & set(outside.tolist())
        # the same distinct rows whatever the order of the copies
        first = [set(copies[p].tolist()) for p in cut(_keys.seeded(copies, 7))]
        second = [set(shuffled[p].tolist()) for p in cut(_keys.seeded(shuffled, 7))]
        assert first == second
    held_out = _keys.folds(_keys.seeded(copies, 3), 3)
    assert sorted(len(set(copies[h].tolist())) for _, h in held_out) == [13, 13, 14]


@pytest.mark.parametrize("copies", [2, 3])
def test_repeated_rows_choose_what_integer_weights_choose(diabetes, copies):
    X, y, X_test, y_test = diabetes
    order = np.random.RandomState(copies).permutation(copies * len(y))
    repeated = _fit(np.tile(X, (copies, 1))[order], np.tile(y, copies)[order])
    weighted = _fit(X, y, np.full(len(y), copies))
    once = _fit(X, y)
    assert repeated.alpha_ == weighted.alpha_ == once.alpha_
    assert repeated.alpha_scores_ == pytest.approx(weighted.alpha_scores_, rel=1e-5)
    assert_allclose(repeated.predict(X_test), weighted.predict(X_test), rtol=1e-5)
    assert_allclose(weighted.predict(X_test), once.predict(X_test), rtol=1e-5)


def test_uneven_integer_weights_mean_repeated_rows(diabetes):
    X, y, X_test, _ = diabetes
    weights = np.random.RandomState(0).randint(0, 4, size=len(y))
    repeated = _fit(X.repeat(weights, axis=0), y.repeat(weights), precision="double")
    weighted = _fit(X, y, weights, precision="double")
    assert repeated.alpha_ == weighted.alpha_
    assert_allclose(repeated.predict(X_test), weighted.predict(X_test), rtol=1e-7)


@pytest.mark.parametrize("factor", [1e-300, 1e-5, 7.3, 1e300])
def test_a_common_factor_of_the_weights_changes_nothing(diabetes, factor):
    X, y, X_test, _ = diabetes
    weights = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    reference = _fit(X, y, weights)
    scaled = _fit(X, y, weights * factor)
    assert scaled.alpha_ == reference.alpha_
    assert np.isfinite(scaled.predict(X_test)).all()
    assert_allclose(scaled.predict(X_test), reference.predict(X_test), rtol=1e-5)


def test_a_row_holding_nearly_all_the_weight_fits_that_row(diabetes):
    X, y, _, _ = diabetes
    weights = np.ones(len(y))
    weights[5] = 1e300  # the others are below float64's resolution of it
    model = _fit(X, y, weights)
    assert_allclose(model.predict(X[:10]), y[5], rtol=1e-6)


def test_one_step_stronger_within_one_standard_error():
    rng = np.random.RandomState(0)
    keys = _keys.content_keys(rng.normal(size=(200, 2)))
    best = rng.uniform(0, 0.01, size=200)
    noisy = best + rng.normal(0, 0.002, size=200)  # no better, no worse
    worse = best + 0.003  # worse on every row
    assert _one_step_stronger(0.1, {1.0: noisy, 0.1: best}, keys) == 1.0
    assert _one_step_stronger(0.1, {1.0: worse, 0.1: best}, keys) == 0.1
    # one step only, and never weaker
    also_noisy = best + rng.normal(0, 0.002, size=200)
    three = {10.0: also_noisy, 1.0: noisy, 0.1: best, 0.01: noisy}
    assert _one_step_stronger(0.1, three, keys) == 1.0
    assert _one_step_stronger(10.0, three, keys) == 10.0
    # copies are one observation: doubling every row does not shrink the error
    doubled = np.concatenate([keys, keys])
    terms = {1.0: np.tile(noisy, 2) / 2, 0.1: np.tile(best, 2) / 2}
    assert _one_step_stronger(0.1, terms, doubled) == 1.0


def test_sgd_batches_take_copies_together(diabetes):
    X, y, X_test, _ = diabetes
    weights = np.random.RandomState(1).randint(1, 4, size=len(y))
    params = dict(solver="sgd", batch_size=32, alpha=0.1, precision="double")
    order = np.random.RandomState(2).permutation(weights.sum())
    repeated = _fit(
        X.repeat(weights, axis=0)[order], y.repeat(weights)[order], **params
    )
    weighted = _fit(X, y, weights, **params)
    assert repeated.n_iter_ == weighted.n_iter_ > 1
    assert_allclose(repeated.predict(X_test), weighted.predict(X_test), rtol=1e-7)


def test_the_kernel_diagonal_adds_the_weights_of_copies(diabetes):
    from skexpreg._rows import InMemoryRows

    X, y, _, _ = diabetes
    X, y = X[:30], y[:30, None]
    weights = np.arange(1.0, 31.0) % 3 + 1
    W = np.random.RandomState(0).normal(size=(X.shape[1], 16))
    weighted = InMemoryRows(X, y, weights)
    counts = weights.astype(int)
    repeated = InMemoryRows(X.repeat(counts, 0), y.repeat(counts, 0), np.ones(60))
    assert repeated.n_distinct() == weighted.n_distinct() == 30
    assert repeated.largest_kernel_diagonal(W) == pytest.approx(
        weighted.largest_kernel_diagonal(W), rel=1e-12
    )
