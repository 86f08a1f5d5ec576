"""Peak memory of fit and predict on a million rows, and cost against n and m.

    python benchmarks/memory.py            # the target run and the sweeps
    python benchmarks/memory.py --quick    # a tenth of the rows

Target: fit (2 steps) and predict on n = 1,000,000 x d = 32 float64 with
m = 1,024 within 1.5 GiB peak resident memory; the dense n x m activation
matrix alone would be 8 GiB. Each measurement runs in a fresh process, so
the reported peak (``ru_maxrss``) is that of the measurement alone; it
includes the Python interpreter, numpy, scipy and scikit-learn (about
100 MiB) and the data itself (X is 256 MiB).

The sweeps report seconds per gradient-descent step ((fit with 3 steps - fit
with 1 step) / 2) and the same divided by n * m, which is constant when the
cost is linear in n and in m.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np


def child(n, d, m, steps, predict):
    from sklearn.exceptions import ConvergenceWarning

    from skexpreg import ExponentialRegressor

    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = ExponentialRegressor(
        m,
        learning_rate=1e-6,  # a fixed step: exactly `steps` passes
        solver="nesterov",  # full-batch passes (auto: sgd from 20,000 rows)
        max_iter=steps,
        tol=0.0,
        n_jobs=-1,
        random_state=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    fit_seconds = time.perf_counter() - start
    predict_seconds = None
    if predict:
        start = time.perf_counter()
        model.predict(X)
        predict_seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "fit": fit_seconds,
        "predict": predict_seconds,
        "peak_mib": peak,
        "after_data_mib": base,
    }


def run(n, d, m, steps, predict=False):
    command = [
        sys.executable,
        __file__,
        "--child",
        json.dumps({"n": n, "d": d, "m": m, "steps": steps, "predict": predict}),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def per_step(n, d, m):
    one, three = run(n, d, m, 1), run(n, d, m, 3)
    return (three["fit"] - one["fit"]) / 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(**json.loads(args.child))))
        return
    scale = 10 if args.quick else 1
    n, d, m = 1_000_000 // scale, 32, 1024
    print(f"{os.cpu_count()} cores; every run in a fresh process")
    target = run(n, d, m, steps=2, predict=True)
    print(
        f"fit (2 steps) + predict, n={n}, d={d}, m={m}: peak RSS "
        f"{target['peak_mib']:.0f} MiB (after making the data: "
        f"{target['after_data_mib']:.0f} MiB; target 1536 MiB); "
        f"fit {target['fit']:.1f} s, predict {target['predict']:.1f} s"
    )
    print(f"\n{'n':>9} {'m':>6} {'s/step':>8} {'ns per (row x neuron)':>22}")
    for rows, neurons in [
        (n // 4, m),
        (n // 2, m),
        (n, m),
        (n // 4, m // 4),
        (n // 4, m // 2),
    ]:
        seconds = per_step(rows, d, neurons)
        print(
            f"{rows:>9} {neurons:>6} {seconds:>8.2f} "
            f"{1e9 * seconds / (rows * neurons):>22.2f}"
        )


if __name__ == "__main__":
    main()
