"""The scikit-learn estimator: validation and orchestration only.

The mathematics lives in :mod:`skexpreg._model`, the optimisation loop in
:mod:`skexpreg._solvers` and the kernel spectra in :mod:`skexpreg.ntk`.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import row_norms
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from skexpreg import _array_api, _dask, _model, _solvers
from skexpreg.exceptions import DivergenceWarning
from skexpreg.ntk import _WeightSpaceNTK

try:  # scikit-learn >= 1.9
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # older versions: no callback API, nothing to support

    class CallbackSupportMixin:
        """Stands in for scikit-learn's callback support where it is absent."""


class ExponentialRegressor(CallbackSupportMixin, RegressorMixin, BaseEstimator):
    """Over-parameterised exponential regression trained by gradient descent.

    The two-layer network of Gao, Mahadevan and Song (2023),

    .. math::

        F(W, x) = \\frac{1}{\\sqrt{m}} \\sum_{r=1}^{m} a_r \\exp(\\langle w_r,
        x \\rangle),

    with output signs :math:`a_r \\in \\{-1, +1\\}` drawn once and never
    trained, hidden weights :math:`w_r(0) \\sim N(0, I_d)`, and full-batch
    gradient descent :math:`W(t+1) = W(t) - \\eta \\nabla L(W(t))` on

    .. math::

        L(W) = \\frac{1}{2} \\sum_i s_i (F(W, x_i) - y_i)^2
        + \\frac{\\alpha}{2} \\|W - W(0)\\|_F^2 .

    The default solver adds Nesterov momentum with restarts to this
    iteration (``solver="gd"`` is the paper's plain gradient descent).
    Rows are processed in blocks (never the full n x m activation matrix),
    optionally on several threads; overflow of the exponential is detected
    in fit (the step is halved) and guarded in predict.

    The estimator supports the array API: with scikit-learn's
    ``array_api_dispatch`` on (``sklearn.set_config(array_api_dispatch=True)``,
    which needs scipy >= 1.14 and the environment variable
    ``SCIPY_ARRAY_API=1``), ``fit`` and ``predict`` run in the namespace and
    on the device of ``X`` (for example PyTorch or CuPy arrays on a GPU).
    ``y`` and ``sample_weight`` are moved there, the fitted arrays live there
    and ``predict`` returns arrays of that namespace; inputs of another
    namespace or device are refused. :math:`W(0)` is drawn on the host by the
    same random generator as for numpy input, so a fit on the CPU agrees with
    the numpy fit to round-off. On devices without float64 everything,
    scalings included, is computed in float32, with the same overflow guards.
    ``solver="lbfgs"`` runs scipy's L-BFGS on the host (the weights are
    copied to the device for every evaluation), and ``learning_rate="auto"``
    computes the kernel products on the device and the eigenvalue on the
    host. Sparse input always takes the numpy path.

    Parameters
    ----------
    n_neurons : int, default=128
        Number of hidden neurons, the paper's :math:`m`. Cost is linear in
        it; held-out accuracy on the benchmark data was flat from 128 to 2048
        (see the documentation's page on defaults).

    learning_rate : float or "auto", default="auto"
        Gradient-descent step size :math:`\\eta`. ``"auto"`` uses
        :math:`\\eta = 1 / (\\lambda_{\\max}(H(W(0))) + \\alpha)`, with
        :math:`\\lambda_{\\max}` the largest eigenvalue of the (sample-weighted)
        empirical neural tangent kernel at initialisation: exact for up to
        1000 samples, otherwise a few Lanczos iterations on kernel-vector
        products (see :func:`skexpreg.ntk.ntk_eigenvalues`). A step that makes
        the loss rise or overflow is halved and retried.

    max_iter : int, default=1000
        Maximum number of gradient-descent steps :math:`T`.

    tol : float, default=1e-6
        Stop when the relative decrease of the loss in one step,
        :math:`(L(W(t)) - L(W(t+1))) / L(W(t))`, falls below ``tol``. With
        ``tol=0`` only ``max_iter`` stops the iteration.

    alpha : float, default=0.3
        Ridge penalty toward the initial weights, :math:`\\frac{\\alpha}{2}
        \\|W - W(0)\\|_F^2`, on the same scale as the summed squared error
        (as in :class:`~sklearn.linear_model.Ridge`). ``0`` is the paper's
        plain gradient descent, which interpolates label noise when run to
        convergence. In the lazy regime the fit approaches kernel ridge
        regression with the NTK and ridge :math:`\\alpha`.

    input_scaling : {"standard", "max_norm"}, float or None, \
            default="standard"
        How inputs are mapped before the network sees them, always by an
        affine map fitted on the training rows (those with positive weight).
        ``"max_norm"`` divides by the largest training row norm, so that the
        training rows lie in the unit ball as the theory assumes.
        ``"standard"`` first standardises each feature (weighted mean and
        standard deviation; sparse input is only scaled, not centred) and then
        divides by the largest row norm, so the rows again lie in the unit
        ball; it makes the model independent of the features' units. A float
        divides by that number; ``None`` uses the inputs as given (the
        paper's setting).

    target_scaling : bool, default=True
        Standardise the targets (weighted mean and standard deviation)
        before fitting; predictions are mapped back. ``False`` fits the raw
        targets, as in the paper.

    init : {"paired", "gaussian"}, default="paired"
        How :math:`W(0)` and the signs :math:`a_r` are drawn. ``"gaussian"``
        is the paper's: every :math:`w_r(0) \\sim N(0, I_d)` and
        :math:`a_r = \\pm 1` independently, so the initial network is a random
        function of order one. ``"paired"`` draws half the neurons that way
        and gives each a twin with the same :math:`w_r(0)` and the opposite
        sign, so that :math:`F(W(0), x) = 0` exactly (for odd ``n_neurons`` up
        to one unpaired neuron) while the signs stay balanced; the NTK at
        initialisation is that of ``n_neurons / 2`` Gaussian neurons.

    solver : {"gd", "nesterov", "lbfgs"}, default="nesterov"
        ``"gd"`` is the paper's full-batch gradient descent with step
        ``learning_rate``. ``"nesterov"`` adds Nesterov momentum with a
        restart whenever the loss rises (same step, same safety net; the
        recorded loss still falls monotonically). ``"lbfgs"`` minimises the
        same loss with :func:`scipy.optimize.minimize` (L-BFGS-B);
        ``learning_rate`` is then unused. The faster solvers need far fewer
        gradient evaluations (4 to 8 times fewer for ``"nesterov"`` with the
        default parameters on the benchmark data, at the same accuracy) but
        are not covered by the paper's theorem.

    warm_start : bool, default=False
        When True and the model is fitted, ``fit`` continues from the current
        weights instead of drawing new ones: the input and target scaling,
        :math:`W(0)` (the anchor of the ridge term) and the signs are kept,
        ``loss_curve_`` (and ``validation_scores_``) continue, and ``n_iter_``
        counts the steps of all calls together. ``learning_rate="auto"``
        recomputes the step at the current weights; Nesterov momentum starts
        afresh.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows (a random split
        from ``random_state``), record the validation R² after every step in
        ``validation_scores_``, stop when it has not improved by at least
        ``tol`` for ``n_iter_no_change`` consecutive steps, and keep the
        weights with the best validation score.

    validation_fraction : float, default=0.1
        Fraction of the rows held out for early stopping, in (0, 1).

    n_iter_no_change : int, default=10
        Patience of early stopping, in steps.

    n_jobs : int, default=None
        Number of threads for the row-blocked computations. ``None`` means 1
        unless in a :func:`joblib.parallel_config` context; ``-1`` means all
        cores. Results do not depend on it beyond floating-point round-off.
        Only used for numpy input: other array API namespaces compute each
        block with their own parallelism.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights :math:`W(0)`, the signs :math:`a_r` and the
        Lanczos start vector. Pass an int for reproducible fits.

    verbose : int, default=0
        ``1`` prints about ten progress lines per fit (iteration, loss, step
        size, validation R² with ``early_stopping``, elapsed time), ``2`` one
        per step.

    Attributes
    ----------
    weights_ : ndarray of shape (n_features, n_neurons)
        The trained hidden weights :math:`W(T)` (with ``early_stopping``, those
        with the best validation score), one column :math:`w_r` per neuron,
        acting on the scaled inputs
        ``(X - input_offset_) / input_scale_``.

    initial_weights_ : ndarray of shape (n_features, n_neurons)
        The initial hidden weights :math:`W(0)`.

    output_signs_ : ndarray of shape (n_neurons,) or (n_neurons, n_outputs)
        The fixed output weights :math:`a_r \\in \\{-1, +1\\}`; one column per
        target when ``y`` is 2-D.

    learning_rate_ : float or None
        The step size :math:`\\eta` used by the last accepted step (smaller
        than the initial one if the loss rose and the step was halved);
        ``None`` for ``solver="lbfgs"``.

    n_iter_ : int
        Number of accepted gradient-descent steps :math:`T` (L-BFGS
        iterations for ``solver="lbfgs"``).

    loss_curve_ : list of float
        The minimised loss :math:`L(W(t))` after each step ``t = 1..n_iter_``,
        on the scaled targets and including the ridge term.

    initial_loss_ : float
        :math:`L(W(0))`.

    n_evaluations_ : int
        Number of loss-and-gradient evaluations (passes over the data),
        including the one at :math:`W(0)` and rejected steps.

    n_step_reductions_ : int
        How many times the step was halved because the loss rose or
        overflowed.

    validation_scores_ : list of float or None
        With ``early_stopping``, the validation R² after every step (one entry
        per step, ``len(validation_scores_) == n_iter_`` for a single fit);
        otherwise None.

    best_validation_score_ : float or None
        The best validation score of the last call to ``fit``: the score of
        ``weights_`` on its validation split (None without
        ``early_stopping``).

    input_offset_ : ndarray of shape (n_features,)
        Subtracted from the inputs before scaling (zero unless
        ``input_scaling="standard"`` on dense input).

    input_scale_ : ndarray of shape (n_features,)
        The network sees ``(X - input_offset_) / input_scale_``: one divisor
        per feature (all equal unless ``input_scaling="standard"``).

    target_mean_ : ndarray of shape (n_outputs,)
        Subtracted from the targets (0 without ``target_scaling``).

    target_scale_ : ndarray of shape (n_outputs,)
        The targets were divided by this (1 without ``target_scaling``).

    n_outputs_ : int
        Number of targets.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : Multi-layer perceptron regressor.
    sklearn.kernel_ridge.KernelRidge : Kernel ridge regression, the limit of
        this model for wide networks with ``alpha > 0``.
    skexpreg.ntk : The neural tangent kernels of this network.

    References
    ----------
    Yeqi Gao, Sridhar Mahadevan and Zhao Song. "An Over-parameterized
    Exponential Regression." arXiv:2303.16504, 2023.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.model_selection import train_test_split
    >>> from skexpreg import ExponentialRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> model = ExponentialRegressor(random_state=0).fit(X_train, y_train)
    >>> model.predict(X_test[:2]).shape
    (2,)
    >>> bool(model.score(X_test, y_test) > 0.3)
    True
    """

    _parameter_constraints: dict = {
        "n_neurons": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "input_scaling": [
            StrOptions({"max_norm", "standard"}),
            Interval(Real, 0, None, closed="neither"),
            None,
        ],
        "target_scaling": ["boolean"],
        "init": [StrOptions({"gaussian", "paired"})],
        "solver": [StrOptions({"gd", "nesterov", "lbfgs"})],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_neurons=128,
        *,
        learning_rate="auto",
        max_iter=1000,
        tol=1e-6,
        alpha=0.3,
        input_scaling="standard",
        target_scaling=True,
        init="paired",
        solver="nesterov",
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_neurons = n_neurons
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.alpha = alpha
        self.input_scaling = input_scaling
        self.target_scaling = target_scaling
        self.init = init
        self.solver = solver
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network by full-batch gradient descent.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
                (n_samples, n_features)
            Training inputs. float32 input is computed in float32, everything
            else in float64 (float32 on devices without float64). With array
            API dispatch on, an array of any array API namespace: the fit
            runs in its namespace and on its device. A dask array or
            dataframe is fitted on its cluster, one task per row chunk and
            step, with the same result as in memory (see the documentation's
            "Scaling out" page).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; moved to the namespace and device of ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights :math:`s_i` of the squared errors; integer
            weights are equivalent to repeating rows. Moved to the namespace
            and device of ``X``.

        Returns
        -------
        self : ExponentialRegressor
            The fitted estimator.
        """
        settings = _Settings(
            warm=bool(self.warm_start) and hasattr(self, "weights_"),
            max_iter=self.max_iter,
            tol=self.tol,
            solver=self.solver,
            learning_rate=self.learning_rate,
            early_stopping=self.early_stopping,
            method="fit",
        )
        return self._fit(X, y, sample_weight, settings)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One full-batch gradient-descent step on the given rows.

        The first call initialises the model from its rows (input and target
        scaling, :math:`W(0)`, the signs and, for ``learning_rate="auto"``,
        the step from the kernel at :math:`W(0)`); every call then takes
        exactly one plain gradient step (whatever ``solver`` says) on the
        rows it is given, with the step found by the first call (halved if
        the loss rises), and appends its loss to ``loss_curve_``. Use it to
        stream blocks of data (for example with dask-ml's ``Incremental``);
        note that the paper's guarantee covers full-batch gradient descent on
        all the data only, not steps on changing blocks.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
                (n_samples, n_features)
            A block of training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Its sample weights.

        Returns
        -------
        self : ExponentialRegressor
            The updated estimator.
        """
        fitted = hasattr(self, "weights_")
        settings = _Settings(
            warm=fitted,
            max_iter=1,
            tol=0.0,
            solver="gd",
            learning_rate=(
                self.learning_rate_
                if fitted and self.learning_rate_ is not None
                else self.learning_rate
            ),
            early_stopping=False,
            method="partial_fit",
        )
        return self._fit(X, y, sample_weight, settings)

    def _fit(self, X, y, sample_weight, settings):
        warm = settings.warm
        on_dask = _dask.any_dask(X, y, sample_weight)
        if on_dask:
            if not _dask.is_dask_collection(X):
                raise TypeError(
                    "y or sample_weight is a dask collection but X is not; pass "
                    "X as a dask array (or dask dataframe) too."
                )
            X, Y, sample_weight, y_ndim = _dask.validate_fit(
                self,
                X,
                y,
                sample_weight,
                reset=not warm,
                dtype=self.weights_.dtype if warm else None,
            )
        else:
            X, Y, sample_weight, y_ndim = self._validate_fit_data(
                X, y, sample_weight, settings
            )
        dtype = X.dtype
        xp, device = (np, None) if on_dask else _array_api.namespace_and_device(X)
        if warm and Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} output(s) but the fitted model has "
                f"{self.n_outputs_}; warm_start=True continues the same model."
            )

        random_state = check_random_state(self.random_state)
        validation = None
        if settings.early_stopping:
            X, X_val, Y, Y_val, sample_weight, weight_val = (
                _dask.split if on_dask else _split
            )(
                X,
                Y,
                sample_weight,
                test_size=self.validation_fraction,
                random_state=random_state,
            )
            validation = (X_val, Y_val, weight_val)

        X_raw, weight_raw = X, sample_weight
        y_raw = Y if validation is not None or y_ndim == 2 else Y[:, 0]
        if warm:
            X, input_scale = self._transform_inputs(X)
            initial_weights = self.initial_weights_
            signs = _reshape(self.output_signs_, (self.n_neurons, -1))
            start = self.weights_
        else:
            self.n_outputs_ = Y.shape[1]
            X, input_scale = self._fit_input_transform(X, sample_weight)
            self.target_mean_, self.target_scale_ = self._target_moments(
                Y, sample_weight
            )
            # Drawn by numpy whatever the namespace, so that a fit on a device
            # starts where the numpy fit starts.
            initial_weights, signs = _model.initial_parameters(
                X.shape[1],
                self.n_neurons,
                self.n_outputs_,
                random_state,
                _array_api.numpy_dtype(dtype),
                paired=self.init == "paired",
            )
            if xp is not np:
                initial_weights = xp.asarray(initial_weights, device=device)
                signs = xp.asarray(signs, device=device)
            start = initial_weights
        Y = self._scale_targets(Y)
        alpha = float(self.alpha)
        rows = _dask.Rows(X, Y, sample_weight) if on_dask else None

        with self._block_runner(xp) as runner:

            def objective(weights):
                if rows is not None:
                    loss, gradient = rows.loss_and_gradient(weights, signs, input_scale)
                else:
                    loss, gradient = _model.loss_and_gradient(
                        X, Y, sample_weight, weights, signs, input_scale, runner
                    )
                if alpha > 0:
                    displacement = weights - initial_weights
                    loss += 0.5 * alpha * _array_api.inner(displacement, displacement)
                    gradient += _array_api.scalar(alpha, gradient) * displacement
                return loss, gradient

            monitor = None
            if validation is not None:
                monitor = (_DaskValidationMonitor if on_dask else _ValidationMonitor)(
                    self, validation, signs, runner, patience=self.n_iter_no_change
                )
            bridge = _CallbackBridge.start(
                self, settings.max_iter, X_raw, y_raw, weight_raw, signs, y_ndim
            )
            progress = monitor.describe if monitor is not None else None
            callback = _either(monitor, bridge)
            initial = objective(start)
            self._check_initial_loss(initial[0], X, Y, input_scale)
            if settings.solver in ("gd", "nesterov"):
                learning_rate, step_bound = self._learning_rate_schedule(
                    settings.learning_rate,
                    X if rows is None else rows,
                    input_scale,
                    start,
                    sample_weight,
                    runner,
                    random_state,
                )
                result = _solvers.gradient_descent(
                    objective,
                    start,
                    learning_rate=learning_rate,
                    max_iter=settings.max_iter,
                    tol=settings.tol,
                    initial=initial,
                    step_bound=step_bound,
                    momentum=settings.solver == "nesterov",
                    callback=callback,
                    progress=progress,
                    verbose=self.verbose,
                )
            else:
                learning_rate = None
                result = _solvers.lbfgs(
                    objective,
                    start,
                    max_iter=settings.max_iter,
                    tol=settings.tol,
                    initial=initial,
                    callback=callback,
                    progress=progress,
                    verbose=self.verbose,
                )

        self.weights_ = result.weights
        if monitor is not None and monitor.best_weights is not None:
            self.weights_ = monitor.best_weights
        self.initial_weights_ = initial_weights
        self.output_signs_ = _array_api.copy(signs[:, 0]) if y_ndim == 1 else signs
        self.learning_rate_ = result.learning_rate
        previous = warm and self.loss_curve_ or []
        self.loss_curve_ = previous + result.loss_curve
        self.n_iter_ = len(self.loss_curve_)
        if not warm:
            self.initial_loss_ = result.initial_loss
            self.n_step_reductions_ = self.n_evaluations_ = 0
        self.n_step_reductions_ += len(result.reductions)
        self.n_evaluations_ += result.n_evaluations + 1  # + the one at the start
        if monitor is not None:
            previous = warm and getattr(self, "validation_scores_", None) or []
            self.validation_scores_ = previous + monitor.scores
            self.best_validation_score_ = monitor.best
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self._warn_about(result, learning_rate, settings)
        if bridge is not None:
            bridge.close()  # after the fitted attributes are in place
        return self

    def _validate_fit_data(self, X, y, sample_weight, settings):
        """Checked in-memory ``(X, Y, sample_weight, y_ndim)``; ``Y`` is (n, k).

        With array API dispatch, ``y`` and ``sample_weight`` move to the
        namespace and device of ``X``.
        """
        warm = settings.warm
        if warm:
            _array_api.check_same_namespace(
                X, self, attribute="weights_", method=settings.method
            )
        xp, device = _array_api.namespace_and_device(X)
        y = _array_api.follow(y, xp, device)
        sample_weight = _array_api.follow(sample_weight, xp, device)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc"),
            dtype=_array_api.float_dtypes(xp, device),
            multi_output=True,
            y_numeric=True,
            reset=not warm,
        )
        if sparse.issparse(X):
            X = X.tocsr()
        dtype = self.weights_.dtype if warm else X.dtype
        if xp is np:
            X = X.astype(dtype, copy=False)
            Y = np.asarray(y, dtype=dtype).reshape(X.shape[0], -1)
        else:
            X = xp.astype(X, dtype, copy=False)
            Y = xp.reshape(xp.astype(y, dtype), (X.shape[0], -1))
        sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
        if _array_api.any_true(sample_weight < 0):
            raise ValueError("sample_weight must be non-negative.")
        if not _array_api.total(sample_weight) > 0:
            raise ValueError("sample_weight must contain at least one positive value.")
        return X, Y, sample_weight, y.ndim

    def _scale_targets(self, Y):
        mean = _array_api.astype_like(self.target_mean_, Y)
        return (Y - mean) / _array_api.astype_like(self.target_scale_, Y)

    def _block_runner(self, xp):
        """numpy: ``n_jobs`` threads; other namespaces: their own parallelism."""
        if xp is np:
            return _model.BlockRunner(effective_n_jobs(self.n_jobs))
        return _model.BlockRunner(1, limit_blas=False)

    def predict(self, X):
        """Predict with the trained network.

        Inputs so far outside the training range that ``exp(<w_r, x>)`` would
        overflow get finite predictions from pre-activations clipped at the
        largest safe value, with a warning naming how many rows were clipped.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
                (n_samples, n_features)
            Inputs; with array API dispatch on, in the namespace and on the
            device of the training inputs (a ``ValueError`` otherwise).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, in the dtype of the fitted weights (float64 when
            either the weights or ``X`` are float64, unless the device has
            no float64), in the namespace and on the device of ``X``. For a
            dask array or dataframe ``X``, a dask array with the same row
            chunks, computed blockwise when asked for.
        """
        if _dask.is_dask_collection(X):
            check_is_fitted(self)
            X = _dask.validate_predict(self, X, self.weights_.dtype)
            return _dask.predict(
                self._predict_chunk,
                X,
                self.n_outputs_,
                one_dimensional=self.output_signs_.ndim == 1,
                dtype=X.dtype,
            )
        return self._predict_seen(*self._seen_inputs(X))

    def _predict_chunk(self, X):
        """Predictions for one chunk of a dask array already checked by predict."""
        X = check_array(X, dtype=X.dtype)
        return self._predict_seen(*self._transform_inputs(X))

    def _predict_seen(self, X, input_scale):
        xp = _namespace(X)
        dtype = X.dtype
        max_z = _model.max_safe_preactivation(
            self.n_neurons, dtype, output_scale=_array_api.largest(self.target_scale_)
        )
        with self._block_runner(xp) as runner:
            outputs, clipped = _model.forward_clipped(
                X,
                _array_api.astype_like(self.weights_, X),
                self.output_signs_,
                input_scale,
                runner,
                max_z,
            )
        n_clipped = _array_api.count_true(clipped)
        if n_clipped:
            warnings.warn(
                f"{n_clipped} of {X.shape[0]} rows are so far outside "
                "the training range that exp(<w_r, x>) overflows "
                f"{_array_api.dtype_name(dtype)}; their pre-activations were "
                f"clipped at {max_z:.1f}, so their predictions are only bounds "
                "of the network's (exponentially growing) output.",
                RuntimeWarning,
            )
        outputs *= _array_api.astype_like(self.target_scale_, outputs)
        outputs += _array_api.astype_like(self.target_mean_, outputs)
        if self.output_signs_.ndim == 1:
            return _reshape(outputs, (-1,))
        return outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.array_api_support = True
        return tags

    def _fit_input_transform(self, X, sample_weight):
        """Fit ``input_offset_`` and ``input_scale_``; return what the model sees.

        Returns ``(X_seen, scale)``: the network sees ``X_seen / scale``. For
        a uniform scale the division is folded into the weights (``X`` is not
        copied); ``"standard"`` returns a standardised copy and ``scale=1``.
        """
        n_features = X.shape[1]
        self.input_offset_ = _moment_full(n_features, 0.0, X)
        if self.input_scaling == "standard":
            offset, spread = _feature_moments(X, sample_weight)
            self.input_offset_ = offset
            X = self._standardize(X, offset, spread)
            norm = _max_row_norm(X, sample_weight > 0)
            X /= _array_api.scalar(norm, X)
            self.input_scale_ = spread * norm
            return X, 1.0
        if self.input_scaling == "max_norm":
            scale = _max_row_norm(X, sample_weight > 0)
        elif self.input_scaling is None:
            scale = 1.0
        else:
            scale = float(self.input_scaling)
        self.input_scale_ = _moment_full(n_features, scale, X)
        return X, scale

    def _seen_inputs(self, X):
        """Validate ``X`` for a fitted model; return ``(X_seen, scale)``.

        The network sees ``X_seen / scale``, in the dtype of the weights or
        float64 if either is float64; sparse input comes back as CSR.
        """
        check_is_fitted(self)
        _array_api.check_same_namespace(X, self, attribute="weights_", method="predict")
        xp, device = _array_api.namespace_and_device(X)
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=_array_api.float_dtypes(xp, device),
            reset=False,
        )
        X = X.tocsr() if sparse.issparse(X) else X
        if _namespace(self.weights_) is not _namespace(X):
            raise ValueError(
                "The model was fitted on arrays of another namespace (with "
                "scikit-learn's array_api_dispatch on): predict with dispatch on "
                "and inputs of that namespace and device."
            )
        if xp is np:
            dtype = np.result_type(X.dtype, self.weights_.dtype)
            return self._transform_inputs(X.astype(dtype, copy=False))
        dtype = xp.result_type(X.dtype, self.weights_.dtype)
        return self._transform_inputs(xp.astype(X, dtype, copy=False))

    def _transform_inputs(self, X):
        """What the fitted network sees: ``(X_seen, scale)`` as above."""
        if self.input_scaling == "standard":
            return self._standardize(X, self.input_offset_, self.input_scale_), 1.0
        return X, float(self.input_scale_[0])

    @staticmethod
    def _standardize(X, offset, spread):
        if sparse.issparse(X):  # scale only: centring would densify
            return (X @ sparse.diags((1 / spread).astype(X.dtype))).tocsr()
        standardized = X - _array_api.astype_like(offset, X)
        standardized /= _array_api.astype_like(spread, X)
        return standardized

    def _target_moments(self, Y, sample_weight):
        n_outputs = Y.shape[1]
        if not self.target_scaling:
            return _moment_full(n_outputs, 0.0, Y), _moment_full(n_outputs, 1.0, Y)
        if _dask.is_dask_collection(Y):
            return _dask.target_moments(Y, sample_weight)
        if not isinstance(Y, np.ndarray):
            return _target_moments_xp(Y, sample_weight)
        Y64 = Y.astype(np.float64)
        magnitude = np.abs(Y64).max(axis=0)
        magnitude[magnitude == 0] = 1.0
        Y64 = Y64 / magnitude  # keeps squares finite for huge targets
        mean = np.average(Y64, axis=0, weights=sample_weight)
        variance = np.average((Y64 - mean) ** 2, axis=0, weights=sample_weight)
        scale = np.sqrt(variance)
        scale[~(scale > 1e-12)] = 1.0  # constant target: only centre it
        return mean * magnitude, scale * magnitude

    def _check_initial_loss(self, loss, X, Y, input_scale):
        if np.isfinite(loss):
            return
        if not np.isfinite(0.5 * _array_api.inner(Y, Y)):
            raise ValueError(
                "The squared targets overflow: the loss is not finite. Use "
                "target_scaling=True (the default) or rescale y."
            )
        raise ValueError(
            "The network overflows at initialisation: exp(<w_r, x>) exceeds the "
            f"largest {_array_api.dtype_name(X.dtype)} for some training rows, so "
            "the loss is not "
            f"finite (input_scaling={self.input_scaling!r}, inputs divided by "
            f"{input_scale:.3g}). The theory assumes ||x|| <= 1: use "
            "input_scaling='max_norm' (the default), a larger input_scaling, or "
            "standardise the features (e.g. StandardScaler in a Pipeline)."
        )

    def _learning_rate_schedule(
        self,
        learning_rate,
        X,
        input_scale,
        weights,
        sample_weight,
        runner,
        random_state,
    ):
        """Initial step and, for ``"auto"``, a bound that follows the curvature.

        ``"auto"``: ``eta = 1 / (lambda_max(H(W)) + alpha)`` at ``W(0)``;
        while training, a warm-started power iteration re-estimates
        ``lambda_max`` so that the step shrinks if the kernel grows.
        """
        if learning_rate != "auto":
            return float(learning_rate), None
        if isinstance(X, _dask.Rows):
            kernel = _dask.WeightSpaceNTK(X, input_scale)
        else:
            kernel = _WeightSpaceNTK(X, sample_weight, runner, input_scale)
        largest, vector = kernel.largest_eigenpair(weights, random_state)
        self._check_curvature(largest)
        state = {"vector": vector}

        def step_bound(current_weights):
            value, state["vector"] = kernel.refine_largest_eigenpair(
                current_weights, state["vector"]
            )
            self._check_curvature(value)
            return _inverse_curvature(value + self.alpha)

        return _inverse_curvature(largest + self.alpha), step_bound

    @staticmethod
    def _check_curvature(largest):
        if not np.isfinite(largest):
            raise ValueError(
                "The largest eigenvalue of the neural tangent kernel is not "
                "finite, so learning_rate='auto' cannot choose a step; rescale "
                "the inputs or pass a float learning_rate."
            )

    def _warn_about(self, result, learning_rate, settings):
        if result.reductions:
            first = result.reductions[0]
            warnings.warn(
                f"Gradient descent diverged with learning_rate={learning_rate:.3g} "
                f"({first.reason} at iteration {first.iteration}); the step was "
                f"halved {len(result.reductions)} time(s), to "
                f"{result.learning_rate:.3g}. Pass a smaller learning_rate or "
                "learning_rate='auto' to avoid wasted steps.",
                DivergenceWarning,
            )
        if result.stalled:
            warnings.warn(
                "Gradient descent stopped: no step, down to learning_rate="
                f"{result.learning_rate:.3g}, decreased the loss after iteration "
                f"{result.n_iter}. The loss may be at round-off level; otherwise "
                "rescale the inputs.",
                ConvergenceWarning,
            )
        elif not (result.converged or result.interrupted or settings.max_iter == 1):
            warnings.warn(
                f"The {settings.solver} solver reached max_iter={settings.max_iter} "
                "before the relative decrease of the loss fell below "
                f"tol={settings.tol}. "
                "Increase max_iter or tol.",
                ConvergenceWarning,
            )


def _max_row_norm(X, rows):
    """Largest Euclidean norm of the ``rows`` (a mask) of ``X``, or 1.0 if 0.

    Row norms are computed for all rows and then masked, so that ``X`` is not
    copied; if the squares overflow, the rows are rescaled first.
    """
    if _dask.is_dask_collection(X):
        return _dask.max_row_norm(X, rows)
    if not (sparse.issparse(X) or isinstance(X, np.ndarray)):
        return _max_row_norm_xp(X, rows)
    with np.errstate(over="ignore"):
        norms = row_norms(X)[rows]
    largest = float(norms.max()) if norms.size else 0.0
    if not np.isfinite(largest):
        selected = X[rows]
        magnitude = float(abs(selected).max())
        largest = magnitude * float(row_norms(selected / magnitude).max())
    return largest if largest > 0 else 1.0


def _feature_moments(X, sample_weight):
    """Weighted mean and standard deviation of each column, in float64.

    Sparse ``X`` gets a zero mean (it is scaled, not centred). Constant
    columns get a standard deviation of 1. Columns are divided by their
    largest absolute value first, so that the squares cannot overflow, and
    dense ``X`` is processed in row chunks, so that no temporary as large as
    ``X`` is made. Arrays of other namespaces get float32 moments on devices
    without float64.
    """
    if _dask.is_dask_collection(X):
        return _dask.feature_moments(X, sample_weight)
    if not (sparse.issparse(X) or isinstance(X, np.ndarray)):
        return _feature_moments_xp(X, sample_weight)
    if sparse.issparse(X):
        magnitude = abs(X).max(axis=0).toarray().ravel().astype(np.float64)
        magnitude[~(magnitude > 0)] = 1.0
        X = X @ sparse.diags(1 / magnitude)
        _, variance = mean_variance_axis(X.tocsr(), axis=0, weights=sample_weight)
        mean = np.zeros(X.shape[1])
    else:
        magnitude = np.maximum(X.max(axis=0), -X.min(axis=0)).astype(np.float64)
        magnitude[~(magnitude > 0)] = 1.0
        chunks = _model.row_blocks(X.shape[0], X.shape[1], np.float64)
        total = float(np.sum(sample_weight, dtype=np.float64))
        mean = sum(sample_weight[rows] @ (X[rows] / magnitude) for rows in chunks)
        mean /= total
        variance = sum(
            sample_weight[rows] @ ((X[rows] / magnitude - mean) ** 2) for rows in chunks
        )
        variance /= total
    spread = np.sqrt(np.asarray(variance, dtype=np.float64))
    spread[~(spread > 0)] = 1.0
    return mean * magnitude, spread * magnitude


def _max_row_norm_xp(X, rows):
    """:func:`_max_row_norm` for arrays of another namespace."""
    xp = _array_api.namespace_of(X)

    def largest_norm(A):
        norms = xp.sqrt(xp.sum(A * A, axis=1))
        return float(xp.max(xp.where(rows, norms, xp.zeros_like(norms))))

    with np.errstate(over="ignore"):  # array-api-strict computes with numpy
        largest = largest_norm(X)
        if not np.isfinite(largest):
            magnitude = float(
                xp.max(xp.where(rows[:, None], xp.abs(X), xp.zeros_like(X)))
            )
            largest = magnitude * largest_norm(X / magnitude)
    return largest if largest > 0 else 1.0


def _feature_moments_xp(X, sample_weight):
    """:func:`_feature_moments` for arrays of another namespace (dense)."""
    xp = _array_api.namespace_of(X)
    dtype = _moment_dtype(X)
    magnitude = xp.astype(xp.maximum(xp.max(X, axis=0), -xp.min(X, axis=0)), dtype)
    magnitude = xp.where(magnitude > 0, magnitude, xp.ones_like(magnitude))
    weight = xp.astype(sample_weight, dtype)
    chunks = _model.row_blocks(X.shape[0], X.shape[1], np.float64)

    def scaled(rows):
        return xp.astype(X[rows, :], dtype) / magnitude

    total = float(xp.sum(weight))
    mean = sum(weight[rows] @ scaled(rows) for rows in chunks) / total
    variance = sum(weight[rows] @ ((scaled(rows) - mean) ** 2) for rows in chunks)
    spread = xp.sqrt(variance / total)
    spread = xp.where(spread > 0, spread, xp.ones_like(spread))
    return mean * magnitude, spread * magnitude


def _target_moments_xp(Y, sample_weight):
    """Weighted target mean and spread (see ``_target_moments``), not numpy."""
    xp = _array_api.namespace_of(Y)
    dtype = _moment_dtype(Y)
    Y64 = xp.astype(Y, dtype)
    magnitude = xp.max(xp.abs(Y64), axis=0)
    magnitude = xp.where(magnitude == 0, xp.ones_like(magnitude), magnitude)
    Y64 = Y64 / magnitude  # keeps squares finite for huge targets
    weight = xp.astype(sample_weight, dtype)[:, None]
    total = xp.sum(weight)
    mean = xp.sum(weight * Y64, axis=0) / total
    scale = xp.sqrt(xp.sum(weight * (Y64 - mean) ** 2, axis=0) / total)
    scale = xp.where(scale > 1e-12, scale, xp.ones_like(scale))
    return mean * magnitude, scale * magnitude


def _moment_dtype(X):
    """float64 for the scalings, unless ``X``'s device has only float32."""
    if isinstance(X, np.ndarray) or sparse.issparse(X):
        return np.float64
    xp = _array_api.namespace_of(X)
    if _array_api.supports_float64(xp, _array_api.device_of(X)):
        return xp.float64
    return xp.float32


def _moment_full(size, value, X):
    """A (size,) vector of ``value`` for the scalings, beside ``X``."""
    if _namespace(X) is np:
        return np.full(size, value)
    xp = _array_api.namespace_of(X)
    return xp.full(size, value, dtype=_moment_dtype(X), device=_array_api.device_of(X))


def _namespace(X):
    return np if sparse.issparse(X) else _array_api.namespace_of(X)


def _reshape(array, shape):
    if isinstance(array, np.ndarray):
        return array.reshape(shape)
    return _array_api.namespace_of(array).reshape(array, shape)


def _split(X, Y, sample_weight, *, test_size, random_state):
    """``train_test_split`` of the three, in any namespace.

    Other namespaces split numpy row indices (the same split as numpy's
    for the same random state) and take those rows on the device.
    """
    if _namespace(X) is np:
        return train_test_split(
            X, Y, sample_weight, test_size=test_size, random_state=random_state
        )
    xp = _array_api.namespace_of(X)
    device = _array_api.device_of(X)
    train, test = train_test_split(
        np.arange(X.shape[0]), test_size=test_size, random_state=random_state
    )
    train = xp.asarray(train, device=device)
    test = xp.asarray(test, device=device)
    parts = []
    for array in (X, Y, sample_weight):
        parts += [xp.take(array, train, axis=0), xp.take(array, test, axis=0)]
    return parts


def _inverse_curvature(curvature):
    # Zero curvature means X = 0 and nothing to learn: any step will do.
    return 1.0 / curvature if curvature > 0 else 1.0


@dataclass(frozen=True)
class _Settings:
    """What one call of ``fit`` or ``partial_fit`` does."""

    warm: bool
    max_iter: int
    tol: float
    solver: str
    learning_rate: object
    early_stopping: bool
    method: str


class _ValidationMonitor:
    """Early stopping: R² on a held-out split after every step.

    Called by the solvers with the current weights; returns True to stop once
    the score has not improved by at least ``tol`` for ``patience``
    consecutive steps, and keeps the weights with the best score.
    """

    def __init__(self, estimator, validation, signs, runner, patience):
        X_val, Y_val, weight_val = validation
        self.X, self.scale = estimator._transform_inputs(X_val)
        self.Y = estimator._scale_targets(Y_val)
        self.weight = weight_val
        self.signs, self.runner = signs, runner
        self.tol, self.patience = estimator.tol, patience
        self.scores, self.best_weights = [], None
        self.best, self.without_improvement, self.stopped = -np.inf, 0, False

    def _score(self, weights):
        outputs = _model.forward(self.X, weights, self.signs, self.scale, self.runner)
        if not _array_api.all_finite(outputs):
            return -np.inf
        return float(r2_score(self.Y, outputs, sample_weight=self.weight))

    def __call__(self, weights):
        score = self._score(weights)
        self.scores.append(score)
        if score > self.best:
            self.best_weights = _array_api.copy(weights)
        if score < self.best + self.tol:
            self.without_improvement += 1
        else:
            self.without_improvement = 0
        self.best = max(self.best, score)
        self.stopped = self.without_improvement >= self.patience
        return self.stopped

    def describe(self):
        return f"validation R2 = {self.scores[-1]:.4f}"


class _DaskValidationMonitor(_ValidationMonitor):
    """Early stopping on held-out dask chunks: one task per chunk and step."""

    def __init__(self, estimator, validation, signs, runner, patience):
        super().__init__(estimator, validation, signs, runner, patience)
        self.validation = _dask.Validation(self.X, self.Y, self.weight)

    def _score(self, weights):
        return self.validation.score(weights, self.signs, self.scale)


class _either:
    """Solver callback that calls two callbacks and stops if either says so.

    Either may be None; with no callbacks at all the solver gets None.
    """

    def __new__(cls, first, second):
        if first is None and second is None:
            return None
        return super().__new__(cls)

    def __init__(self, first, second):
        self.first, self.second = first, second

    def __call__(self, weights):
        stop = False
        for callback in (self.first, self.second):
            if callback is not None:
                stop |= bool(callback(weights))
        return stop


class _CallbackBridge:
    """scikit-learn's callback API (``set_callbacks``, >= 1.9) around a fit.

    The fit is the root task and every solver step a subtask; the end of a
    step hands the callbacks an estimator reconstructed with that step's
    weights (so ``ScoringMonitor`` can score it on the raw data) and a
    callback may ask to stop. Following scikit-learn's L-BFGS bridge, the
    subtask of the next step is begun when a step ends, and the last,
    never-run one is ended empty by :meth:`close`.
    """

    @classmethod
    def start(cls, estimator, max_iter, X, y, sample_weight, signs, y_ndim):
        if not getattr(estimator, "_skl_callbacks", None):
            return None  # no callbacks (or a scikit-learn without the API)
        return cls(estimator, max_iter, X, y, sample_weight, signs, y_ndim)

    def __init__(self, estimator, max_iter, X, y, sample_weight, signs, y_ndim):
        self.estimator, self.X, self.y = estimator, X, y
        self.metadata = {"sample_weight": sample_weight}
        self.signs = _array_api.copy(signs[:, 0]) if y_ndim == 1 else signs
        self.root = estimator._init_callback_context(max_subtasks=max_iter + 1)
        self.root.call_on_fit_task_begin(
            estimator=estimator, X=X, y=y, metadata=self.metadata
        )
        self.step = self._begin()

    def _begin(self):
        context = self.root.subcontext(task_name="iteration")
        context.call_on_fit_task_begin(
            estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata
        )
        return context

    def __call__(self, weights):
        stop = self.step.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes=lambda: {
                "weights_": _array_api.copy(weights),
                "output_signs_": self.signs,
            },
        )
        self.step = self._begin()
        return stop

    def close(self):
        self.step.call_on_fit_task_end(estimator=self.estimator)
        self.root.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes={},
        )
