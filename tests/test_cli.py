"""The command line on a user's CSV: fit, save, predict, and clear errors."""

import csv
import errno
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from scipy import sparse

from skexpreg import ExponentialRegressor, __main__, _cli_model
from skexpreg._cli_data import (
    is_sparse,
    preprocessing,
    read_table,
    training_data,
)
from skexpreg._solvers import SOLVERS

main = __main__.main


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


def write_csv(path, header, rows, encoding="utf-8"):
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def predict(model, data, *extra):
    return main(["predict", "--model", str(model), "--data", str(data), *extra])


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
    assert predict(model, table, "--trust", "--output", str(predictions)) == 0
    rows = list(csv.reader(predictions.open()))
    assert rows[0] == ["price_predicted"] and len(rows) == 121
    assert np.isfinite([float(row[0]) for row in rows[1:]]).all()


def test_grid_search_reports_the_best_parameters(table, capsys):
    assert main(["--data", str(table), "--target", "price", "--search"]) == 0
    output = capsys.readouterr().out
    assert "grid search: best parameters" in output
    assert "n_neurons" in output and "bandwidth" in output


@pytest.mark.parametrize(
    "name", ["model.skops", "model.SKOPS", "model.Skops", ".skops"]
)
def test_skops_model_round_trip_whatever_the_case_of_its_extension(
    table, tmp_path, capsys, name
):
    pytest.importorskip("skops")
    model = tmp_path / name
    assert main(["--data", str(table), "--target", "price", "--save", str(model)]) == 0
    assert "safe to load" in capsys.readouterr().out
    assert predict(model, table) == 0  # no --trust needed
    assert capsys.readouterr().out.splitlines()[0] == "price_predicted"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("model.skops", True),
        ("model.SKOPS", True),
        ("model.Skops", True),
        (".skops", True),
        ("model.joblib", False),
        ("model.skops.joblib", False),
        ("skops", False),
    ],
)
def test_skops_files_are_recognised_by_extension_in_any_case(name, expected):
    assert _cli_model.is_skops(name) is expected


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
    path = write_csv(
        tmp_path / "notes.csv",
        ["x", "comment", "y"],
        [[i, f"note number {i}", 2 * i] for i in range(200)],
    )
    assert main(["--data", str(path), "--target", "y"]) == 2
    assert "column 'comment' holds free text" in capsys.readouterr().err
    assert main(["--data", str(path), "--target", "y", "--drop", "comment"]) == 0


def test_predict_needs_the_training_columns(table, tmp_path, capsys):
    model = tmp_path / "model.joblib"
    main(["--data", str(table), "--target", "price", "--save", str(model)])
    other = tmp_path / "other.csv"
    other.write_text("rooms,district\n3,north\n")
    assert predict(model, other, "--trust") == 2
    assert "lack the column(s)" in capsys.readouterr().err


def test_predict_codes_categories_as_in_training_and_ignores_new_ones(
    table, tmp_path, capsys
):
    model = tmp_path / "model.joblib"
    main(["--data", str(table), "--target", "price", "--save", str(model)])
    capsys.readouterr()
    # "east" first here (its code in this file differs from training), then a
    # district never seen in training and a missing one
    rows = [[3, 10, "east"], [3, 10, "north"], [3, 10, "west"], [3, 10, ""]]
    new = write_csv(tmp_path / "new.csv", ["rooms", "age", "district"], rows)
    assert predict(model, new, "--trust") == 0
    predicted = [float(v) for v in capsys.readouterr().out.split()[1:]]
    assert len(predicted) == 4 and np.isfinite(predicted).all()
    assert predicted[0] != pytest.approx(predicted[1], abs=5)  # east vs north


# 6. Saving -----------------------------------------------------------------


def test_a_failed_save_leaves_the_previous_model_intact(
    table, tmp_path, capsys, monkeypatch
):
    import joblib

    model = tmp_path / "model.joblib"
    assert main(["--data", str(table), "--target", "price", "--save", str(model)]) == 0
    before = model.read_bytes(), (tmp_path / "model.joblib.sha256").read_bytes()

    def full_disk(value, handle, **kwargs):
        handle.write(b"half a model")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(joblib, "dump", full_disk)
    assert main(["--data", str(table), "--target", "price", "--save", str(model)]) == 2
    error = capsys.readouterr().err
    assert "No space left on device" in error
    assert "the previous file is unchanged" in error
    after = model.read_bytes(), (tmp_path / "model.joblib.sha256").read_bytes()
    assert after == before
    leftovers = {path.name for path in tmp_path.iterdir()}
    assert leftovers == {"houses.csv", "model.joblib", "model.joblib.sha256"}
    monkeypatch.undo()
    assert predict(model, table, "--trust") == 0  # still loads


@pytest.mark.parametrize(
    "target, message",
    [
        ("missing/model.joblib", "does not exist"),
        (".", "is a directory"),
    ],
)
def test_an_unwritable_save_path_is_an_error_before_the_fit(
    table, tmp_path, capsys, target, message
):
    target = tmp_path / target
    assert main(["--data", str(table), "--target", "price", "--save", str(target)]) == 2
    output = capsys.readouterr()
    assert message in output.err and output.err.count("\n") == 1
    assert "held-out" not in output.out  # nothing was fitted


def test_a_directory_without_write_permission_is_an_error_before_the_fit(
    table, tmp_path, capsys, monkeypatch
):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_cli_model.tempfile, "mkstemp", refuse)
    model = tmp_path / "model.joblib"
    assert main(["--data", str(table), "--target", "price", "--save", str(model)]) == 2
    output = capsys.readouterr()
    assert "cannot write in" in output.err and "Permission denied" in output.err
    assert "held-out" not in output.out


# 9, 10. Loading: pickle needs --trust; checksums ---------------------------


@pytest.fixture
def saved(table, tmp_path, capsys):
    """A joblib model and its checksum file."""
    model = tmp_path / "model.joblib"
    assert main(["--data", str(table), "--target", "price", "--save", str(model)]) == 0
    capsys.readouterr()
    return model


def test_a_pickle_model_is_refused_without_trust(saved, table, capsys):
    assert predict(saved, table) == 2
    error = capsys.readouterr().err
    assert "pickle" in error and "runs any code" in error and "--trust" in error
    assert error.count("\n") == 1


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [flip_a_byte, truncate])
@pytest.mark.parametrize("name", ["model.joblib", "model.skops"])
def test_a_damaged_model_is_a_one_line_error(table, tmp_path, capsys, damage, name):
    if name.endswith(".skops"):
        pytest.importorskip("skops")
    model = tmp_path / name
    assert main(["--data", str(table), "--target", "price", "--save", str(model)]) == 0
    damage(model)
    capsys.readouterr()
    assert predict(model, table, "--trust") == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1
    assert "damaged" in error and "SHA-256" in error
    if damage is flip_a_byte:
        return  # without the checksum, a flipped byte may go unnoticed
    # without the checksum file, loading itself fails, also in one line
    (tmp_path / f"{name}.sha256").unlink()
    assert predict(model, table, "--trust", "--no-checksum") == 2
    error = capsys.readouterr().err
    assert error.startswith("error: cannot load") and error.count("\n") == 1


def test_a_model_without_its_checksum_needs_no_checksum_not_trust(saved, table, capsys):
    saved.with_name("model.joblib.sha256").unlink()
    assert predict(saved, table, "--trust") == 2  # trust is not about damage
    assert "--no-checksum" in one_line_error(capsys)
    assert predict(saved, table, "--trust", "--no-checksum") == 0
    capsys.readouterr()
    skops = pytest.importorskip("skops.io")
    bundle = _cli_model.load(saved, trust=True, checksum=False)
    model = saved.with_name("model.skops")
    skops.dump(bundle, model)  # no checksum file
    assert predict(model, table) == 2
    error = one_line_error(capsys)
    assert "checksum file" in error and "model.skops.sha256' not found" in error
    assert "--trust " not in error and "--no-checksum" in error
    assert predict(model, table, "--trust") == 2
    capsys.readouterr()
    assert predict(model, table, "--no-checksum") == 0


# 7, 8. Reading and encoding large data -------------------------------------


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_many_categories_are_one_hot_encoded_sparse(tmp_path):
    n_rows, n_categories = 100_000, 40_000
    rng = np.random.RandomState(0)
    codes = rng.randint(n_categories, size=n_rows)
    path = tmp_path / "shops.csv"
    with path.open("w") as handle:
        handle.write("size,shop,sales\n")
        sizes = rng.uniform(1, 2, size=n_rows)
        handle.writelines(
            f"{size:.3f},shop{code},{code % 7 + size:.3f}\n"
            for size, code in zip(sizes, codes)
        )
    tracemalloc.start()
    features, y = training_data(read_table(path, ["size", "shop", "sales"]), "sales")
    assert is_sparse(features)
    X = preprocessing(features).fit_transform(features.X)
    assert sparse.issparse(X) and X.format == "csr"
    assert X.shape == (n_rows, 1 + len(np.unique(codes))) and X.nnz == 2 * n_rows
    model = ExponentialRegressor(n_neurons=4, max_iter=2, learning_rate=1e-3)
    model.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 200 * 2**20  # a dense X alone would take 30 GiB


def test_reading_keeps_columns_typed(tmp_path):
    rows = [
        [f"{i / 3:.3f}", ["a", "b", " a "][i % 3], "NA" if i == 5 else i]
        for i in range(30)
    ]
    path = write_csv(tmp_path / "t.csv", ["x", "letter", "n"], rows)
    table = read_table(path, ["x", "letter", "n"])
    assert table.numeric["x"].dtype == np.float64
    codes, categories = table.text["letter"]
    assert codes.dtype == np.int32 and categories == ["a", "b"]  # stripped
    assert np.isnan(table.numeric["n"][5]) and table.numeric["n"][6] == 6


def test_a_column_that_turns_to_text_late_is_read_as_text(tmp_path, monkeypatch):
    monkeypatch.setattr("skexpreg._cli_data._CHUNK_ROWS", 4)
    rows = [[i, "1.50" if i < 9 else "big", i] for i in range(10)]
    path = write_csv(tmp_path / "t.csv", ["x", "kind", "y"], rows)
    codes, categories = read_table(path, ["kind"]).text["kind"]
    assert categories == ["1.50", "big"]  # as written, not as a float
    assert codes.tolist() == [0] * 9 + [1]


# 11 and clear errors -------------------------------------------------------


@pytest.mark.parametrize(
    "header, message",
    [
        (["a", "a", "y"], "duplicate column name(s) 'a'"),
        (["a", "y", "y"], "duplicate column name(s) 'y'"),
        (["a", " y", "y"], "duplicate column name(s) 'y'"),
    ],
)
def test_duplicate_column_names_are_refused(tmp_path, capsys, header, message):
    path = write_csv(tmp_path / "d.csv", header, [[1, 2, 3]] * 20)
    assert main(["--data", str(path), "--target", "y"]) == 2
    assert message in capsys.readouterr().err


def one_line_error(capsys):
    output = capsys.readouterr()
    assert output.err.startswith("error: ") and output.err.count("\n") == 1
    return output.err


@pytest.mark.parametrize(
    "cell, column",
    [("inf", "a"), ("-Infinity", "a"), ("1e400", "y"), ("-1e309", "y")],
)
def test_infinite_numbers_are_refused_with_their_line(tmp_path, capsys, cell, column):
    rows = [[i, i] for i in range(20)]
    rows[7][0 if column == "a" else 1] = cell
    path = write_csv(tmp_path / "inf.csv", ["a", "y"], rows)
    assert main(["--data", str(path), "--target", "y"]) == 2
    error = one_line_error(capsys)
    assert f"line 9, column '{column}'" in error and "not a finite number" in error


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_files_that_are_not_utf8_are_refused(tmp_path, capsys, encoding):
    rows = [[f"café {i % 3}", i, 2 * i] for i in range(20)]
    path = write_csv(tmp_path / "l.csv", ["place", "x", "y"], rows, encoding)
    assert main(["--data", str(path), "--target", "y"]) == 2
    assert "UTF-8" in one_line_error(capsys)


@pytest.mark.parametrize("n_rows", [1, 2, 3])
@pytest.mark.parametrize("search", [[], ["--search"]])
def test_too_few_rows_is_a_clear_error(tmp_path, capsys, n_rows, search):
    path = write_csv(tmp_path / "s.csv", ["x", "y"], [[i, i] for i in range(n_rows)])
    assert main(["--data", str(path), "--target", "y", *search]) == 2
    assert "too few" in one_line_error(capsys)


def test_a_failing_baseline_is_reported_and_the_model_still_saved(tmp_path, capsys):
    rng = np.random.RandomState(0)
    # a feature near the float64 limit: the baselines' scalers overflow
    rows = [
        [f"{a * 1e300:.6g}", f"{b:.6g}", f"{a + b:.6g}"] for a, b in rng.randn(60, 2)
    ]
    path = write_csv(tmp_path / "extreme.csv", ["a", "b", "y"], rows)
    model = tmp_path / "model.joblib"
    assert main(["--data", str(path), "--target", "y", "--save", str(model)]) == 0
    output = capsys.readouterr().out
    assert "RidgeCV" in output and "failed" in output
    assert model.is_file()


def test_a_failing_estimator_is_a_one_line_error(table, capsys, monkeypatch):
    def fail(self, X, y, sample_weight=None):
        raise ValueError("no good\nsecond line")

    monkeypatch.setattr(ExponentialRegressor, "fit", fail)
    assert main(["--data", str(table), "--target", "price"]) == 2
    assert "ExponentialRegressor could not be fitted" in one_line_error(capsys)


def test_column_names_are_printed_without_control_characters(tmp_path, capsys):
    name = "\x1b[2Jred\u202e"
    path = write_csv(tmp_path / "c.csv", [name, "y"], [[i, i] for i in range(20)])
    assert main(["--data", str(path), "--target", "nope"]) == 2
    error = capsys.readouterr().err
    assert "\x1b" not in error and "\u202e" not in error
    assert "'\\x1b[2Jred\\u202e'" in error


@pytest.mark.parametrize("target", ["=cmd", "+1", "-2", "@sum"])
def test_prediction_headers_cannot_be_spreadsheet_formulas(tmp_path, capsys, target):
    rows = [[i, i % 5] for i in range(30)]
    path = write_csv(tmp_path / "f.csv", ["x", target], rows)
    model = tmp_path / "model.joblib"
    assert main(["--data", str(path), "--target", target, "--save", str(model)]) == 0
    output = tmp_path / "out.csv"
    assert predict(model, path, "--trust", "--output", str(output)) == 0
    header = output.read_text().splitlines()[0]
    assert header.startswith("'") and "\t" not in header


# B. A command line that explains itself ------------------------------------


def test_help_shows_the_estimators_defaults_read_without_importing_it():
    assert __main__._estimator_defaults() == ExponentialRegressor().get_params()
    assert __main__._solver_names() == ["auto", *sorted(SOLVERS)]


def test_help_and_version_do_not_import_scikit_learn():
    code = (
        "import sys\n"
        "from skexpreg.__main__ import main\n"
        "for argv in (['--help'], ['predict', '--help'], ['--version']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'sklearn', 'scipy', 'skexpreg._regressor'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "(default: 128)" in result.stdout  # --n-neurons


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--learning-rate", "fast", "expected a positive float or 'auto'"),
        ("--learning-rate", "-1", "expected a positive float or 'auto'"),
        ("--n-neurons", "0", "expected a positive integer"),
        ("--alpha", "-0.1", "expected a non-negative float"),
        ("--test-size", "1.5", "expected a float between 0 and 1"),
        ("--solver", "adam", "invalid choice"),
    ],
)
def test_bad_values_name_what_is_expected(capsys, option, value, expected):
    with pytest.raises(SystemExit) as exit_:
        main([option, value])
    assert exit_.value.code == 2
    assert expected in capsys.readouterr().err


def test_options_left_out_take_the_estimators_defaults():
    args = __main__._parser().parse_args(["--n-neurons", "7"])
    estimator = __main__._estimator(args)
    params = ExponentialRegressor().get_params()
    assert estimator.n_neurons == 7
    for name in ("learning_rate", "alpha", "max_iter", "solver", "early_stopping"):
        assert getattr(estimator, name) == params[name]


def test_long_fits_print_progress_lines_unless_quiet(table, capsys, monkeypatch):
    monkeypatch.setattr(__main__, "_PROGRESS_AFTER_S", 0.0)
    assert main(["--data", str(table), "--target", "price"]) == 0
    output = capsys.readouterr()
    assert "ExponentialRegressor: Iteration" in output.err
    assert "Iteration" not in output.out
    assert main(["--data", str(table), "--target", "price", "--quiet"]) == 0
    assert "Iteration" not in capsys.readouterr().err


def test_report_as_html_holds_the_table_and_the_figure(table, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    report = tmp_path / "report.html"
    arguments = ["--data", str(table), "--target", "price", "--report", str(report)]
    assert __main__.main(arguments) == 0
    text = report.read_text(encoding="utf-8")
    for name in ("ExponentialRegressor", "RidgeCV", "MLPRegressor"):
        assert f"<td>{name}</td>" in text
    assert "src='data:image/png;base64," in text
    assert "report written to" in capsys.readouterr().out


def test_report_as_png_from_the_main_job(tmp_path):
    pytest.importorskip("matplotlib")
    report = tmp_path / "report.PNG"
    assert __main__.main(["--report", str(report)]) == 0
    assert report.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "name, hide_matplotlib, message",
    [
        ("report.pdf", False, "writes .html or .png files, not .pdf"),
        ("report.png", True, "needs matplotlib"),
        ("missing/report.png", False, "does not exist"),
    ],
)
def test_report_problems_are_clear_errors_before_the_fit(
    table, tmp_path, capsys, monkeypatch, name, hide_matplotlib, message
):
    if hide_matplotlib:
        monkeypatch.setitem(sys.modules, "matplotlib", None)
    arguments = ["--data", str(table), "--target", "price"]
    assert __main__.main([*arguments, "--report", str(tmp_path / name)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "held-out R2" not in captured.out  # refused before any fit
