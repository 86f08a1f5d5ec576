"""The pure array functions: gradients, blocking, threads, overflow guards."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse
from sklearn import config_context

from skexpreg import _blocks, _network


def _problem(n_samples=37, n_features=4, n_neurons=9, n_outputs=1, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n_samples, n_features))
    y = rng.normal(size=(n_samples, n_outputs))
    weights, signs = _network.initial_parameters(
        n_features, n_neurons, n_outputs, rng, np.float64, paired=False
    )
    sample_weight = rng.uniform(0.5, 2.0, size=n_samples)
    return X, y, sample_weight, weights, signs


def _dense_reference(X, y, sample_weight, weights, signs, input_scale):
    """The plain formulas of the paper, with the full (n, m) matrix."""
    n_neurons = weights.shape[1]
    E = np.exp((X / input_scale) @ weights)
    outputs = E @ signs / np.sqrt(n_neurons)
    residual = (outputs - y) * sample_weight[:, None]
    loss = 0.5 * np.sum(sample_weight[:, None] * (outputs - y) ** 2)
    gradient = (X / input_scale).T @ (E * (residual @ signs.T)) / np.sqrt(n_neurons)
    return outputs, loss, gradient


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("input_scale", [1.0, 2.5])
def test_gradient_matches_central_finite_differences(n_outputs, input_scale):
    X, y, sample_weight, weights, signs = _problem(n_outputs=n_outputs)
    with _blocks.BlockRunner() as runner:

        def loss_at(W):
            return _network.loss_and_gradient(
                X, y, sample_weight, W, signs, input_scale, runner
            )[0]

        _, gradient = _network.loss_and_gradient(
            X, y, sample_weight, weights, signs, input_scale, runner
        )
    step = 1e-6
    numeric = np.zeros_like(weights)
    for index in np.ndindex(*weights.shape):
        delta = np.zeros_like(weights)
        delta[index] = step
        numeric[index] = (loss_at(weights + delta) - loss_at(weights - delta)) / (
            2 * step
        )
    assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("container", [np.asarray, sparse.csr_matrix])
def test_blocked_loss_gradient_and_outputs_match_dense_formulas(n_outputs, container):
    X, y, sample_weight, weights, signs = _problem(n_outputs=n_outputs, n_samples=50)
    outputs_ref, loss_ref, gradient_ref = _dense_reference(
        X, y, sample_weight, weights, signs, 1.7
    )
    # A tiny working_memory forces one-row blocks.
    with config_context(working_memory=1e-6), _blocks.BlockRunner() as runner:
        assert len(_blocks.row_blocks(50, weights.shape[1], np.float64)) == 50
        loss, gradient = _network.loss_and_gradient(
            container(X), y, sample_weight, weights, signs, 1.7, runner
        )
        outputs = _network.forward(container(X), weights, signs, 1.7, runner)
    assert_allclose(loss, loss_ref, rtol=1e-12)
    assert_allclose(gradient, gradient_ref, rtol=1e-10, atol=1e-12)
    assert_allclose(outputs, outputs_ref, rtol=1e-12)


def test_row_blocks_depend_on_the_shapes_only():
    # 4 MiB of activations at most, and rows that would fill one block are
    # split in two halves from 2,048 rows on (so that two threads share them).
    assert [b.stop - b.start for b in _blocks.row_blocks(6400, 128, np.float32)] == [
        3200,
        3200,
    ]
    assert len(_blocks.row_blocks(2047, 128, np.float32)) == 1
    assert [b.stop for b in _blocks.row_blocks(2049, 128, np.float32)] == [1025, 2049]
    sizes = [b.stop - b.start for b in _blocks.row_blocks(10**6, 128, np.float32)]
    assert max(sizes) == 4 * 2**20 // (128 * 4) and sum(sizes) == 10**6
    # Fewer rows holding 2 MiB of activations or more are split too: a
    # mini-batch of 512 rows by 2,048 float32 neurons makes two blocks.
    assert [b.stop for b in _blocks.row_blocks(512, 2048, np.float32)] == [256, 512]
    assert len(_blocks.row_blocks(511, 1024, np.float32)) == 1  # under 2 MiB
    assert [b.stop for b in _blocks.row_blocks(512, 1024, np.float32)] == [256, 512]


def test_threads_start_only_for_passes_of_several_blocks():
    # A one-block pass (a prediction of a few rows) runs in the calling
    # thread: starting a pool cost about 0.12 ms, a third of such a predict.
    with _blocks.BlockRunner(2) as runner:
        assert list(runner.map(lambda block: 2 * block, [3])) == [6]
        assert runner._executor is None
        assert list(runner.map(lambda block: 2 * block, [1, 2, 3])) == [2, 4, 6]
        assert runner._executor is not None
    assert runner._executor is None


def test_results_do_not_depend_on_thread_count():
    X, y, sample_weight, weights, signs = _problem(n_samples=300, n_neurons=40)
    results = []
    for n_threads in (1, 2, 3):
        with (
            config_context(working_memory=0.01),
            _blocks.BlockRunner(n_threads) as runner,
        ):
            results.append(
                _network.loss_and_gradient(
                    X, y, sample_weight, weights, signs, 1.0, runner
                )
            )
    for loss, gradient in results[1:]:
        assert_allclose(loss, results[0][0], rtol=1e-12)
        assert_allclose(gradient, results[0][1], rtol=1e-12)


def test_block_runner_yields_in_block_order():
    with _blocks.BlockRunner(3) as runner:
        assert list(runner.map(lambda i: i * i, range(20))) == [
            i * i for i in range(20)
        ]


def test_paired_initialisation_gives_zero_network_and_balanced_signs():
    rng = np.random.RandomState(0)
    weights, signs = _network.initial_parameters(3, 10, 2, rng, np.float64, paired=True)
    assert_allclose(weights[:, :5], weights[:, 5:])
    assert_allclose(signs[:5], -signs[5:])
    X = rng.normal(size=(20, 3))
    with _blocks.BlockRunner() as runner:
        outputs = _network.forward(X, weights, signs, 1.0, runner)
    assert_allclose(outputs, 0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clipped_forward_is_finite_for_overflowing_rows(dtype):
    rng = np.random.RandomState(0)
    weights = rng.normal(size=(3, 8)).astype(dtype)
    signs = np.sign(rng.normal(size=(8, 1))).astype(dtype)
    X = np.array([[0.1, 0.2, -0.1], [1e30, -1e30, 1e30], [5e3, 0, 0]], dtype=dtype)
    max_z = _network.max_safe_preactivation(8, dtype)
    with _blocks.BlockRunner() as runner:
        plain = _network.forward(X, weights, signs, 1.0, runner)
        outputs, clipped = _network.forward_clipped(
            X, weights, signs, 1.0, runner, max_z
        )
    assert not np.isfinite(plain[1:]).all()
    assert clipped.tolist() == [False, True, True]
    assert np.isfinite(outputs).all()
    assert outputs[0] == plain[0]


def test_exp_kernel_can_be_switched_off_and_is_optional(monkeypatch):
    from skexpreg import _fastexp

    Z = np.linspace(-3, 3, 2**16).reshape(256, -1)
    monkeypatch.setattr(_fastexp, "_chosen", {})
    monkeypatch.setenv("SKEXPREG_NUMBA", "0")
    assert not _fastexp.available()
    assert _fastexp.exp_inplace(Z) is None  # untouched: the caller uses numpy
    monkeypatch.setattr(_fastexp, "_chosen", {})
    monkeypatch.delenv("SKEXPREG_NUMBA")
    monkeypatch.setitem(sys.modules, "numba", None)  # as if not installed
    assert not _fastexp.available(np.float64)
    assert not _fastexp.available(np.float32)
    E = _network._activations(Z[:, :4].copy(), np.eye(4, 2**14))
    assert_allclose(E, np.exp(Z[:, :4] @ np.eye(4, 2**14)), rtol=0)


def test_default_threads_follow_the_blas_limit():
    from joblib import cpu_count
    from threadpoolctl import threadpool_limits

    from skexpreg._blocks import threads_for

    assert threads_for(3) == 3 and threads_for(-1) == cpu_count()
    with threadpool_limits(limits=1):  # as joblib does inside its workers
        assert threads_for(None) == 1
    assert 1 <= threads_for(None) <= cpu_count()
