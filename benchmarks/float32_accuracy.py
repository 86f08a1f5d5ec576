"""Agreement of float32 and float64 fits with the default parameters.

    python benchmarks/float32_accuracy.py

For each data set: held-out R² of the same model fitted on float64 and on
float32 inputs (same seed), the largest difference between their held-out
predictions relative to the standard deviation of y, and the number of
gradient-descent steps each took.
"""

import warnings

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skexpreg import ExponentialRegressor


def main():
    data = {
        "diabetes": load_diabetes(return_X_y=True),
        "friedman1": make_friedman1(n_samples=2000, noise=1.0, random_state=0),
    }
    print(
        f"{'data':<10} {'R2 f64':>7} {'R2 f32':>7} {'max |dpred|/std(y)':>19} "
        f"{'steps f64':>10} {'steps f32':>10}"
    )
    for name, (X, y) in data.items():
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        fits = {}
        for dtype in (np.float64, np.float32):
            model = ExponentialRegressor(random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X_train.astype(dtype), y_train)
            fits[dtype] = (model, model.predict(X_test.astype(dtype)))
        (m64, p64), (m32, p32) = fits[np.float64], fits[np.float32]
        gap = np.max(np.abs(p64 - p32)) / np.std(y)
        print(
            f"{name:<10} {m64.score(X_test, y_test):>7.4f} "
            f"{m32.score(X_test.astype(np.float32), y_test):>7.4f} {gap:>19.2e} "
            f"{m64.n_iter_:>10} {m32.n_iter_:>10}"
        )


if __name__ == "__main__":
    main()
