"""ONNX export: the exported graph computes predict, with its bounds.

Skipped without the optional ``[onnx]`` extra (skl2onnx and onnxruntime).
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.compose import make_column_transformer
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skexpreg import ExponentialRegressor

pytest.importorskip("skl2onnx")
rt = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
pytest.importorskip("skexpreg.onnx")  # registers the converter

TOLERANCE = {
    np.float64: dict(rtol=1e-10, atol=1e-12),
    np.float32: dict(rtol=1e-5, atol=1e-5),
}


def _run(model, X):
    onx = skl2onnx.to_onnx(model, X[:1])
    session = rt.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})[0]


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.fixture(scope="module")
def data():
    X, y = make_friedman1(n_samples=200, random_state=0)
    return X, y


def _with_far_rows(X):
    return np.vstack([X, 1e3 * X[:5], -1e30 * X[5:10], np.full((2, X.shape[1]), 1e38)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"input_scaling": "max_norm", "alpha": 0.3},
        {"input_scaling": None, "alpha": 0.0},
        {"input_scaling": 2.0, "init": "gaussian", "alpha": 0.3},
    ],
)
def test_exported_graph_predicts_like_the_estimator(data, dtype, params):
    X, y = data
    X = X.astype(dtype)
    model = _fit(ExponentialRegressor(16, max_iter=30, random_state=0, **params), X, y)
    far = _with_far_rows(X).astype(dtype)
    exported = _run(model, far)
    assert exported.shape == (len(far), 1)
    assert np.isfinite(exported).all()
    tolerance = dict(TOLERANCE[dtype])
    if params.get("input_scaling", "standard") is None and dtype == np.float32:
        # raw inputs without ridge: larger pre-activations amplify the
        # float32 round-off of the two runtimes' different summation orders
        tolerance["rtol"] = 5e-5
    assert_allclose(exported[:, 0], model.predict(far), **tolerance)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_outputs", [1, 2, 3])
def test_multi_output_export(data, dtype, n_outputs):
    X, y = data
    X = X.astype(dtype)
    Y = np.column_stack([y, np.sin(y), np.cos(y)])[:, :n_outputs]
    model = _fit(ExponentialRegressor(16, max_iter=30, alpha=0.3, random_state=0), X, Y)
    assert_allclose(
        _run(model, X).reshape(model.predict(X).shape),
        model.predict(X),
        **TOLERANCE[dtype],
    )
    # the graph declares the shape it computes: onnx's full check infers
    # the shapes of every node and compares them with the declared output
    onnx = pytest.importorskip("onnx")
    onx = skl2onnx.to_onnx(model, X[:1])
    onnx.checker.check_model(onx, full_check=True)
    (output,) = onx.graph.output
    assert output.type.tensor_type.shape.dim[1].dim_value == n_outputs


@pytest.mark.parametrize("in_pipeline", [False, True])
def test_exporting_an_unfitted_model_raises_not_fitted(data, in_pipeline):
    X, _ = data
    model = ExponentialRegressor(16)
    if in_pipeline:
        model = make_pipeline(StandardScaler().fit(X), model)
    with pytest.raises(NotFittedError, match="ExponentialRegressor"):
        skl2onnx.to_onnx(model, X[:1])


def test_export_inside_a_pipeline(data):
    X, y = data
    X = np.column_stack([X, np.arange(len(X)) % 3]).astype(np.float64)
    model = _fit(
        make_pipeline(
            make_column_transformer(
                (OneHotEncoder(sparse_output=False), [X.shape[1] - 1]),
                remainder=StandardScaler(),
            ),
            ExponentialRegressor(16, max_iter=30, random_state=0),
        ),
        X,
        y,
    )
    assert_allclose(_run(model, X)[:, 0], model.predict(X), **TOLERANCE[np.float64])
