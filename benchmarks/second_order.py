"""Do second-order steps pay on California? Newton-type solvers against L-BFGS.

    python benchmarks/second_order.py                  # alpha = 1e-4
    python benchmarks/second_order.py --max-iter 20 --reference-iter 200  # a smoke run

The question behind a preconditioned solver: does curvature information
beyond what L-BFGS gathers cut the work to reach 99.9 % of the achievable
decrease of the training loss (``L <= L* + 1e-3 (L(0) - L*)``, ``L*`` from
a long L-BFGS run)? Each Newton-type method gets exact products with the
Hessian of the estimator's objective (or with its Gauss-Newton part, which
drops the residuals' second-order term and is positive definite), computed
in one pass over the rows, and scipy's trust-region or line-search loop.
Work is counted in evaluation-equivalents: one loss-and-gradient call is
1, a Hessian product costs what its measured time says (printed).

Same data and starting point as ``benchmarks/solvers.py``: the panel's
California split and preprocessing, the default input map, 128 neurons,
W(0) of ``random_state=0``. Needs ``../shared/data``; skips without it.
Slow on purpose (plain numpy products on all rows, a 20,000-iteration
reference): about 15 minutes on 2 cores.
"""

import argparse
import time
import warnings

import numpy as np
from dask_overhead import median_seconds
from panel import load_panel
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.metrics import r2_score

from skexpreg import ExponentialRegressor
from skexpreg.ntk import network_inputs

ALPHA = 1e-4
METHODS = [
    ("trust-ncg", "hessian"),
    ("trust-krylov", "hessian"),
    ("Newton-CG", "hessian"),
    ("trust-ncg", "gauss-newton"),
]


class Problem:
    """The estimator's objective on the mapped training rows, in numpy.

    ``L(W) = 1/2 ||F(W) - t||^2 + alpha/2 ||W - W(0)||^2`` with
    ``F(W)_i = (1/sqrt(m)) sum_r a_r exp(<w_r, x_i>)``.
    """

    def __init__(self, Z, t, W0, signs, alpha):
        self.Z, self.t, self.W0, self.a, self.alpha = Z, t, W0, signs, alpha
        self.root_m = np.sqrt(W0.shape[1])
        self.calls = {"gradient": 0, "hessian": 0}

    def loss_and_gradient(self, W):
        self.calls["gradient"] += 1
        E = np.exp(self.Z @ W)
        residual = E @ self.a / self.root_m - self.t
        gradient = (self.Z * residual[:, None]).T @ E * self.a / self.root_m
        step = W - self.W0
        loss = 0.5 * residual @ residual + 0.5 * self.alpha * np.sum(step * step)
        return loss, gradient + self.alpha * step

    def hessian_dot(self, W, U, gauss_newton=False):
        """``H U``: column r gets ``X^T [E o (c 1^T + residual o P)]`` a_r / sqrt(m)
        with ``P = X U`` and ``c = (E o P) a / sqrt(m)`` (without the residual
        term for Gauss-Newton)."""
        self.calls["hessian"] += 1
        E = np.exp(self.Z @ W)
        P = self.Z @ U
        coefficients = np.broadcast_to(
            ((E * P) @ self.a / self.root_m)[:, None], E.shape
        )
        if not gauss_newton:
            residual = E @ self.a / self.root_m - self.t
            coefficients = coefficients + residual[:, None] * P
        return self.Z.T @ (E * coefficients) * self.a / self.root_m + self.alpha * U


def california_problem(alpha):
    found = load_panel(["california"])
    if not found:
        return None
    _, X, y, preprocess, [(train, test)] = found[0]
    preprocess = clone(preprocess).fit(X.iloc[train])
    X_train = preprocess.transform(X.iloc[train])
    X_test = preprocess.transform(X.iloc[test])
    # One step only: the input and target maps, W(0) and the signs.
    model = ExponentialRegressor(alpha=alpha, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y[train])
    Z = np.ascontiguousarray(network_inputs(model, X_train))
    t = (y[train] - model.target_mean_) / model.target_scale_
    problem = Problem(Z, t, model.initial_weights_, model.output_signs_, alpha)

    def test_r2(W):
        model.weights_ = W
        return r2_score(y[test], model.predict(X_test))

    return problem, test_r2


def run(problem, test_r2, method, product, max_iter, target, hessian_cost):
    shape = problem.W0.shape
    problem.calls.update(gradient=0, hessian=0)
    reached = {}

    def fun(flat):
        loss, gradient = problem.loss_and_gradient(flat.reshape(shape))
        if not reached and loss <= target:
            reached.update(problem.calls, r2=test_r2(flat.reshape(shape)))
        return loss, gradient.ravel()

    def hessp(flat, direction):
        return problem.hessian_dot(
            flat.reshape(shape),
            direction.reshape(shape),
            gauss_newton=product == "gauss-newton",
        ).ravel()

    options = {"maxiter": max_iter, "gtol": 1e-10}
    if method == "Newton-CG":
        options = {"maxiter": max_iter, "xtol": 1e-12}
    if method == "L-BFGS-B":
        options, hessp = {"maxiter": max_iter, "ftol": 0.0, "gtol": 1e-10}, None
    start = time.perf_counter()
    result = minimize(
        fun, problem.W0.ravel(), jac=True, hessp=hessp, method=method, options=options
    )
    seconds = time.perf_counter() - start
    work = problem.calls["gradient"] + hessian_cost * problem.calls["hessian"]
    if reached:
        at_target = reached["gradient"] + hessian_cost * reached["hessian"]
        shown = f"{at_target:>10.0f} {reached['r2']:>9.3f}"
    else:
        shown = f"{'>' + format(work, '.0f'):>10} {'-':>9}"
    print(
        f"{method + ' (' + product + ')':<28} {shown} {result.nit:>6} "
        f"{problem.calls['gradient']:>6} {problem.calls['hessian']:>7} "
        f"{seconds:>7.1f} {test_r2(result.x.reshape(shape)):>8.3f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--alpha", type=float, default=ALPHA)
    parser.add_argument("--reference-iter", type=int, default=20_000)
    args = parser.parse_args()
    found = california_problem(args.alpha)
    if found is None:
        print("California housing not found in ../shared/data: skipped.")
        return
    problem, test_r2 = found
    W0 = problem.W0
    U = np.random.RandomState(0).normal(size=W0.shape)
    gradient_seconds = median_seconds(lambda: problem.loss_and_gradient(W0), 5)
    hessian_seconds = median_seconds(lambda: problem.hessian_dot(W0, U), 5)
    hessian_cost = hessian_seconds / gradient_seconds

    shape = W0.shape
    problem.calls.update(gradient=0, hessian=0)
    reference = minimize(
        lambda flat: tuple(
            v.ravel() if i else v
            for i, v in enumerate(problem.loss_and_gradient(flat.reshape(shape)))
        ),
        W0.ravel(),
        jac=True,
        method="L-BFGS-B",
        options={
            "maxiter": args.reference_iter,
            "maxfun": 2 * args.reference_iter,
            "ftol": 0.0,
            "gtol": 1e-10,
        },
    )
    initial = problem.loss_and_gradient(W0)[0]
    best = reference.fun
    target = best + 1e-3 * (initial - best)
    print(
        f"California, n={len(problem.t)}, {shape[0]} inputs, {shape[1]} neurons, "
        f"alpha={args.alpha:g}: L(0)={initial:.6g}, L*={best:.6g} "
        f"(L-BFGS, {reference.nit} iterations); a Hessian product costs "
        f"{hessian_cost:.2f} loss-and-gradient evaluations"
    )
    print(
        f"{'method':<28} {'to target':>10} {'R2 there':>9} {'iters':>6} "
        f"{'grads':>6} {'H dots':>7} {'seconds':>7} {'final R2':>8}"
    )
    run(problem, test_r2, "L-BFGS-B", "no products", 4 * args.max_iter * 5, target, 0)
    for method, product in METHODS:
        run(problem, test_r2, method, product, args.max_iter, target, hessian_cost)


if __name__ == "__main__":
    main()
