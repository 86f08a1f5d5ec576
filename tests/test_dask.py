"""Fitting and predicting on dask arrays, on a local two-process cluster.

Skipped without the optional ``[dask]`` extra (dask and distributed).
"""

import warnings

import numpy as np
import pytest
from bounds import assert_bounded
from exact import exact
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV

from skexpreg import ExponentialRegressor

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


@pytest.fixture(scope="module")
def client():
    """Two worker processes on the loopback interface, closed afterwards."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 3, size=(1200, 4))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.randn(len(X))
    weight = rng.uniform(0.5, 2.0, size=len(X))
    return X, y, weight


def _fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
        return model.fit(*args, **kwargs)


@pytest.mark.parametrize(
    "params",
    [
        # nesterov, learning_rate="auto" by Lanczos (n > 1000)
        {"max_iter": 60, "alpha": 0.3},
        {"max_iter": 8},  # alpha="auto": its path on the cluster too
        {"solver": "gd", "max_iter": 60, "alpha": 0.3},
        {"solver": "lbfgs", "max_iter": 60, "alpha": 0.3},
        {"input_scaling": "max_norm", "alpha": 0.0, "max_iter": 60},
        # mini-batches drawn from the chunks that hold their rows
        {"solver": "sgd", "batch_size": 256, "max_iter": 6, "alpha": 0.3},
    ],
)
def test_fit_on_cluster_equals_in_memory_fit(client, data, params):
    X, y, weight = data
    model = exact(24, random_state=0, **params)
    local = _fit(model, X, y, sample_weight=weight)
    Xd = da.from_array(X, chunks=(250, 2))  # columns are gathered into one chunk
    yd, weightd = da.from_array(y, chunks=400), da.from_array(weight, chunks=300)
    remote = _fit(exact(24, random_state=0, **params), Xd, yd, weightd)

    assert remote.n_iter_ == local.n_iter_
    assert_allclose(remote.weights_, local.weights_, rtol=1e-8, atol=1e-12)
    assert_allclose(remote.loss_curve_, local.loss_curve_, rtol=1e-8)
    assert_allclose(remote.input_scale_, local.input_scale_, rtol=1e-12)
    assert_allclose(remote.target_mean_, local.target_mean_, rtol=1e-12)
    if local.learning_rate_ is not None:  # None for L-BFGS
        assert remote.learning_rate_ == pytest.approx(local.learning_rate_, rel=1e-8)
    assert remote.alpha_ == local.alpha_
    if local.alpha_scores_ is not None:
        assert remote.alpha_scores_ == pytest.approx(local.alpha_scores_, rel=1e-8)


@pytest.fixture
def cluster_passes(monkeypatch):
    """The number of rows of every pass a dask source makes, as it makes it."""
    from skexpreg._dask import DaskRows

    passes = []
    original = DaskRows.map_reduce

    def counted(self, *args, **kwargs):
        passes.append(self.n_samples)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DaskRows, "map_reduce", counted)
    return passes


def test_the_step_sizes_subsample_is_in_memory(
    client, data, monkeypatch, cluster_passes
):
    # Above MAX_KERNEL_ROWS rows the first lambda_max comes from a Lanczos
    # run on a random subsample: it runs in this process, and the fit agrees
    # with the in-memory fit.
    import skexpreg._step_size

    monkeypatch.setattr(skexpreg._step_size, "MAX_KERNEL_ROWS", 300)
    monkeypatch.setattr(skexpreg._step_size, "_DENSE_MAX_SAMPLES", 10)
    X, y, weight = data
    Xd, yd, wd = (da.from_array(a, chunks=300) for a in (X, y, weight))
    params = dict(max_iter=5, alpha=0.3, random_state=0)
    remote = _fit(ExponentialRegressor(16, **params), Xd, yd, wd)
    assert cluster_passes and 300 not in cluster_passes
    local = _fit(ExponentialRegressor(16, **params), X, y, sample_weight=weight)
    assert remote.learning_rate_ == pytest.approx(local.learning_rate_, rel=1e-8)


def test_the_alpha_path_runs_in_memory(client, data, cluster_passes):
    # The path's fits make hundreds of passes over at most 8,000 rows: they
    # run on the rows gathered into this process, so a default fit makes as
    # many passes on the cluster as a fit with its alpha given.
    X, y, weight = data
    Xd, yd, wd = (da.from_array(a, chunks=300) for a in (X, y, weight))
    auto = _fit(ExponentialRegressor(16, max_iter=8, random_state=0), Xd, yd, wd)
    with_auto = len(cluster_passes)
    assert len(auto.alpha_scores_) > 1
    cluster_passes.clear()
    _fit(
        ExponentialRegressor(16, max_iter=8, alpha=auto.alpha_, random_state=0),
        Xd,
        yd,
        wd,
    )
    assert with_auto == len(cluster_passes) > 8


def test_predict_on_dask_returns_a_lazy_blockwise_dask_array(client, data):
    X, y, _ = data
    model = _fit(ExponentialRegressor(16, max_iter=30, random_state=0), X, y)
    Xd = da.from_array(X, chunks=(500, 4))
    predicted = model.predict(Xd)
    assert isinstance(predicted, da.Array)
    assert predicted.chunks == ((500, 500, 200),)
    assert_allclose(predicted.compute(), model.predict(X), rtol=1e-12)


def test_multi_output_fit_and_predict_on_dask(client, data):
    X, y, _ = data
    Y = np.column_stack([y, y**2])
    local = _fit(exact(16, max_iter=30, alpha=0.3, random_state=0), X, Y)
    remote = _fit(
        exact(16, max_iter=30, alpha=0.3, random_state=0),
        da.from_array(X, chunks=300),
        da.from_array(Y, chunks=(300, 1)),
    )
    assert_allclose(remote.weights_, local.weights_, rtol=1e-8, atol=1e-12)
    predicted = remote.predict(da.from_array(X, chunks=300))
    assert predicted.shape == (len(X), 2)
    assert_allclose(predicted.compute(), local.predict(X), rtol=1e-8)


def test_fits_on_a_process_cluster_are_bit_identical(client, data):
    # Every reduction is combined over the same binary tree of chunks, so
    # neither the scheduling nor the worker that computes a chunk changes a
    # bit.
    X, y, weight = data
    Xd, yd, wd = (da.from_array(a, chunks=150) for a in (X, y, weight))
    fits = [
        _fit(
            ExponentialRegressor(16, max_iter=15, alpha=0.3, random_state=0), Xd, yd, wd
        )
        for _ in range(2)
    ]
    for name in ("input_offset_", "input_scale_", "learning_rate_", "weights_"):
        assert np.array_equal(getattr(fits[0], name), getattr(fits[1], name)), name


def test_far_rows_on_dask_get_the_bounded_in_memory_predictions(client, data):
    X, y, _ = data
    model = _fit(ExponentialRegressor(16, max_iter=30, random_state=0), X, y)
    far = np.vstack([X[:4], 1e3 * X[:4], -1e300 * X[:4]])
    predicted = model.predict(da.from_array(far, chunks=4)).compute()
    assert_bounded(model, predicted)
    assert_allclose(predicted, model.predict(far), rtol=1e-12)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_early_stopping_on_dask_uses_the_in_memory_split(client, data, n_outputs):
    X, y, weight = data
    Y = y if n_outputs == 1 else np.column_stack([y, y**2])
    params = dict(early_stopping=True, alpha=0.0, max_iter=80, random_state=0)
    local = _fit(exact(16, **params), X, Y, sample_weight=weight)
    remote = _fit(
        exact(16, **params),
        da.from_array(X, chunks=300),
        da.from_array(Y, chunks=300),
        sample_weight=da.from_array(weight, chunks=300),
    )
    assert remote.n_iter_ == local.n_iter_
    assert_allclose(remote.validation_scores_, local.validation_scores_, rtol=1e-8)
    assert remote.best_validation_score_ == pytest.approx(
        local.best_validation_score_, rel=1e-8
    )
    assert_allclose(remote.weights_, local.weights_, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "gd", "max_iter": 40},
        {"solver": "sgd", "batch_size": 300, "max_iter": 5},
    ],
)
def test_result_does_not_depend_on_the_chunking(data, params):
    X, y, _ = data
    with dask.config.set(scheduler="threads"):
        fits = [
            _fit(
                exact(16, alpha=0.3, random_state=0, **params),
                da.from_array(X, chunks=chunks),
                y,
            )
            for chunks in (1200, 100, 333)
        ]
    for other in fits[1:]:
        assert_allclose(other.weights_, fits[0].weights_, rtol=1e-10, atol=1e-14)


def test_partial_fit_on_dask_is_one_full_batch_step(client, data):
    X, y, _ = data
    local, remote = (exact(16, random_state=0) for _ in range(2))
    Xd, yd = da.from_array(X, chunks=400), da.from_array(y, chunks=400)
    for _ in range(3):
        local.partial_fit(X, y)
        remote.partial_fit(Xd, yd)
    assert remote.n_iter_ == 3
    assert_allclose(remote.weights_, local.weights_, rtol=1e-10)


def test_grid_search_under_the_joblib_dask_backend(client, data):
    from joblib import parallel_config

    X, y, _ = data
    grid = {"n_neurons": [8, 16], "learning_rate": ["auto", 1e-3]}
    model = ExponentialRegressor(max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = GridSearchCV(model, grid, cv=2).fit(X[:400], y[:400])
        with parallel_config(backend="dask"):
            on_dask = GridSearchCV(model, grid, cv=2, n_jobs=-1).fit(X[:400], y[:400])
    assert on_dask.best_params_ == serial.best_params_
    assert_allclose(
        on_dask.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        rtol=1e-10,
    )


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda X, y: (da.from_array(X)[da.from_array(y) > 0], y), "unknown chunk"),
        (lambda X, y: (da.from_array(X), y[:-1]), "rows"),
        (lambda X, y: (X, da.from_array(y)), "X is not"),
        (lambda X, y: (da.from_array(np.where(X > 2.9, np.nan, X)), y), "NaN"),
        (lambda X, y: (da.from_array(X[:, 0]), y), "2D"),
        (lambda X, y: (da.from_array(X.astype(str)), y), "numeric"),
    ],
)
def test_bad_dask_input_gets_a_clear_error(data, make_input, message):
    X, y, _ = data
    X_bad, y_bad = make_input(X, y)
    with dask.config.set(scheduler="synchronous"):
        with pytest.raises((ValueError, TypeError), match=message):
            ExponentialRegressor(8, max_iter=2).fit(X_bad, y_bad)


def test_bad_dask_weights_and_feature_counts_are_refused(data):
    X, y, weight = data
    Xd = da.from_array(X, chunks=600)
    with dask.config.set(scheduler="synchronous"):
        with pytest.raises(ValueError, match="non-negative"):
            ExponentialRegressor(8).fit(Xd, y, sample_weight=-weight)
        model = _fit(ExponentialRegressor(8, max_iter=3), Xd, y)
        with pytest.raises(ValueError, match="features"):
            model.predict(da.from_array(X[:, :3]))


def test_dask_ml_incremental_streams_blocks_through_partial_fit(data):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y, _ = data
    X, y = X[:120], y[:120]
    incremental = wrappers.Incremental(
        ExponentialRegressor(8, learning_rate=1e-3, random_state=0),
        shuffle_blocks=False,
    )
    with dask.config.set(scheduler="synchronous"):
        incremental.fit(da.from_array(X, chunks=40), da.from_array(y, chunks=40))
    manual = ExponentialRegressor(8, learning_rate=1e-3, random_state=0)
    for start in range(0, len(y), 40):
        manual.partial_fit(X[start : start + 40], y[start : start + 40])
    assert incremental.estimator_.n_iter_ == manual.n_iter_ == 3
    assert_allclose(incremental.estimator_.weights_, manual.weights_, rtol=1e-12)


def test_dask_dataframe_input_keeps_feature_names(data):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y, _ = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    with dask.config.set(scheduler="threads"):
        remote = _fit(
            exact(8, max_iter=20, random_state=0),
            dd.from_pandas(frame, npartitions=3),
            dd.from_pandas(pd.Series(y), npartitions=3),
        )
        local = _fit(exact(8, max_iter=20, random_state=0), frame, y)
        assert list(remote.feature_names_in_) == ["a", "b", "c", "d"]
        predicted = remote.predict(dd.from_pandas(frame, npartitions=2)).compute()
        assert_allclose(predicted, local.predict(frame), rtol=1e-10)
        with pytest.raises(ValueError, match="feature names"):
            remote.predict(dd.from_pandas(frame[["b", "a", "c", "d"]], npartitions=2))


def test_predict_on_dask_stays_lazy(client, data, monkeypatch):
    X, y, _ = data
    model = _fit(ExponentialRegressor(8, max_iter=5, alpha=0.3, random_state=0), X, y)

    def refuse(*arrays, **options):
        raise AssertionError("predict persisted its rows")

    monkeypatch.setattr(dask, "persist", refuse)
    predicted = model.predict(da.from_array(X, chunks=300))
    assert isinstance(predicted, da.Array)
    monkeypatch.undo()
    assert_allclose(predicted.compute(), model.predict(X), rtol=1e-12)


def test_persisted_chunks_are_aligned_for_blas():
    # A chunk unpickled from a network frame may start at an odd byte; the
    # training rows are persisted aligned (numpy would copy them before every
    # BLAS call otherwise), and an aligned chunk is not copied.
    from skexpreg._dask import _aligned

    values = np.arange(12.0).reshape(4, 3)
    buffer = np.zeros(values.nbytes + 3, dtype=np.uint8)
    odd = np.frombuffer(buffer[3:], dtype=np.float64).reshape(4, 3)
    odd[...] = values
    assert not odd.flags.aligned
    fixed = _aligned(odd)
    assert fixed.flags.aligned
    assert_allclose(fixed, values, rtol=0, atol=0)
    assert _aligned(values) is values


def test_single_precision_fit_on_cluster_agrees_with_in_memory(client, data):
    X, y, weight = data
    params = dict(max_iter=40, alpha=0.3, precision="single")
    local = _fit(ExponentialRegressor(24, random_state=0, **params), X, y, weight)
    Xd, yd = da.from_array(X, chunks=(250, 4)), da.from_array(y, chunks=250)
    remote = _fit(ExponentialRegressor(24, random_state=0, **params), Xd, yd, weight)
    assert remote.weights_.dtype == local.weights_.dtype == np.float32
    assert remote.n_iter_ == local.n_iter_
    # Round-off of float32 sums in another order, not a different fit.
    assert_allclose(remote.weights_, local.weights_, rtol=1e-4, atol=1e-5)


def test_a_pass_on_a_cluster_is_one_task_per_worker_thread(client, data):
    # Eight chunks on two single-threaded workers: the training rows are
    # persisted as two runs of four chunks, one on each worker, and a pass
    # is one task per run. Each chunk's result and the tree of the sum are
    # those of one task per chunk (the synchronous scheduler's), so the fits
    # agree to the bit.
    from skexpreg._dask import _balanced_runs, fit_rows

    X, y, weight = data
    Xd, yd, wd = (da.from_array(a, chunks=150) for a in (X, y, weight))
    rows = fit_rows(ExponentialRegressor(), Xd, yd, wd, reset=True)
    with rows:
        assert [run for run, _ in rows._groups] == [[0, 1, 2, 3], [4, 5, 6, 7]]
        futures = [run for _, run in rows._groups]
        distributed.wait(futures)
        holders = client.who_has(futures)
        assert len({holders[future.key][0] for future in futures}) == 2
    params = dict(max_iter=15, alpha=0.3, random_state=0)
    grouped = _fit(ExponentialRegressor(16, **params), Xd, yd, wd)
    with dask.config.set(scheduler="synchronous"):
        with rows:
            assert rows._groups is None
        chunked = _fit(ExponentialRegressor(16, **params), Xd, yd, wd)
    for name in ("input_offset_", "input_scale_", "learning_rate_", "weights_"):
        assert np.array_equal(getattr(grouped, name), getattr(chunked, name)), name
    # Runs of about equal rows, in order.
    assert _balanced_runs([3, 5, 6, 9], [10, 10, 10, 10], 2) == [[3, 5], [6, 9]]
    assert _balanced_runs([0, 1, 2], [1, 1, 100], 2) == [[0, 1], [2]]
    assert _balanced_runs([4], [7], 3) == [[4]]


def _pairwise(values):
    """Sums of neighbouring pairs, level by level (a last odd one carried up)."""
    while len(values) > 1:
        pairs = [values[i] + values[i + 1] for i in range(0, len(values) - 1, 2)]
        values = pairs + values[len(pairs) * 2 :]
    return values[0]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13, 40])
def test_runs_combine_chunks_over_the_same_tree_whatever_the_cut(count):
    # Ones and one 2**53, where float64 has no room for odd numbers,
    # so the sum depends on the order of the additions: each task adds the
    # subtrees inside its run, the client the rest, and the result must
    # equal the tree over single chunks.
    import operator

    from skexpreg._dask import _run_subtrees, _subtree

    rng = np.random.RandomState(count)
    values = np.ones(count)
    values[rng.randint(count)] = 2.0**53
    values = list(values)
    expected = _pairwise(values)
    root = 1 << (count - 1).bit_length()
    for _ in range(5):
        cuts = (
            sorted(set(rng.randint(1, count, rng.randint(0, 4)))) if count > 1 else []
        )
        known = {}
        for run in np.split(np.arange(count), cuts):
            chunks = [(values[index],) for index in run]
            subtrees = _run_subtrees(
                lambda value, runner: value, operator.add, int(run[0]), chunks
            )
            assert len(subtrees) <= 2 * max(1, len(run)).bit_length()
            known.update(subtrees)
        assert _subtree(known, 0, root, count, operator.add) == expected


def test_auto_stays_full_batch_on_a_cluster(client, data, monkeypatch):
    from skexpreg import _regressor

    X, y, _ = data
    monkeypatch.setattr(_regressor, "AUTO_SGD_ROWS", 500)  # the data are "large"
    in_memory = _fit(ExponentialRegressor(8, alpha=0.3, max_iter=3), X, y)
    assert in_memory.solver_ == "sgd"
    Xd, yd = da.from_array(X, chunks=(400, 4)), da.from_array(y, chunks=400)
    remote = _fit(ExponentialRegressor(8, alpha=0.3, max_iter=3), Xd, yd)
    assert remote.solver_ == "nesterov"  # a batch would be a round trip each


def test_a_fit_is_the_same_run_after_run_on_every_local_scheduler():
    # The chunk tasks of the threaded scheduler run in this process's
    # threads, where OpenBLAS ignores a thread limit set inside a task once
    # its threads have started: the limit is held by the caller
    # (skexpreg._dask). Left to the tasks, products of these 2,000-row
    # chunks ran on one or two threads as timing fell, and three threaded
    # fits differed from the synchronous one by 2e-6 to 4e-6.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(8000, 20))
    y = np.sin(X[:, 0]) + X[:, 1]
    Xd, yd = da.from_array(X, chunks=2000), da.from_array(y, chunks=2000)
    fits = []
    for scheduler in ("threads", "threads", "threads", "synchronous"):
        with dask.config.set(scheduler=scheduler):
            model = ExponentialRegressor(random_state=0, alpha=0.01, max_iter=20)
            fits.append(_fit(model, Xd, yd))
    for other in fits[:-1]:
        assert other.learning_rate_ == fits[-1].learning_rate_
        assert_array_equal(other.weights_, fits[-1].weights_)
