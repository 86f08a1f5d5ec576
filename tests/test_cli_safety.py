"""The command line loses nothing and runs nothing unasked (issue 23).

Signals (Ctrl-C anywhere, SIGTERM, SIGKILL during a save), targets that are
not regular files, explicit and narrow trust, the model saved before the
report, honest re-save errors, baselines on wide sparse data, and the small
ones (``--drop`` of the target, all-missing columns).

Device nodes are never real ones: a FIFO, a socket, or a private character
node made in the test's own temporary folder (skipped where not permitted).
"""

import csv
import errno
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from skexpreg import ExponentialRegressor, __main__, _baselines, _cli_model
from skexpreg._cli_data import Features, preprocessing

main = __main__.main


@pytest.fixture
def table(tmp_path):
    """A small CSV: two numeric columns, a categorical one, the target."""
    rng = np.random.RandomState(0)
    path = tmp_path / "houses.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rooms", "age", "district", "price"])
        for i in range(90):
            rooms, age = rng.uniform(1, 8), rng.uniform(0, 50)
            district = ["north", "south", "east"][i % 3]
            price = 50 * rooms - age + {"north": 30, "south": 0, "east": 10}[district]
            writer.writerow([f"{rooms:.3f}", f"{age:.1f}", district, f"{price:.2f}"])
    return path


def fit(table, *extra):
    return main(["--data", str(table), "--target", "price", "--quiet", *extra])


def predict(model, data, *extra):
    return main(["predict", "--model", str(model), "--data", str(data), *extra])


def one_line_error(capsys):
    output = capsys.readouterr()
    assert output.err.startswith("error: ") and output.err.count("\n") == 1, output
    return output.err


def files(folder):
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def temporaries(folder):
    return sorted(path.name for path in folder.iterdir() if path.suffix == ".tmp")


@pytest.fixture
def saved(table, tmp_path, capsys):
    """A saved joblib model and its checksum, and their bytes."""
    model = tmp_path / "model.joblib"
    assert fit(table, "--save", str(model)) == 0
    capsys.readouterr()
    return model, files(tmp_path)


# 1. Signals --------------------------------------------------------------------

# Runs the command line in a child process after making one step wait (up to a
# minute) once it has said so on stderr: the parent then sends the signal.
DRIVER = textwrap.dedent(
    """
    import sys, time

    def waiting(function):
        def wait_then_run(*args, **kwargs):
            print("WAITING", file=sys.stderr, flush=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.01)
            return function(*args, **kwargs)
        return wait_then_run

    where = sys.argv[1]
    if where == "mlp":  # inside MLPRegressor's `except KeyboardInterrupt`
        from sklearn.neural_network import MLPRegressor as owner
        name = "_update_no_improvement_count"
    elif where == "estimator":
        from skexpreg import ExponentialRegressor as owner
        name = "fit"
    elif where == "dump":  # half the model written to the temporary file
        import joblib

        dump = joblib.dump
        def half_then_wait(value, handle, **kwargs):
            handle.write(b"half a model")
            handle.flush()
            waiting(lambda: None)()
            return dump(value, handle, **kwargs)
        joblib.dump = half_then_wait
    if where in ("mlp", "estimator"):
        setattr(owner, name, waiting(getattr(owner, name)))

    from skexpreg.__main__ import main
    sys.exit(main(sys.argv[2:]))
    """
)


def run_and_signal(tmp_path, where, arguments, signum):
    """Run the driver; send ``signum`` once it waits; its (code, stderr)."""
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    child = subprocess.Popen(
        [sys.executable, str(driver), where, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    lines = []
    try:
        for line in child.stderr:  # imports take seconds on a busy machine
            lines.append(line)
            if line.strip() == "WAITING":
                break
        else:
            pytest.fail(f"the child never reached {where}: {''.join(lines)}")
        os.kill(child.pid, signum)
        _, rest = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, "".join(lines[:-1]) + rest


@pytest.mark.parametrize("where", ["mlp", "estimator"])
def test_ctrl_c_during_a_fit_stops_the_run_and_keeps_the_previous_model(
    saved, table, tmp_path, where
):
    # MLPRegressor catches KeyboardInterrupt and trains on: the run used to
    # go on, save over the previous model and exit 0.
    model, before = saved
    code, error = run_and_signal(
        tmp_path,
        where,
        ["--data", str(table), "--target", "price", "--quiet", "--save", str(model)],
        signal.SIGINT,
    )
    assert code == 130, error
    lines = [line for line in error.splitlines() if line.startswith("error: ")]
    assert lines == [f"error: interrupted by Ctrl-C (SIGINT); '{model}' is unchanged"]
    assert "Traceback" not in error and "interrupted by user" not in error
    assert files(tmp_path).items() >= before.items()
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_save_leaves_no_temporary_file(
    saved, table, tmp_path, signum, code
):
    model, before = saved
    arguments = ["--data", str(table), "--target", "price", "--quiet"]
    returned, error = run_and_signal(
        tmp_path, "dump", [*arguments, "--save", str(model)], signum
    )
    assert returned == code, error
    assert "interrupted by" in error and f"'{model}' is unchanged" in error
    assert files(tmp_path).items() >= before.items()
    assert temporaries(tmp_path) == []


def test_a_save_killed_outright_leaves_a_temporary_that_the_next_save_removes(
    saved, table, tmp_path, capsys
):
    model, before = saved
    arguments = ["--data", str(table), "--target", "price", "--quiet"]
    code, _ = run_and_signal(
        tmp_path, "dump", [*arguments, "--save", str(model)], signal.SIGKILL
    )
    assert code == -signal.SIGKILL
    left = temporaries(tmp_path)
    assert len(left) == 1 and left[0].startswith(".model.joblib.skexpreg-")
    assert files(tmp_path)["model.joblib"] == before["model.joblib"]
    # a live process's temporary file is left alone...
    parts = left[0].split("-")  # .NAME.skexpreg, HOST, PID, RANDOM.tmp
    alive = tmp_path / "-".join([*parts[:2], str(os.getpid()), *parts[3:]])
    alive.write_bytes(b"in progress")
    assert fit(table, "--save", str(model)) == 0
    # ...the dead one's is removed by the next save
    assert temporaries(tmp_path) == [alive.name]
    assert predict(model, table, "--trust") == 0


def test_a_signal_during_the_renames_is_held_until_both_files_are_in_place(
    saved, table, tmp_path, capsys, monkeypatch
):
    model, before = saved
    replace = os.replace

    def replace_then_signal(source, target):
        replace(source, target)
        if Path(target) == model:  # between the model's and the checksum's
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(_cli_model.os, "replace", replace_then_signal)
    assert fit(table, "--save", str(model), "--random-state", "1") == 130
    error = one_line_error(capsys)
    assert "interrupted by Ctrl-C" in error
    assert f"the model was saved to '{model}'" in error
    monkeypatch.undo()
    assert model.read_bytes() != before["model.joblib"]
    assert predict(model, table, "--trust") == 0  # the checksum matches
    assert temporaries(tmp_path) == []


def test_uninterrupted_holds_a_signal_and_raises_it_at_the_end():
    with _cli_model.handling_signals():
        done = []
        with pytest.raises(_cli_model.Interrupted) as interrupt:
            with _cli_model.uninterrupted():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.01)
                done.append(True)  # reached: the signal was held
        assert done and interrupt.value.signum == signal.SIGTERM
        # a block that fails drops the held signal: its own error ends the run
        with pytest.raises(OSError):
            with _cli_model.uninterrupted():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
                raise OSError("disk")
        with _cli_model.uninterrupted():
            pass  # nothing left pending
    # outside, the previous handlers are back
    assert signal.getsignal(signal.SIGINT) is not _cli_model.on_signal


# 2. Only regular files are written or replaced --------------------------------


def _fifo(path):
    os.mkfifo(path)
    return "a named pipe (FIFO)"


def _socket(path):
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
    except OSError as error:  # a path too long for AF_UNIX
        pytest.skip(f"no socket: {error}")
    finally:
        server.close()
    return "a socket"


def _character_device(path):
    try:  # /dev/null's numbers, but a private node in the test's folder
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError) as error:
        pytest.skip(f"mknod not permitted here: {error}")
    return "a character device"


def _directory(path):
    path.mkdir()
    return "a directory"


SPECIAL = [_fifo, _socket, _character_device, _directory]


def _node(tmp_path, make, name):
    path = tmp_path / name
    kind = make(path)
    return path, kind, os.lstat(path)


def _unchanged(path, status):
    now = os.lstat(path)
    return (now.st_mode, now.st_ino, now.st_rdev) == (
        status.st_mode,
        status.st_ino,
        status.st_rdev,
    )


@pytest.mark.parametrize("make", SPECIAL)
@pytest.mark.parametrize("which", ["model", "checksum"])
def test_saving_over_a_special_file_is_an_error_before_the_fit(
    table, tmp_path, capsys, make, which
):
    name = "m.joblib" if which == "model" else "m.joblib.sha256"
    node, kind, status = _node(tmp_path, make, name)
    assert fit(table, "--save", str(tmp_path / "m.joblib")) == 2
    output = capsys.readouterr()
    assert f"it is {kind}; only a regular file is written or replaced" in output.err
    assert output.err.count("\n") == 1
    assert "held-out" not in output.out  # refused before the fit
    assert _unchanged(node, status)
    names = {path.name for path in tmp_path.iterdir()}
    assert names == {"houses.csv", name}  # no checksum, no temporary file


@pytest.mark.parametrize("make", SPECIAL)
def test_predictions_over_a_special_file_are_an_error_before_loading(
    saved, table, tmp_path, capsys, make
):
    model, _ = saved
    node, kind, status = _node(tmp_path, make, "out.csv")
    assert predict(model, table, "--trust", "--output", str(node)) == 2
    error = one_line_error(capsys)
    assert f"write the predictions to '{node}': it is {kind}" in error
    assert _unchanged(node, status)


@pytest.mark.parametrize("make", SPECIAL)
def test_a_report_over_a_special_file_is_an_error_before_the_fit(
    table, tmp_path, capsys, make
):
    pytest.importorskip("matplotlib")
    node, kind, status = _node(tmp_path, make, "report.png")
    assert fit(table, "--report", str(node)) == 2
    output = capsys.readouterr()
    assert f"it is {kind}" in output.err and "held-out" not in output.out
    assert _unchanged(node, status)


def test_a_model_that_is_not_a_regular_file_is_not_read(table, tmp_path, capsys):
    fifo = tmp_path / "model.skops"
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    assert predict(fifo, table) == 2
    assert "is not a regular file, so not a model file" in one_line_error(capsys)


def test_a_target_that_turns_special_during_the_fit_is_not_replaced(tmp_path):
    target = tmp_path / "m.joblib"
    _cli_model.check_can_save(target)  # fine before the fit...
    os.mkfifo(target)  # ...then something else takes the name
    with pytest.raises(_cli_model.DataError, match="named pipe"):
        _cli_model.save({"format": _cli_model.FORMAT}, target)
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    with pytest.raises(_cli_model.DataError, match="named pipe"):
        with _cli_model.replacing(target, "write the predictions to", "file"):
            pass
    assert [path.name for path in tmp_path.iterdir()] == ["m.joblib"]


def test_predictions_replace_a_regular_file_atomically(
    saved, table, tmp_path, capsys, monkeypatch
):
    model, _ = saved
    output = tmp_path / "out.csv"
    output.write_text("previous predictions\n")

    def full_disk(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_cli_model.os, "fsync", full_disk)
    assert predict(model, table, "--trust", "--output", str(output)) == 2
    error = one_line_error(capsys)
    assert "No space left on device" in error
    assert "the previous predictions file is unchanged" in error
    assert output.read_text() == "previous predictions\n"
    assert temporaries(tmp_path) == []


# 3. Trust is explicit and narrow ----------------------------------------------


class Sneaky:
    """Runs code when skops rebuilds it: writes the file it names."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __setstate__(self, state):
        Path(state["marker"]).write_text("code ran")
        self.__dict__.update(state)


SNEAKY = f"{Sneaky.__module__}.Sneaky"


@pytest.fixture
def crafted(tmp_path, table):
    """A .skops file with the keys of a model and a type that runs code."""
    skops = pytest.importorskip("skops.io")
    marker = tmp_path / "ran.txt"
    path = tmp_path / "crafted.skops"
    bundle = {
        "format": _cli_model.FORMAT,
        "pipeline": Sneaky(marker),
        "numeric": ["rooms"],
        "categorical": [],
        "categories": [],
        "target": "price",
    }
    skops.dump(bundle, path)
    return path, marker


def test_a_crafted_skops_file_without_checksum_runs_nothing_unless_its_types_are_named(
    crafted, table, capsys
):
    path, marker = crafted
    # the missing checksum's advice is --no-checksum, never --trust
    assert predict(path, table) == 2
    error = one_line_error(capsys)
    assert "--no-checksum" in error and "--trust" not in error.replace(
        "--trust-type", ""
    )
    # --trust (pickles) opens nothing: neither the checksum nor the types
    assert predict(path, table, "--trust") == 2
    assert "--no-checksum" in one_line_error(capsys)
    for extra in (["--no-checksum"], ["--no-checksum", "--trust"]):
        assert predict(path, table, *extra) == 2
        error = one_line_error(capsys)
        assert f"'{SNEAKY}'" in error and f"--trust-type {SNEAKY}" in error
        assert "can run their code" in error
    assert not marker.exists()
    # naming the type is the user's explicit choice: only then does it load
    assert predict(path, table, "--no-checksum", "--trust-type", SNEAKY) == 2
    assert "not a model saved by" in one_line_error(capsys)
    assert marker.read_text() == "code ran"


def test_a_crafted_skops_file_with_its_checksum_is_refused_for_its_types(
    crafted, table, capsys
):
    path, marker = crafted
    digest = _cli_model._sha256(path)
    _cli_model.checksum_path(path).write_text(f"{digest}  {path.name}\n")
    for extra in ([], ["--trust"]):
        assert predict(path, table, *extra) == 2
        assert f"--trust-type {SNEAKY}" in one_line_error(capsys)
    assert not marker.exists()


def test_trust_type_is_for_skops_files(saved, table, capsys):
    model, _ = saved
    assert predict(model, table, "--trust", "--trust-type", "os.system") == 2
    assert "--trust-type names types of a .skops file" in one_line_error(capsys)


def test_a_checksum_that_does_not_match_is_refused_with_no_checksum_too(
    saved, table, capsys
):
    model, _ = saved
    _cli_model.checksum_path(model).write_text("0" * 64 + "  model.joblib\n")
    assert predict(model, table, "--trust", "--no-checksum") == 2
    assert "SHA-256 does not match" in one_line_error(capsys)


# 4. The model before the pictures ---------------------------------------------


def test_a_report_into_an_unwritable_folder_is_an_error_before_the_fit(
    table, tmp_path, capsys, monkeypatch
):
    pytest.importorskip("matplotlib")

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_cli_model.tempfile, "mkstemp", refuse)
    assert fit(table, "--report", str(tmp_path / "report.png")) == 2
    output = capsys.readouterr()
    assert "cannot write in" in output.err and "Permission denied" in output.err
    assert "held-out" not in output.out


def test_a_report_that_cannot_be_written_after_the_fit_keeps_the_saved_model(
    table, tmp_path, capsys, monkeypatch
):
    pytest.importorskip("matplotlib")
    model, report = tmp_path / "model.joblib", tmp_path / "report.png"
    report.write_bytes(b"previous report")
    replace = os.replace

    def full_disk_for_the_report(source, target):
        if Path(target) == report:
            raise OSError(errno.ENOSPC, "No space left on device")
        replace(source, target)

    monkeypatch.setattr(_cli_model.os, "replace", full_disk_for_the_report)
    assert fit(table, "--save", str(model), "--report", str(report)) == 2
    error = one_line_error(capsys)
    assert error.startswith(f"error: the model was saved to '{model}', but ")
    assert "No space left on device" in error and "report" in error
    assert report.read_bytes() == b"previous report"
    assert temporaries(tmp_path) == []
    monkeypatch.undo()
    assert predict(model, table, "--trust") == 0


def test_a_report_that_fails_to_draw_says_the_model_was_saved(
    table, tmp_path, capsys, monkeypatch
):
    pytest.importorskip("matplotlib")
    from skexpreg import _report

    def fail(*args, **kwargs):
        raise RuntimeError("renderer broke\nsecond line")

    monkeypatch.setattr(_report, "write_report", fail)
    model = tmp_path / "model.skops" if _has("skops") else tmp_path / "m.joblib"
    assert fit(table, "--save", str(model), "--report", str(tmp_path / "r.png")) == 2
    error = one_line_error(capsys)
    assert f"the model was saved to '{model}', but the report" in error
    assert "RuntimeError: renderer broke" in error
    assert model.is_file() and _cli_model.checksum_path(model).is_file()


def _has(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def test_names_with_dollar_signs_are_drawn_literally(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    target = "a$_b_c$"  # mathtext would fail on it: double subscript
    path = tmp_path / "x$_1_2$.csv"
    rows = [[i, (i * 7) % 5, i % 3 + 0.5 * i] for i in range(60)]
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["u", "v", target], *rows])
    figures = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda figure: figures.append(figure))
    model, report = tmp_path / "m.joblib", tmp_path / "report.png"
    arguments = ["--data", str(path), "--target", target, "--quiet"]
    assert main([*arguments, "--save", str(model), "--report", str(report)]) == 0
    assert report.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and model.is_file()
    (figure,) = figures
    # the names from the file (the tick labels of log axes are mathtext)
    named = [text for text in figure.findobj(Text) if target in text.get_text()]
    assert named and not any(text.get_parse_math() for text in named)
    assert any(path.name in text.get_text() for text in named)
    close(figure)


# 5. Honest messages when a re-save fails part-way -----------------------------


def _failing_checksum_rename(monkeypatch, link=True):
    replace = os.replace

    def fail_for_the_checksum(source, target):
        if str(target).endswith(".sha256"):
            raise OSError(errno.EIO, "Input/output error")
        replace(source, target)

    monkeypatch.setattr(_cli_model.os, "replace", fail_for_the_checksum)
    if not link:

        def no_links(source, target):
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(_cli_model.os, "link", no_links)


def test_a_resave_whose_checksum_fails_restores_the_previous_model(
    saved, table, tmp_path, capsys, monkeypatch
):
    model, before = saved
    _failing_checksum_rename(monkeypatch)
    assert fit(table, "--save", str(model), "--random-state", "1") == 2
    error = one_line_error(capsys)
    assert f"checksum file '{model}.sha256' could not be written" in error
    assert "the previous model and its checksum file are unchanged" in error
    assert files(tmp_path) == before and temporaries(tmp_path) == []
    monkeypatch.undo()
    assert predict(model, table, "--trust") == 0


def test_a_resave_that_cannot_restore_says_exactly_what_changed(
    saved, table, tmp_path, capsys, monkeypatch
):
    model, before = saved
    _failing_checksum_rename(monkeypatch, link=False)
    assert fit(table, "--save", str(model), "--random-state", "1") == 2
    error = one_line_error(capsys)
    assert "unchanged" not in error
    assert (
        f"'{model}' now holds the new model but '{model}.sha256' still holds "
        "the previous model's checksum" in error
    )
    now = files(tmp_path)
    assert now["model.joblib"] != before["model.joblib"]
    assert now["model.joblib.sha256"] == before["model.joblib.sha256"]
    monkeypatch.undo()
    assert predict(model, table, "--trust") == 2  # as the message said
    assert "does not match" in one_line_error(capsys)


def test_a_first_save_whose_checksum_fails_saves_nothing(
    table, tmp_path, capsys, monkeypatch
):
    _failing_checksum_rename(monkeypatch)
    assert fit(table, "--save", str(tmp_path / "model.joblib")) == 2
    assert "nothing was saved" in one_line_error(capsys)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["houses.csv"]


# 6. Baselines that fit the data -----------------------------------------------


@pytest.mark.parametrize(
    "n_samples, n_features, folds",
    [
        (442, 10, None),  # the main job: leave-one-out
        (28_820, 38_427, _baselines.RIDGE_FOLDS),  # the one-hot data
        (100_000, 4096, None),  # 4096 square: 128 MiB
        (None, 38_427, None),  # shape unknown (benchmarks): as before
    ],
)
def test_ridge_uses_folds_when_leave_one_out_would_be_too_large(
    n_samples, n_features, folds
):
    assert _baselines.ridge_folds(n_samples, n_features) == folds
    ridge = _baselines.baselines(0, n_samples=n_samples, n_features=n_features)
    assert ridge["RidgeCV"][-1].cv == folds


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_ridge_baseline_fits_wide_one_hot_data_without_a_dense_square(tmp_path):
    n_rows, n_categories = 6000, 5000  # leave-one-out: a 5001 square, 191 MiB
    rng = np.random.RandomState(0)
    codes = np.arange(n_rows) % n_categories
    X = np.column_stack([rng.uniform(size=n_rows), codes]).astype(float)
    y = X[:, 0] + codes % 7
    features = Features(X, ["size"], ["shop"], [[f"s{i}" for i in range(5000)]])
    models, notes = __main__._baseline_pipelines(features, n_rows, 0)
    assert notes == {"RidgeCV": "5-fold CV: too wide for leave-one-out"}
    ridge = models["RidgeCV"]
    tracemalloc.start()
    ridge.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 2**20
    assert ridge.score(X, y) > 0.9
    # the preprocessing is the estimator's, sparse
    assert preprocessing(features).fit_transform(X).format == "csr"


def test_the_k_fold_ridge_is_noted_in_its_row(table, capsys, monkeypatch):
    monkeypatch.setattr(_baselines, "LEAVE_ONE_OUT_MAX", 3)
    assert fit(table) == 0
    row = next(
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("RidgeCV")
    )
    assert row.endswith("(5-fold CV: too wide for leave-one-out)")


def test_a_baseline_out_of_memory_is_a_failed_row_and_the_model_is_saved(
    table, tmp_path, capsys, monkeypatch
):
    from sklearn.neural_network import MLPRegressor

    def out_of_memory(self, X, y, **kwargs):
        raise MemoryError("Unable to allocate 11.0 GiB")

    monkeypatch.setattr(MLPRegressor, "fit", out_of_memory)
    model = tmp_path / "model.joblib"
    assert fit(table, "--save", str(model)) == 0
    output = capsys.readouterr().out
    assert "MLPRegressor" in output
    assert "failed  (MemoryError: Unable to allocate 11.0 GiB)" in output
    assert model.is_file()


def test_an_unexpected_baseline_failure_does_not_end_the_run(
    table, capsys, monkeypatch
):
    from sklearn.linear_model import RidgeCV

    def broken(self, X, y, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr(RidgeCV, "fit", broken)
    assert fit(table) == 0
    assert "failed  (RuntimeError: something else)" in capsys.readouterr().out


# 7. The small ones ---------------------------------------------------------------


def test_dropping_the_target_is_a_clear_error(table, capsys):
    assert fit(table, "--drop", "price") == 2
    assert "--drop names the target column 'price'" in one_line_error(capsys)


def test_an_all_missing_column_is_named_once_and_predict_is_quiet(tmp_path, capsys):
    rng = np.random.RandomState(0)
    path = tmp_path / "nan.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "empty", "y"])
        for a, b in rng.uniform(size=(80, 2)):
            writer.writerow([f"{a:.3f}", f"{b:.3f}", "", f"{a + b:.3f}"])
    model = tmp_path / "m.joblib"
    arguments = ["--data", str(path), "--target", "y", "--quiet"]
    assert main([*arguments, "--save", str(model)]) == 0
    output = capsys.readouterr()
    warnings = [line for line in output.err.splitlines() if line]
    assert warnings == [
        "warning: column(s) 'empty' hold no values (all missing): not used as features"
    ]
    assert "2 numeric" in output.out
    assert predict(model, path, "--trust") == 0
    assert capsys.readouterr().err == ""


def test_only_all_missing_columns_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "nan.csv"
    path.write_text("empty,y\n" + "".join(f",{i}\n" for i in range(20)))
    assert main(["--data", str(path), "--target", "y"]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error == (
        "error: no feature columns left besides the target (all missing: 'empty')"
    )


def test_the_same_warning_from_the_fit_and_the_refit_is_shown_once(
    table, tmp_path, capsys, monkeypatch
):
    import warnings

    fit_ = ExponentialRegressor.fit

    def warn_then_fit(self, *args, **kwargs):
        warnings.warn("the same words", UserWarning)
        return fit_(self, *args, **kwargs)

    monkeypatch.setattr(ExponentialRegressor, "fit", warn_then_fit)
    assert fit(table, "--save", str(tmp_path / "m.joblib")) == 0  # fit, refit
    error = capsys.readouterr().err
    assert error.count("the same words") == 1
