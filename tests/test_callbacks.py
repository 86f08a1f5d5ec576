"""scikit-learn's callback API (``set_callbacks``), where scikit-learn has it."""

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.model_selection import GridSearchCV

from skexpreg import ExponentialRegressor

callback = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")


class Recorder:
    """A FitCallback that records every hook and can ask to stop."""

    def __init__(self, stop_after=None):
        self.begun, self.ended, self.fitted = [], [], []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None):
        self.begun.append(context.task_name)

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, X=None):
        self.ended.append(context.task_name)
        if context.task_name == "iteration" and fitted_estimator is not None:
            self.fitted.append(fitted_estimator.predict(X[:3]))
            return self.stop_after is not None and len(self.fitted) >= self.stop_after
        return False


@pytest.fixture(scope="module")
def data():
    return make_friedman1(n_samples=100, n_features=5, random_state=0)


@pytest.mark.parametrize("solver", ["gd", "nesterov", "lbfgs"])
def test_callbacks_receive_every_iteration(data, solver):
    X, y = data
    recorder = Recorder()
    model = ExponentialRegressor(
        32, solver=solver, max_iter=15, tol=0.0, random_state=0
    )
    model.set_callbacks(recorder)
    model.fit(X, y)
    assert len(recorder.fitted) == model.n_iter_ == 15
    assert recorder.begun.count("fit") == recorder.ended.count("fit") == 1
    # one never-run subtask is begun and ended empty at the end
    assert recorder.begun.count("iteration") == recorder.ended.count("iteration")
    np.testing.assert_allclose(recorder.fitted[-1], model.predict(X[:3]))


def test_a_callback_can_stop_the_fit(data):
    X, y = data
    recorder = Recorder(stop_after=4)
    model = ExponentialRegressor(32, max_iter=50, tol=0.0, random_state=0)
    model.set_callbacks(recorder).fit(X, y)
    assert model.n_iter_ == 4


def test_scoring_monitor_scores_every_iteration(data):
    X, y = data
    monitor = callback.ScoringMonitor(scoring="r2")
    model = ExponentialRegressor(32, max_iter=10, tol=0.0, random_state=0)
    model.set_callbacks(monitor)
    model.fit(X, y)
    scores = [row for row in monitor.get_logs().data if "r2" in row]
    assert len(scores) >= 10
    assert all(np.isfinite(row["r2"]) for row in scores)


def test_progress_bar_inside_grid_search(data):
    pytest.importorskip("rich", reason="ProgressBar needs rich")
    X, y = data
    search = GridSearchCV(
        ExponentialRegressor(32, max_iter=5, tol=0.0, random_state=0),
        {"alpha": [0.1, 1.0]},
        cv=2,
    )
    search.set_callbacks(callback.ProgressBar())
    search.fit(X, y)
    assert set(search.cv_results_["param_alpha"]) == {0.1, 1.0}
