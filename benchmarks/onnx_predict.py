"""Predict throughput: the estimator against its ONNX export (onnxruntime).

    python benchmarks/onnx_predict.py          # 100,000 rows, float64 and float32

Fits ``ExponentialRegressor(random_state=0)`` on ``make_friedman1`` (2,000
rows, 10 features), exports it with ``skl2onnx.to_onnx`` after ``import
skexpreg.onnx``, and times ``predict`` and ``InferenceSession.run`` on the
same rows (best of 5, each in this process, all cores), with the largest
relative difference between the two. Needs ``pip install "skexpreg[onnx]"``.
"""

import argparse
import os
import time
import warnings

import numpy as np


def best_of(function, repeats=5):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    try:
        import onnxruntime as rt
        from skl2onnx import to_onnx

        import skexpreg.onnx  # noqa: F401  (registers the converter)
    except ImportError as error:
        print(f'{error}: pip install "skexpreg[onnx]"')
        return
    from sklearn.datasets import make_friedman1

    from skexpreg import ExponentialRegressor

    X, y = make_friedman1(n_samples=2000, noise=1.0, random_state=0)
    rows = np.random.RandomState(1).uniform(size=(args.rows, X.shape[1]))
    print(f"{args.rows} rows x {X.shape[1]} features, {os.cpu_count()} cores")
    print(
        f"{'dtype':<8} {'predict (s)':>12} {'onnxruntime (s)':>16} {'ratio':>6} "
        f"{'max rel diff':>13}"
    )
    for dtype in (np.float64, np.float32):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ExponentialRegressor(random_state=0).fit(X.astype(dtype), y)
        data = rows.astype(dtype)
        session = rt.InferenceSession(
            to_onnx(model, data[:1]).SerializeToString(),
            providers=["CPUExecutionProvider"],
        )
        name = session.get_inputs()[0].name
        exported = session.run(None, {name: data})[0][:, 0]
        expected = model.predict(data)
        difference = np.max(np.abs(exported - expected) / np.abs(expected))
        mine = best_of(lambda: model.predict(data))
        theirs = best_of(lambda: session.run(None, {name: data}))
        print(
            f"{np.dtype(dtype).name:<8} {mine:>12.4f} {theirs:>16.4f} "
            f"{theirs / mine:>6.2f} {difference:>13.2e}"
        )


if __name__ == "__main__":
    main()
