"""scikit-learn's estimator checks, with no expected failures.

The sample-weight equivalence checks pass under the default
``alpha="auto"`` and with ``solver="sgd"``: held-out rows, folds and batches
are cut by row content (:mod:`skexpreg._keys`), so a row of integer weight
2 and its two copies are always on the same side of a cut, and the weights
are relative to a distinct row's. In the default single precision the
weighted and the repeated fits agree to float32 round-off (on diabetes
rows repeated 2 or 3 times, 2.4e-8 to 2.6e-8 relative), within the checks'
tolerance of 1e-7.
"""

import warnings

from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from skexpreg import DivergenceWarning, ExponentialRegressor


@parametrize_with_checks(
    [
        ExponentialRegressor(n_neurons=64, random_state=0),
        ExponentialRegressor(
            n_neurons=64, alpha=0.3, precision="double", random_state=0
        ),
        ExponentialRegressor(
            n_neurons=64, solver="sgd", batch_size=16, alpha=0.3, random_state=0
        ),
    ],
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _check_without_divergence(estimator, **params):
    # The default step comes from the tangent kernel and follows it as it
    # grows: no check's data should make gradient descent reject a step.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_estimator(estimator, **params)
    diverged = [w for w in caught if issubclass(w.category, DivergenceWarning)]
    assert not diverged, [str(w.message) for w in diverged]


def test_check_estimator_with_defaults():
    _check_without_divergence(ExponentialRegressor())


def test_a_narrow_network_does_not_diverge_on_scikit_learns_test_data():
    _check_without_divergence(
        ExponentialRegressor(n_neurons=32, random_state=0), on_fail=None
    )
