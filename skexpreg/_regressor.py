"""The scikit-learn estimator: parameters, validation, fitted attributes.

``ExponentialRegressor`` orchestrates a fit; the work is done below it:
:mod:`skexpreg._rows` validates the data and chooses where the rows live,
:mod:`skexpreg._preprocessing` computes the input and target maps,
:mod:`skexpreg._network` holds the mathematics, :mod:`skexpreg._step_size`
chooses ``learning_rate="auto"``, :mod:`skexpreg._solvers` runs the
optimisation and :mod:`skexpreg._callbacks` watches its steps. See the
documentation's architecture page.
"""

import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from dataclasses import replace as _replace
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skexpreg import _array_api, _network
from skexpreg._callbacks import (
    CallbackList,
    CallbackSupportMixin,
    EarlyStopping,
    ScikitLearnCallbacks,
)
from skexpreg._docs import API_PAGE_TEMPLATE
from skexpreg._preprocessing import (
    InputMap,
    fit_input_map,
    fit_target_map,
    map_inputs,
    map_targets,
)
from skexpreg._regularization import FALLBACK_ALPHA, PATH_TOL, choose_alpha
from skexpreg._rows import fit_rows, predict_rows
from skexpreg._solvers import SOLVERS, SolverResult
from skexpreg._step_size import learning_rate_schedule
from skexpreg.exceptions import DivergenceWarning

# solver="auto" trains with the stochastic solver from this many rows, and
# batch_size="auto" is this many rows (see the documentation's page on the
# defaults).
AUTO_SGD_ROWS = 20_000
AUTO_BATCH_SIZE = 512


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
    iteration (``solver="gd"`` is the paper's plain gradient descent) on
    up to 19,999 rows, and takes the same steps on random batches of rows
    (``solver="sgd"``) on more, where a full pass per step costs too much.
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
        the loss rise or overflow is halved and retried. For ``solver="sgd"``
        the step for batches of :math:`b` of :math:`n` rows is
        :math:`1 / (L_b + \\alpha)` with :math:`L_b = \\frac{n(b-1)}{b(n-1)}
        \\lambda_{\\max} + \\frac{n(n-b)}{b(n-1)} \\max_i s_i H_{ii}` (the
        expected smoothness of the batch gradient; the full-batch step for
        :math:`b = n`), both estimated on at most 4,096 random rows and
        re-estimated every 100 steps.

    max_iter : int, default=1000
        Maximum number of gradient-descent steps :math:`T` (of epochs, passes
        over all rows, for ``solver="sgd"``).

    tol : float, default=1e-6
        Stop when the relative decrease of the loss in one step,
        :math:`(L(W(t)) - L(W(t+1))) / L(W(t))`, falls below ``tol``. With
        ``tol=0`` only ``max_iter`` stops the iteration (and reaching it is
        no reason for a ``ConvergenceWarning``). ``solver="sgd"`` stops when
        the best averaged loss of the last 5 epochs is not a relative
        ``max(tol, 1e-3)`` below the best before them (the averaged loss of
        an epoch is the mean of its batches' loss estimates).

    alpha : float or "auto", default="auto"
        Ridge penalty toward the initial weights, :math:`\\frac{\\alpha}{2}
        \\|W - W(0)\\|_F^2`, on the same scale as the summed squared error
        (as in :class:`~sklearn.linear_model.Ridge`). ``0`` is the paper's
        plain gradient descent, which interpolates label noise when run to
        convergence. In the lazy regime the fit approaches kernel ridge
        regression with the NTK and ridge :math:`\\alpha`. ``"auto"``
        chooses it from 10, 1, 0.1, ..., 1e-4 by held-out R²: a path of fits,
        strongest first and each warm-started at the previous weights, on
        80 % of the training rows (3-fold cross-validation up to 2,000 rows;
        a random subsample of 8,000 rows on larger data), then the final fit
        on all rows (see the documentation's page on the model).
        ``partial_fit`` and warm starts keep the ``alpha_`` of the first fit
        (1.0 when ``partial_fit`` comes first).

    input_scaling : {"standard", "max_norm"}, float or None, \
            default="standard"
        How inputs are mapped before the network sees them, by a map fitted
        on the training rows (those with positive weight). ``"standard"``
        clips each feature to its 2.5 % and 97.5 % training quantiles
        (to its range where the two coincide, as for a rare indicator),
        standardises it (weighted mean and standard deviation of the clipped
        values) and divides all features by one number so that the median
        norm of the training rows is ``bandwidth``: typical rows, not
        outliers, set the scale, and the model does not depend on the
        features' units. Sparse input gets the map, and the model, of its
        dense copy without being densified (the centring is folded into
        the products with the weights). ``"max_norm"`` divides by the
        largest training row norm, so that the training rows lie in the
        unit ball as the theory assumes; a float divides by that number;
        ``None`` uses the inputs as given (the paper's setting). Whatever
        the choice, every row is then clipped to the training range and
        shrunk onto a ball (``input_radius_``), so that predictions stay
        bounded however far a row lies outside the training range (see the
        documentation's page on the model).

    bandwidth : float, default=0.35
        With ``input_scaling="standard"``, the median norm of the training
        rows as the network sees them: the scale of the neural tangent
        kernel :math:`\\langle x, x' \\rangle \\exp(\\|x + x'\\|^2 / 2)`.
        Larger values use more of the exponential's curvature (a more
        non-linear model), smaller ones make it closer to linear. The
        default was the best single value on the benchmark panel; search it
        like any other parameter.

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

    precision : {"single", "double"} or None, default="single"
        The floating-point precision the network is trained in:
        ``"single"`` trains in float32 and ``"double"`` in float64 (float32
        on a device without float64), whatever the input; ``None`` trains
        in the input's (float32 input in float32, anything else in
        float64). The input and target maps are fitted and applied in the
        input's precision either way, so large offsets or units lose
        nothing; only the rows as the network sees them (centred, of norm
        about ``bandwidth``) are rounded. Single precision about halves
        each step's time and the memory of those rows: on the benchmark
        panel it scored the same held-out R² as float64 training to within
        0.001 on every set, and fitted California in 2.1 to 2.8 s instead
        of 3.8 to 4.0 s. The fitted weights are in the training precision;
        predictions for float64 input are computed in float64.

    solver : {"auto", "gd", "nesterov", "lbfgs", "sgd"}, default="auto"
        ``"auto"`` is ``"nesterov"`` on up to 19,999 rows and ``"sgd"`` on
        20,000 or more in memory (``alpha="auto"``'s path then uses
        ``"sgd"`` too; dask input stays full-batch, where every batch would
        be a round trip to the cluster); the solver used is ``solver_``.
        ``"gd"`` is the paper's full-batch gradient descent with step
        ``learning_rate``. ``"nesterov"`` adds Nesterov momentum with a
        restart whenever the loss rises (same step, same safety net; the
        recorded loss still falls monotonically). ``"lbfgs"`` minimises the
        same loss with :func:`scipy.optimize.minimize` (L-BFGS-B);
        ``learning_rate`` is then unused. The faster solvers need far fewer
        gradient evaluations (4 to 8 times fewer for ``"nesterov"`` with the
        default parameters on the benchmark data, at the same accuracy) but
        are not covered by the paper's theorem. ``"sgd"`` takes the
        ``"nesterov"`` steps on random batches of ``batch_size`` rows, each
        with an unbiased estimate of the gradient (a batch of all rows takes
        exactly the full-batch step), in epochs that visit every row once,
        dropping the momentum when the batch gradient points along the last
        step; it returns the average of the last epoch's iterates. On
        100,000 to 1,000,000 rows a default fit took 0.2 to 0.35 of
        MLPRegressor's time (see the documentation's performance page).

    batch_size : int or "auto", default="auto"
        Rows per batch of ``solver="sgd"`` (``"auto"``: 512, or all rows if
        fewer). Unused by the other solvers.

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
        Number of threads for the row-blocked computations. ``None`` means
        every core the process may use, but no more threads than the BLAS
        thread limit in force (so inside a parallel grid search, where joblib
        limits each worker's threads, or under ``threadpoolctl``'s
        ``threadpool_limits``, nothing is oversubscribed), as scikit-learn's
        BLAS- and OpenMP-backed estimators do; ``-1`` means all cores.
        Results do not depend on it beyond floating-point round-off.
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
        acting on the inputs as the network sees them (see
        ``input_scale_``).

    initial_weights_ : ndarray of shape (n_features, n_neurons)
        The initial hidden weights :math:`W(0)`.

    output_signs_ : ndarray of shape (n_neurons,) or (n_neurons, n_outputs)
        The fixed output weights :math:`a_r \\in \\{-1, +1\\}`; one column per
        target when ``y`` is 2-D.

    alpha_ : float
        The ridge strength used (``alpha``, or the one ``alpha="auto"``
        chose).

    alpha_scores_ : dict or None
        With ``alpha="auto"``, the held-out R² of each strength on the path
        (averaged over folds where the path is cross-validated; a fit that
        fell well behind the best strength is stopped early and scored as it
        stood); otherwise None.

    learning_rate_ : float or None
        The step size :math:`\\eta` used by the last accepted step (smaller
        than the initial one if the loss rose and the step was halved);
        ``None`` for ``solver="lbfgs"``.

    solver_ : str
        The solver of the last fit: ``solver``, with ``"auto"`` resolved.

    n_iter_ : int
        Number of accepted gradient-descent steps :math:`T` (L-BFGS
        iterations for ``solver="lbfgs"``, epochs for ``solver="sgd"``).

    loss_curve_ : list of float
        The minimised loss :math:`L(W(t))` after each step ``t = 1..n_iter_``,
        on the scaled targets and including the ridge term; for
        ``solver="sgd"`` the averaged loss of each epoch.

    initial_loss_ : float
        :math:`L(W(0))`.

    n_evaluations_ : int
        Number of loss-and-gradient evaluations (passes over the data, or
        over a batch for ``solver="sgd"``), including the one at
        :math:`W(0)` and rejected steps.

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
        Subtracted from the (clipped) inputs before scaling (zero unless
        ``input_scaling="standard"``).

    input_scale_ : ndarray of shape (n_features,)
        The network sees ``(clip(X, input_lower_, input_upper_) -
        input_offset_) / input_scale_``, shrunk onto the ball of radius
        ``input_radius_``: one divisor per feature (all equal unless
        ``input_scaling="standard"``).

    input_lower_, input_upper_ : ndarray of shape (n_features,)
        Each feature is clipped to this range first (the training quantiles
        or range, see ``input_scaling``).

    input_radius_ : float
        No row the network sees has a larger norm, so that
        :math:`|F(W, x)| \\le \\frac{1}{\\sqrt{m}} \\sum_r
        \\exp(\\|w_r\\| \\, r)` with :math:`r` = ``input_radius_`` for
        every finite input row.

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

    # The HTML representation links to the API page (scikit-learn's mixin).
    _doc_link_module = "skexpreg"
    _doc_link_template = API_PAGE_TEMPLATE

    _parameter_constraints: dict = {
        "n_neurons": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "input_scaling": [
            StrOptions({"max_norm", "standard"}),
            Interval(Real, 0, None, closed="neither"),
            None,
        ],
        "bandwidth": [Interval(Real, 0, None, closed="neither")],
        "target_scaling": ["boolean"],
        "init": [StrOptions({"gaussian", "paired"})],
        "precision": [StrOptions({"single", "double"}), None],
        "solver": [StrOptions(set(SOLVERS) | {"auto"})],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
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
        alpha="auto",
        input_scaling="standard",
        bandwidth=0.35,
        target_scaling=True,
        init="paired",
        precision="single",
        solver="auto",
        batch_size="auto",
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
        self.bandwidth = bandwidth
        self.target_scaling = target_scaling
        self.init = init
        self.precision = precision
        self.solver = solver
        self.batch_size = batch_size
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network by gradient descent (full-batch or on batches).

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
            Non-negative weights :math:`s_i` of the squared errors, relative:
            they are divided by the mean weight of a distinct row (copies of
            a row counting once, with their weights added), so a common
            factor of all the weights changes nothing, integer weights are
            equivalent to repeating rows, a zero weight to leaving the row
            out (as is a weight under 2**-52 of the total), and unit weights
            on rows without copies are used as they are. Moved to the
            namespace and device of ``X``.

        Returns
        -------
        self : ExponentialRegressor
            The fitted estimator.
        """
        call = _FitCall(
            warm=bool(self.warm_start) and hasattr(self, "weights_"),
            max_iter=self.max_iter,
            tol=self.tol,
            solver=self.solver,
            learning_rate=self.learning_rate,
            early_stopping=self.early_stopping,
            method="fit",
            verbose=self.verbose,
        )
        return self._fit(X, y, sample_weight, call)

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
            Its sample weights, relative within the call (as in ``fit``).

        Returns
        -------
        self : ExponentialRegressor
            The updated estimator.
        """
        fitted = hasattr(self, "weights_")
        call = _FitCall(
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
            verbose=self.verbose,
        )
        return self._fit(X, y, sample_weight, call)

    def _fit(self, X, y, sample_weight, call):
        # Atomic: a fit that raises (or is interrupted, KeyboardInterrupt
        # included) leaves the estimator as it was: the previous model, or
        # unfitted. The attributes are set during the fit because
        # scikit-learn's callbacks predict with the weights of each step.
        before = dict(self.__dict__)
        try:
            return self._fit_unguarded(X, y, sample_weight, call)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _fit_unguarded(self, X, y, sample_weight, call):
        warm = call.warm
        if warm:
            _array_api.check_same_namespace(
                X, self, attribute="weights_", method=call.method
            )
        rows = fit_rows(
            self,
            X,
            y,
            sample_weight,
            reset=not warm,
            n_jobs=self.n_jobs,
        )
        if warm and rows.Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {rows.Y.shape[1]} output(s) but the fitted model has "
                f"{self.n_outputs_}; warm_start=True continues the same model."
            )
        # Weights relative to a distinct row's, rows of zero weight dropped:
        # integer weights then mean copies, and a common factor nothing.
        rows = rows.with_relative_weights()
        random_state = check_random_state(self.random_state)
        call = _replace(call, solver=self._resolve_solver(call.solver, rows))
        self.solver_ = call.solver
        validation = None
        if call.early_stopping:
            rows, validation = rows.split(self.validation_fraction, random_state)
        if not warm:
            self._initialize(rows, random_state)
        xp, _ = _array_api.namespace(self.initial_weights_)
        signs = xp.reshape(self.output_signs_, (self.n_neurons, -1))
        if rows.raw[1].ndim == 1:  # the signs of a 1-D target are 1-D
            self.output_signs_ = _array_api.copy(signs[:, 0])
        else:
            self.output_signs_ = signs
        start = self.weights_ if warm else self.initial_weights_

        with ExitStack() as context:
            seen = context.enter_context(self._seen(rows, fitted_rows=not warm))
            alpha = self._choose_alpha(seen, signs, call, random_state)
            early_stopping = None
            if validation is not None:
                validation = context.enter_context(self._seen(validation))
                early_stopping = EarlyStopping(
                    partial(validation.r2_score, output_signs=signs),
                    tol=self.tol,
                    patience=self.n_iter_no_change,
                )
            bridge = ScikitLearnCallbacks.start(
                self, call.max_iter, rows.raw, self.output_signs_
            )
            callbacks = CallbackList([early_stopping, bridge])
            result, learning_rate, _ = self._train(
                seen,
                signs,
                alpha,
                start,
                call,
                random_state,
                callback=callbacks if callbacks.callbacks else None,
                progress=early_stopping.describe if early_stopping else None,
            )

        self._record(result, early_stopping, warm)
        self._warn_about(result, learning_rate, call)
        if bridge is not None:
            bridge.close()  # after the fitted attributes are in place
        return self

    def _choose_alpha(self, seen, signs, call, random_state):
        """The ridge strength of this fit (``alpha_``), chosen on held-out
        rows for ``alpha="auto"``."""
        if self.alpha != "auto":
            self.alpha_, self.alpha_scores_ = float(self.alpha), None
        elif not call.warm and call.method == "fit":
            quiet = _replace(call, verbose=0, tol=max(call.tol, PATH_TOL))

            last = {}  # the previous fit's step bound (its curvature estimate)

            def train(rows, alpha, weights, callback):
                # A warm start (weights given) continues the previous fit on
                # the same rows: its curvature estimate carries over.
                start = self.initial_weights_ if weights is None else weights
                hint = None if weights is None else last.get("bound")
                result, _, bound = self._train(
                    rows,
                    signs,
                    alpha,
                    start,
                    quiet,
                    random_state,
                    callback=callback,
                    warm_bound=hint,
                )
                last["bound"] = bound
                return result.weights

            def score(rows, weights):
                return rows.r2_score(weights, signs)

            def terms(rows, weights):
                return rows.r2_terms(weights, signs)

            choice = choose_alpha(seen, train, score, terms, random_state)
            self.alpha_, self.alpha_scores_ = choice.alpha, choice.scores
            if self.verbose:
                scores = ", ".join(f"{a:g}: {r:.4f}" for a, r in choice.scores.items())
                print(
                    f"alpha='auto': validation R2 by alpha {{{scores}}}; "
                    f"alpha_ = {self.alpha_:.3g}"
                )
        elif not hasattr(self, "alpha_"):  # partial_fit's first call
            self.alpha_, self.alpha_scores_ = FALLBACK_ALPHA, None
        return self.alpha_

    def _train(
        self,
        rows,
        signs,
        alpha,
        start,
        call,
        random_state,
        callback=None,
        progress=None,
        warm_bound=None,
    ):
        """Run the solver on ``rows`` from ``start``.

        Returns ``(result, learning_rate, step_bound)``; ``warm_bound`` (the
        step bound of a fit that ended at ``start``) is passed on to
        :func:`~skexpreg._step_size.learning_rate_schedule`.
        """
        solver = SOLVERS[call.solver]
        objective = partial(
            _objective, rows, signs, initial_weights=self.initial_weights_, alpha=alpha
        )
        batch_size, options = None, {}
        if solver.stochastic:
            batch_size = self._resolve_batch_size(rows)
            options["batches"] = _MiniBatches(
                rows, signs, self.initial_weights_, alpha, batch_size, random_state
            )
        initial = objective(start)
        self._check_initial_loss(initial[0], rows)
        eps = np.finfo(_array_api.numpy_dtype(rows.dtype)).eps
        if initial[0] <= (64 * eps) ** 2 * 0.5 * rows.total_weight():
            # The network already fits the (standardised, O(1)) targets to
            # round-off, e.g. a constant target: there is nothing to learn.
            return SolverResult(start, 0, [], None, True, initial[0]), None, None
        learning_rate, step_bound = None, None
        if solver.uses_learning_rate:
            learning_rate, step_bound = learning_rate_schedule(
                call.learning_rate,
                rows,
                start,
                alpha,
                random_state,
                warm_bound,
                batch_size=batch_size,
            )
        result = solver.solve(
            objective,
            start,
            learning_rate=learning_rate,
            step_bound=step_bound,
            max_iter=call.max_iter,
            tol=call.tol,
            initial=initial,
            callback=callback,
            progress=progress,
            verbose=call.verbose,
            **options,
        )
        return result, learning_rate, step_bound

    def _resolve_solver(self, solver, rows):
        """The solver of this fit: ``solver="auto"`` resolved for ``rows``."""
        if solver != "auto":
            return solver
        large = rows.total_weight() >= AUTO_SGD_ROWS and rows.small_passes_are_cheap
        return "sgd" if large else "nesterov"

    def _resolve_batch_size(self, rows):
        """Rows per batch of the stochastic solver on ``rows``."""
        size = AUTO_BATCH_SIZE if self.batch_size == "auto" else self.batch_size
        return min(int(size), rows.n_distinct())

    def _initialize(self, rows, random_state):
        """The input and target maps, W(0) and the signs, from the training rows.

        Set before the solver runs: scikit-learn's callbacks predict with the
        weights of each step.
        """
        self.n_outputs_ = rows.Y.shape[1]
        input_map = fit_input_map(
            rows, self.input_scaling, self.bandwidth, random_state
        )
        self.input_offset_, self.input_scale_ = input_map.offset, input_map.scale
        self.input_lower_, self.input_upper_ = input_map.lower, input_map.upper
        self.input_radius_ = input_map.radius
        self.target_mean_, self.target_scale_ = fit_target_map(
            rows, self.target_scaling
        )
        self._check_scales(rows.dtype)  # predictions are in the input's dtype
        dtype = self._training_dtype(rows)
        initial_weights, signs = _network.initial_parameters(
            rows.shape[1],
            self.n_neurons,
            self.n_outputs_,
            random_state,
            _array_api.numpy_dtype(dtype),
            paired=self.init == "paired",
        )
        self.initial_weights_ = _array_api.from_host(initial_weights, rows)
        self.output_signs_ = _array_api.from_host(signs, rows)
        self.initial_loss_ = None
        self.n_step_reductions_ = self.n_evaluations_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = None

    def _record(self, result, early_stopping, warm):
        """The fitted attributes after a solver's run."""
        self.weights_ = result.weights
        if early_stopping is not None and early_stopping.best_weights is not None:
            self.weights_ = early_stopping.best_weights
        if not warm:
            self.initial_loss_ = result.initial_loss
        self.learning_rate_ = result.learning_rate
        self.loss_curve_ = self.loss_curve_ + result.loss_curve
        self.n_iter_ = len(self.loss_curve_)
        self.n_step_reductions_ += len(result.reductions)
        self.n_evaluations_ += result.n_evaluations + 1  # + the one at the start
        if early_stopping is not None:
            previous = self.validation_scores_ or []
            self.validation_scores_ = previous + early_stopping.scores
            self.best_validation_score_ = early_stopping.best
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _training_dtype(self, rows):
        """The dtype the network is trained in (``precision``), on the
        namespace and device of ``rows``."""
        if self.precision is None:
            return rows.dtype
        if self.precision == "single":
            return rows.xp.float32
        return _array_api.float_dtypes(rows.xp, rows.device)[0]

    def _seen(self, rows, fitted_rows=False):
        """The rows as the network sees them: both fitted maps applied, in
        the dtype of the weights."""
        dtype = self.initial_weights_.dtype
        # A uniform map is folded into the weights only where the rows keep
        # their dtype: rounded raw rows could overflow (or lose offsets).
        fold = fitted_rows and dtype == rows.dtype
        seen = map_inputs(
            rows, self._input_map(), fitted_rows=fold, dtype=None if fold else dtype
        )
        seen = map_targets(seen, self.target_mean_, self.target_scale_)
        return seen.astype(dtype)  # the targets and weights; X is in dtype

    def _input_map(self):
        return InputMap(
            self.input_offset_,
            self.input_scale_,
            self.input_lower_,
            self.input_upper_,
            self.input_radius_,
            uniform=self.input_scaling != "standard",
        )

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
        check_is_fitted(self)
        _array_api.check_same_namespace(X, self, attribute="weights_", method="predict")
        rows = predict_rows(self, X, self.weights_, n_jobs=self.n_jobs)
        seen = map_inputs(rows, self._input_map())
        with seen:
            return seen.outputs(
                _network.predict,
                self.weights_,
                self.output_signs_,
                self.target_mean_,
                self.target_scale_,
                n_outputs=None if self.output_signs_.ndim == 1 else self.n_outputs_,
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.array_api_support = True
        return tags

    def _check_scales(self, dtype):
        """Clear errors where a scaling overflows, instead of silent inf."""
        largest = np.finfo(_array_api.numpy_dtype(dtype)).max
        scales = _array_api.to_numpy(self.input_scale_)
        if not np.isfinite(scales).all():
            columns = np.flatnonzero(~np.isfinite(scales)).tolist()
            raise ValueError(
                f"The scale of feature(s) {columns} overflows: their values are too "
                "close to the largest float to be scaled. Divide them by a large "
                "number (e.g. 1e300) first."
            )
        mean = np.abs(_array_api.to_numpy(self.target_mean_))
        spread = _array_api.to_numpy(self.target_scale_)
        if (mean + spread).max() > largest / 1e4:
            raise ValueError(
                "The targets are too close to the largest "
                f"{_array_api.dtype_name(dtype)} ({(mean + spread).max():.3g}): "
                "predictions could overflow. Divide y by a large number first."
            )

    def _check_initial_loss(self, loss, seen):
        if np.isfinite(loss):
            return
        if not np.isfinite(seen.squared_targets()):
            raise ValueError(
                "The squared targets overflow: the loss is not finite. Use "
                "target_scaling=True (the default) or rescale y."
            )
        raise ValueError(
            "The network overflows at initialisation: exp(<w_r, x>) exceeds the "
            f"largest {_array_api.dtype_name(seen.dtype)} for some training rows, "
            "so the loss is not finite "
            f"(input_scaling={self.input_scaling!r}, inputs divided by "
            f"{seen.scale:.3g}). The theory assumes ||x|| <= 1: use "
            "input_scaling='standard' (the default) or 'max_norm', a larger "
            "input_scaling, or standardise the features (e.g. StandardScaler in "
            "a Pipeline)."
        )

    def _warn_about(self, result, learning_rate, call):
        if result.reductions:
            first = result.reductions[0]
            advice = (
                "Pass a smaller learning_rate or learning_rate='auto' to avoid "
                "wasted steps."
                if call.learning_rate != "auto"
                else "The step from the kernel at the start was too long for the "
                "weights reached; a smaller bandwidth or a larger alpha keeps "
                "the kernel steadier."
            )
            warnings.warn(
                f"Gradient descent diverged with learning_rate={learning_rate:.3g} "
                f"({first.reason} at iteration {first.iteration}); the step was "
                f"halved {len(result.reductions)} time(s) and ended at "
                f"{result.learning_rate:.3g}. {advice}",
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
        elif not (
            result.converged or result.interrupted or call.max_iter == 1 or not call.tol
        ):
            warnings.warn(
                f"The {call.solver} solver reached max_iter={call.max_iter} "
                "before the relative decrease of the loss fell below "
                f"tol={call.tol}. "
                "Increase max_iter or tol.",
                ConvergenceWarning,
            )


def _objective(rows, output_signs, weights, *, initial_weights, alpha, factor=1.0):
    """The minimised loss and its gradient: the data term (times ``factor``)
    plus the ridge term ``alpha/2 ||W - W(0)||^2``."""
    loss, gradient = rows.loss_and_gradient(weights, output_signs)
    if factor != 1.0:
        loss *= factor
        with np.errstate(over="ignore", invalid="ignore"):  # the solver checks
            gradient *= _array_api.scalar(factor, gradient)
    if alpha > 0:
        displacement = weights - initial_weights
        loss += 0.5 * alpha * _array_api.inner(displacement, displacement)
        displacement *= _array_api.scalar(alpha, displacement)
        gradient += displacement
    return loss, gradient


class _MiniBatches:
    """The batches of a stochastic solver: ``epoch()`` yields one objective
    per batch of a random partition of ``rows`` (:meth:`Rows.batches`: of
    the distinct rows, copies together), each the batch's data term times
    ``n / b``, ``n`` and ``b`` the distinct rows in all and in the batch (an
    unbiased estimate of the whole data term) plus the ridge term, so that
    a batch of all the rows is :func:`_objective`."""

    def __init__(self, rows, output_signs, initial_weights, alpha, batch_size, seed):
        self.rows, self.output_signs, self.batch_size = rows, output_signs, batch_size
        self.random_state = check_random_state(seed.randint(np.iinfo(np.int32).max))
        self.terms = dict(initial_weights=initial_weights, alpha=alpha)

    def epoch(self):
        for share, batch in self.rows.batches(self.batch_size, self.random_state):
            yield partial(
                _objective, batch, self.output_signs, factor=1 / share, **self.terms
            )


@dataclass(frozen=True)
class _FitCall:
    """What one call of ``fit`` or ``partial_fit`` does."""

    warm: bool
    max_iter: int
    tol: float
    solver: str
    learning_rate: object
    early_stopping: bool
    method: str
    verbose: int = 0
