"""ONNX export of :class:`~skexpreg.ExponentialRegressor` (optional).

Importing this module registers a converter with ``skl2onnx`` (``pip install
"skexpreg[onnx]"``), after which ``skl2onnx.to_onnx(model, X)`` exports a
fitted estimator, alone or inside a Pipeline, in float32 or float64. The
graph computes exactly what ``predict`` computes:

1. the input map: each feature clipped to ``[input_lower_, input_upper_]``,
   ``(x - input_offset_) / input_scale_``, and the row shrunk onto the ball
   of radius ``input_radius_``;
2. the network: ``exp(z W)`` with the pre-activations capped at the largest
   safe value (the bounded input map keeps them below it), times the output
   signs over ``sqrt(m)``;
3. the target map back: ``* target_scale_ + target_mean_``.

The output is ``(n_samples, n_outputs)`` (one column for a single target), as
for scikit-learn's own regressors, and the graph declares that shape. An
unfitted estimator raises :class:`~sklearn.exceptions.NotFittedError`.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skexpreg import _array_api, _network
from skexpreg._regressor import ExponentialRegressor

try:
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxDiv,
        OnnxExp,
        OnnxIdentity,
        OnnxMatMul,
        OnnxMax,
        OnnxMin,
        OnnxMul,
        OnnxSqrt,
        OnnxSub,
    )
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        guess_numpy_type,
    )
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )
except ImportError as error:  # the optional dependency is missing
    raise ImportError(
        "skexpreg.onnx needs skl2onnx (and onnxruntime to run the exported "
        'models): pip install "skexpreg[onnx]"'
    ) from error

__all__ = [
    "calculate_exponential_regressor_output_shapes",
    "convert_exponential_regressor",
]


def _constant(value, dtype):
    return np.asarray(_array_api.to_numpy(value), dtype=dtype)


def calculate_exponential_regressor_output_shapes(operator):
    """The skl2onnx shape calculator: one input ``(N, n_features)``, one
    output ``(N, n_outputs_)``, float64 for a float64 input, else float32."""
    model = operator.raw_operator
    check_is_fitted(model)
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(
        operator,
        good_input_types=[
            BooleanTensorType,
            DoubleTensorType,
            FloatTensorType,
            Int64TensorType,
        ],
    )
    kind = type(operator.inputs[0].type)
    if kind not in (FloatTensorType, DoubleTensorType):
        kind = FloatTensorType
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = kind([n_rows, model.n_outputs_])


def convert_exponential_regressor(scope, operator, container):
    """The skl2onnx converter: ``predict`` of a fitted ExponentialRegressor."""
    model = operator.raw_operator
    check_is_fitted(model)
    version = container.target_opset
    X = operator.inputs[0]
    dtype = guess_numpy_type(X.type)
    if dtype not in (np.float32, np.float64):
        dtype = np.float32
    n_features = model.n_features_in_

    def const(value):
        return _constant(value, dtype)

    bounded = OnnxMin(
        OnnxMax(X, const(model.input_lower_), op_version=version),
        const(model.input_upper_),
        op_version=version,
    )
    Z = OnnxDiv(
        OnnxSub(bounded, const(model.input_offset_), op_version=version),
        const(model.input_scale_),
        op_version=version,
    )
    squares = OnnxMul(Z, Z, op_version=version)
    norms = OnnxSqrt(
        OnnxMatMul(squares, const(np.ones((n_features, 1))), op_version=version),
        op_version=version,
    )
    tiny = const(np.finfo(dtype).tiny)
    shrink = OnnxMin(
        OnnxDiv(
            const(model.input_radius_),
            OnnxMax(norms, tiny, op_version=version),
            op_version=version,
        ),
        const(1.0),
        op_version=version,
    )
    Z = OnnxMul(Z, shrink, op_version=version)
    weights = _array_api.to_numpy(model.weights_)
    n_neurons = weights.shape[1]
    max_z = _network.max_safe_preactivation(
        n_neurons, dtype, output_scale=_array_api.largest(model.target_scale_)
    )
    activations = OnnxExp(
        OnnxMin(
            OnnxMatMul(Z, const(weights), op_version=version),
            const(max_z),
            op_version=version,
        ),
        op_version=version,
    )
    signs = _array_api.to_numpy(model.output_signs_).reshape(n_neurons, -1)
    outputs = OnnxMatMul(
        activations, const(signs / np.sqrt(n_neurons)), op_version=version
    )
    predictions = OnnxAdd(
        OnnxMul(
            outputs,
            const(_array_api.to_numpy(model.target_scale_)),
            op_version=version,
        ),
        const(_array_api.to_numpy(model.target_mean_)),
        op_version=version,
    )
    final = OnnxIdentity(
        predictions, op_version=version, output_names=operator.outputs[:1]
    )
    final.add_to(scope, container)


update_registered_converter(
    ExponentialRegressor,
    "SkexpregExponentialRegressor",
    calculate_exponential_regressor_output_shapes,
    convert_exponential_regressor,
    overwrite=True,
)
