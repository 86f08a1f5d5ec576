"""The command line on a user's CSV: fit, save, predict, and clear errors."""

import csv

import numpy as np
import pytest

from skexpreg.__main__ import main


@pytest.fixture
def table(tmp_path):
    """A small CSV with numeric, categorical and missing values."""
    rng = np.random.RandomState(0)
    path = tmp_path / "houses.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rooms", "age", "district", "price"])
        for i in range(120):
            rooms, age = rng.uniform(1, 8), rng.uniform(0, 50)
            district = ["north", "south", "east"][i % 3]
            price = 50 * rooms - age + {"north": 30, "south": 0, "east": 10}[district]
            writer.writerow(
                [
                    "" if i % 17 == 0 else f"{rooms:.3f}",
                    f"{age:.1f}",
                    district,
                    f"{price + rng.normal():.2f}",
                ]
            )
    return path


def test_fit_on_csv_prints_scores_and_saves_a_model_that_predicts(
    table, tmp_path, capsys
):
    model = tmp_path / "model.joblib"
    code = main(["--data", str(table), "--target", "price", "--save", str(model)])
    assert code == 0
    output = capsys.readouterr().out
    assert "2 numeric and 1 categorical" in output
    line = next(row for row in output.splitlines() if row.startswith("Exponential"))
    assert float(line.split()[1]) > 0.8  # held-out R² of an easy problem
    assert "loading it runs code" in output
    predictions = tmp_path / "predictions.csv"
    code = main(
        [
            "predict",
            "--model",
            str(model),
            "--data",
            str(table),
            "--output",
            str(predictions),
        ]
    )
    assert code == 0
    rows = list(csv.reader(predictions.open()))
    assert rows[0] == ["price_predicted"] and len(rows) == 121
    assert np.isfinite([float(row[0]) for row in rows[1:]]).all()


def test_grid_search_reports_the_best_parameters(table, capsys):
    assert main(["--data", str(table), "--target", "price", "--search"]) == 0
    output = capsys.readouterr().out
    assert "grid search: best parameters" in output
    assert "n_neurons" in output and "alpha" in output


def test_skops_model_round_trip(table, tmp_path, capsys):
    pytest.importorskip("skops")
    model = tmp_path / "model.skops"
    assert main(["--data", str(table), "--target", "price", "--save", str(model)]) == 0
    assert "safe to load" in capsys.readouterr().out
    assert main(["predict", "--model", str(model), "--data", str(table)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "price_predicted"


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--data", "missing.csv", "--target", "price"], "data file not found"),
        (["--data", "{table}", "--target", "cost"], "target column 'cost' is not"),
        (["--data", "{table}", "--target", "district"], "holds text"),
        (["--data", "{table}"], "needs --target"),
        (["--data", "{table}", "--target", "price", "--drop", "x"], "--drop names"),
        (["predict", "--model", "none.joblib", "--data", "{table}"], "model file not"),
    ],
)
def test_clear_errors(table, capsys, arguments, message):
    arguments = [value.replace("{table}", str(table)) for value in arguments]
    assert main(arguments) == 2
    assert message in capsys.readouterr().err


def test_free_text_column_is_rejected_with_its_name(tmp_path, capsys):
    path = tmp_path / "notes.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "comment", "y"])
        for i in range(200):
            writer.writerow([i, f"note number {i}", 2 * i])
    assert main(["--data", str(path), "--target", "y"]) == 2
    assert "column 'comment' holds free text" in capsys.readouterr().err
    assert main(["--data", str(path), "--target", "y", "--drop", "comment"]) == 0


def test_predict_needs_the_training_columns(table, tmp_path, capsys):
    model = tmp_path / "model.joblib"
    main(["--data", str(table), "--target", "price", "--save", str(model)])
    other = tmp_path / "other.csv"
    other.write_text("rooms,district\n3,north\n")
    assert main(["predict", "--model", str(model), "--data", str(other)]) == 2
    assert "lack the column(s)" in capsys.readouterr().err
