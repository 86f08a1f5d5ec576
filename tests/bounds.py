"""The documented bound on predictions, for the tests of every backend."""

import numpy as np

from skexpreg import _array_api


def prediction_bound(model):
    """``(lower, upper)`` per output that no prediction of ``model`` leaves.

    Every row the network sees has a norm of at most ``input_radius_``, so
    ``|F(W, x)| <= (1/sqrt(m)) sum_r exp(||w_r|| input_radius_)`` and a
    prediction lies within ``target_scale_`` times that of ``target_mean_``.
    """
    weights = _array_api.to_numpy(model.weights_).astype(np.float64)
    radius = float(model.input_radius_)
    bound = np.exp(np.linalg.norm(weights, axis=0) * radius).sum()
    bound /= np.sqrt(weights.shape[1])
    scale = _array_api.to_numpy(model.target_scale_) * bound
    mean = _array_api.to_numpy(model.target_mean_)
    return mean - scale, mean + scale


def assert_bounded(model, predictions):
    predictions = _array_api.to_numpy(predictions)
    assert np.isfinite(predictions).all()
    lower, upper = prediction_bound(model)
    values = predictions.reshape(len(predictions), -1)
    assert (values >= lower).all() and (values <= upper).all()
