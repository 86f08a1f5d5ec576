"""``python -m skexpreg``: the main job."""

import subprocess
import sys

from skexpreg.__main__ import main


def test_main_job_prints_scores_for_the_model_and_baselines(capsys):
    assert main(["--random-state", "1"]) == 0
    output = capsys.readouterr().out
    for name in ("ExponentialRegressor", "RidgeCV", "MLPRegressor"):
        line = next(line for line in output.splitlines() if line.startswith(name))
        score, seconds = float(line.split()[1]), float(line.split()[3])
        assert -1 < score < 1 and seconds >= 0
    rows = {line.split()[0]: float(line.split()[1]) for line in output.splitlines()[2:]}
    assert rows["ExponentialRegressor"] > 0.2


def test_module_runs_as_a_script():
    result = subprocess.run(
        [sys.executable, "-m", "skexpreg", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("skexpreg ")
