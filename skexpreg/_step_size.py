"""The step size of gradient descent from the tangent kernel's spectrum.

``learning_rate="auto"`` takes ``eta = 1 / (lambda_max(H(W(0))) + alpha)``,
with ``lambda_max`` the largest eigenvalue of the sample-weighted empirical
neural tangent kernel of the rows the network sees, and while training a
warm-started power iteration re-estimates ``lambda_max`` so that the step
shrinks if the kernel grows. The kernel products come from the row source
(:mod:`skexpreg._rows`), so this works on every backend; the eigensolvers
(scipy) run on the host.
"""

import math

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import ArpackError, LinearOperator, eigsh
from sklearn.utils import check_random_state

from skexpreg import _array_api, _network
from skexpreg._blocks import BlockRunner
from skexpreg.ntk import _DENSE_MAX_SAMPLES, _weighted_kernel_matrix

# Above this many rows the first estimate of lambda_max comes from a random
# subsample of this size.
MAX_KERNEL_ROWS = 20_000
# For a stochastic solver, which re-estimates the curvature every 100 steps,
# the subsample has at most this many rows: on 20,000 rows, re-estimating
# once an epoch doubled an epoch of diamonds (43,152 rows, 24 to 50 ms).
STOCHASTIC_KERNEL_ROWS = 4_096


def learning_rate_schedule(
    learning_rate, rows, weights, alpha, random_state, warm_bound=None, batch_size=None
):
    """Initial step and, for ``"auto"``, a bound that follows the curvature.

    Returns ``(eta, step_bound)``: ``step_bound(W)`` is the largest stable
    step at ``W`` (None for a float ``learning_rate``), and
    ``step_bound.vector`` and ``step_bound.value`` its latest estimates of
    the kernel's top eigenvector and eigenvalue. Given ``warm_bound``, such
    a bound of a fit that ended at ``weights`` (as on the alpha path), the
    first ``lambda_max`` comes from a few power iterations started at its
    vector instead of a Lanczos run from a random start; both are lower
    bounds of ``lambda_max``, and the larger is taken.

    With ``batch_size`` under the number of rows (a stochastic solver), the
    step is :func:`batch_step` of the same ``lambda_max`` and the largest
    weighted diagonal entry of the kernel (from the same rows, or a sample
    of at most ``STOCHASTIC_KERNEL_ROWS``), and the bound is a
    :class:`BatchCurvatureBound`.
    """
    if learning_rate != "auto":
        return float(learning_rate), None
    kernel = WeightSpaceNTK(rows)
    stochastic = batch_size is not None and batch_size < rows.n_distinct()
    sample, ratio = rows, 1.0
    sample_rows = STOCHASTIC_KERNEL_ROWS if stochastic else MAX_KERNEL_ROWS
    if warm_bound is not None:
        largest, vector = kernel.refine_largest_eigenpair(
            weights, warm_bound.vector, n_steps=WARM_POWER_STEPS
        )
        largest = max(largest, warm_bound.value)
    elif rows.total_weight() > sample_rows:
        # The kernel of a random subsample, scaled by the ratio of weights,
        # has about the same largest eigenvalue (a sum over rows) at a
        # fraction of the cost; the full-data bound below corrects it. The
        # sample is in this process: its Lanczos run makes 11 to 16 passes,
        # each a round trip on a cluster.
        sample = rows.random_rows(sample_rows, random_state).in_memory()
        with sample:
            largest, vector = WeightSpaceNTK(sample).largest_eigenpair(
                weights, random_state
            )
            ratio = rows.total_weight() / sample.total_weight()
            largest *= ratio
    else:
        largest, vector = kernel.largest_eigenpair(weights, random_state)
    _check_curvature(largest)
    if stochastic:
        bound = BatchCurvatureBound(
            WeightSpaceNTK(sample),
            vector,
            largest,
            alpha,
            ratio,
            rows.n_distinct(),
            batch_size,
        )
        return bound.step(weights), bound
    bound = CurvatureBound(kernel, vector, largest, alpha)
    return _inverse_curvature(largest + alpha), bound


def batch_step(largest, diagonal, alpha, n_samples, batch_size):
    """The step of stochastic gradient descent on batches of ``batch_size`` rows.

    ``1 / (L_b + alpha)`` with the expected smoothness of the batch gradient
    (``b``-nice sampling: Gower et al., "SGD: General Analysis and Improved
    Rates", ICML 2019, Proposition 3.8) in the summed loss of ``n`` rows,

        L_b = n (b - 1) / (b (n - 1)) lambda_max + n (n - b) / (b (n - 1)) beta,

    ``lambda_max`` the largest eigenvalue of the (weighted) tangent kernel
    and ``beta = max_i s_i H_ii`` its largest diagonal entry, the curvature
    of one row's loss. A batch of all rows takes the full-batch step
    ``1 / (lambda_max + alpha)``; a batch of one row ``1 / (n beta +
    alpha)``. The step grows with the batch until ``b`` is about ``n beta /
    lambda_max`` (the critical batch size), beyond which it can grow no more
    than twice. Rows here are distinct rows: copies of a row are drawn
    together and count as one row of their summed weight.
    """
    # The rows are cut into ceil(n / batch_size) batches of nearly equal
    # size (Rows.batches): the smallest has b rows.
    n = n_samples
    b = n // -(-n // min(batch_size, n))
    if n == 1:
        return _inverse_curvature(largest + alpha)
    smoothness = n * (b - 1) / (b * (n - 1)) * largest
    smoothness += n * (n - b) / (b * (n - 1)) * diagonal
    return _inverse_curvature(smoothness + alpha)


# Lanczos vectors of the eigsh run (scipy's default for one eigenvalue is 20,
# which costs at least 20 kernel products; the top eigenvalue is well
# separated, and with 10 the runs measured took 11-16 products and found the
# same lambda_max to 2e-5).
LANCZOS_VECTORS = 10

# Power iterations that refine a warm-started estimate of the top eigenvector
# for a new fit (the bound refines its own with 2 at a time).
WARM_POWER_STEPS = 3


class CurvatureBound:
    """``bound(W)``: ``1 / (lambda_max(W) + alpha)``, with ``lambda_max``
    (``value``) from power iteration started at the last estimate of the top
    eigenvector (``vector``)."""

    def __init__(self, kernel, vector, value, alpha):
        self.kernel, self.vector, self.value = kernel, vector, value
        self.alpha = alpha

    def __call__(self, weights):
        self.value, self.vector = self.kernel.refine_largest_eigenpair(
            weights, self.vector
        )
        _check_curvature(self.value)
        return _inverse_curvature(self.value + self.alpha)


class BatchCurvatureBound(CurvatureBound):
    """``bound(W)``: the :func:`batch_step` at ``W`` for batches of
    ``batch_size`` of ``n_samples`` rows, from ``lambda_max`` (power
    iteration, as for :class:`CurvatureBound`) and the largest diagonal
    entry of the kernel.

    On large data the kernel is that of a random subsample, with
    ``lambda_max`` scaled by ``ratio`` (the rows' total weight over the
    sample's); ``value`` is the estimate for all the rows.
    """

    def __init__(self, kernel, vector, value, alpha, ratio, n_samples, batch_size):
        super().__init__(kernel, vector, value, alpha)
        self.ratio, self.n_samples, self.batch_size = ratio, n_samples, batch_size

    def step(self, weights):
        """The step at ``weights`` for the current ``value``."""
        diagonal = self.kernel.rows.largest_kernel_diagonal(weights)
        _check_curvature(diagonal)
        return batch_step(
            self.value, diagonal, self.alpha, self.n_samples, self.batch_size
        )

    def __call__(self, weights):
        value, self.vector = self.kernel.refine_largest_eigenpair(weights, self.vector)
        self.value = value * self.ratio
        _check_curvature(self.value)
        return self.step(weights)


def _check_curvature(largest):
    if not np.isfinite(largest):
        raise ValueError(
            "The largest eigenvalue of the neural tangent kernel is not "
            "finite, so learning_rate='auto' cannot choose a step; rescale "
            "the inputs or pass a float learning_rate."
        )


def _inverse_curvature(curvature):
    # Zero curvature means X = 0 and nothing to learn: any step will do.
    return 1.0 / curvature if curvature > 0 else 1.0


class WeightSpaceNTK:
    """The weighted NTK of a row source, as an operator in weight space.

    ``Phi^T S Phi`` (a (d m) x (d m) operator on (d, m) matrices) has the
    nonzero spectrum of the weighted empirical NTK ``S^(1/2) H(W) S^(1/2)``,
    costs one pass over the rows per product, and its vectors have a length
    that does not depend on the number of rows. Weights and vectors are in
    the namespace of the rows; for up to 1000 rows the kernel matrix is
    formed on the host from a copy of the rows.
    """

    def __init__(self, rows):
        self.rows = rows

    def dot(self, weights, direction):
        return self.rows.weight_space_dot(weights, direction)

    def largest_eigenpair(self, weights, random_state, tol=1e-3):
        """``(lambda_max, unit (d, m) eigenvector)`` at ``weights``.

        Exact (dense) up to 1000 rows, mapping the kernel's top eigenvector
        ``v`` to weight space as ``Phi^T S^(1/2) v``; Lanczos above.
        """
        shape = weights.shape
        to_numpy = _array_api.to_numpy
        if self.rows.n_samples <= _DENSE_MAX_SAMPLES:
            X, _, sample_weight = self.rows.gather()
            s = self.rows.scale
            host_weights = to_numpy(weights) / s
            kernel = _weighted_kernel_matrix(X / s, to_numpy(weights), sample_weight)
            last = len(kernel) - 1
            values, vectors = linalg.eigh(kernel, subset_by_index=[last, last])
            vector = _network.ntk_features_transpose_dot(
                X,
                host_weights.astype(X.dtype, copy=False),
                vectors[:, 0],
                BlockRunner(),
                sample_weight=sample_weight,
            )
            vector = _like_weights(np.asarray(vector, np.float64) / s, weights)
            return float(values[0]), _unit(vector)

        def matvec(u):
            u = _array_api.from_numpy_like(np.reshape(u, shape), weights, copy=False)
            return to_numpy(self.dot(weights, u)).ravel().astype(np.float64)

        size = shape[0] * shape[1]
        if size <= 64:  # too small for Lanczos: form the dm x dm matrix instead
            gram = np.column_stack([matvec(column) for column in np.eye(size)])
            values, vectors = linalg.eigh((gram + gram.T) / 2)
            vector = vectors[:, -1].reshape(shape)
            return float(values[-1]), _unit(_like_weights(vector, weights))
        operator = LinearOperator((size, size), matvec=matvec, dtype=np.float64)
        v0 = check_random_state(random_state).uniform(-1, 1, size=size)
        try:
            values, vectors = eigsh(
                operator, k=1, which="LA", tol=tol, v0=v0, ncv=LANCZOS_VECTORS
            )
        except ArpackError:
            # ARPACK finds no start vector when the kernel is 0: every row
            # the network sees is 0 (e.g. all features clipped to 0).
            if np.any(matvec(v0)):
                raise
            return 0.0, _unit(_like_weights(v0.reshape(shape), weights))
        vector = vectors[:, 0].reshape(shape)
        return float(values[0]), _unit(_like_weights(vector, weights))

    def refine_largest_eigenpair(self, weights, vector, n_steps=2):
        """Power iteration warm-started at ``vector``: ``(Rayleigh quotient, u)``.

        The Rayleigh quotient is a lower bound of ``lambda_max`` that is close
        to it when ``vector`` is close to the top eigenvector, as it is when
        the weights have moved little since ``vector`` was computed.
        """
        vector = _unit(_array_api.astype_like(vector, weights))
        value = 0.0
        for _ in range(n_steps):
            product = self.dot(weights, vector)
            value = _array_api.inner(vector, product)
            vector = _unit(product)
        return value, vector


def _unit(vector):
    norm = math.sqrt(_array_api.inner(vector, vector))
    return vector / norm if norm > 0 else vector


def _like_weights(vector, weights):
    """A float64 numpy eigenvector, moved to the namespace of ``weights``.

    numpy vectors stay float64; others take the dtype and device of
    ``weights``.
    """
    if isinstance(weights, np.ndarray):
        return vector
    return _array_api.from_numpy_like(vector, weights)
