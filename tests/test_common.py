"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from skexpreg import ExponentialRegressor


@parametrize_with_checks([ExponentialRegressor(n_neurons=64, random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_check_estimator_with_defaults():
    check_estimator(ExponentialRegressor())
