"""``--report``: the command line's comparison as pictures (needs matplotlib).

One figure: the estimator's training loss (and validation R², with early
stopping) per step and the held-out R² of each ``alpha`` its automatic
choice tried, then predicted against actual values and residuals for every
model on the held-out rows. A ``.png`` path gets the figure; an ``.html``
path gets the results table and the figure embedded in one self-contained
page.

The report is drawn after the model is saved, and written like every file of
the command line (a temporary file renamed over the target; only a regular
file is replaced). Names from the user's files (the target, the file name)
are drawn literally: matplotlib would read text between two ``$`` as
mathematics, and fail on some of it.
"""

import base64
import html
import io
from pathlib import Path

import numpy as np

from skexpreg import _cli_model
from skexpreg._cli_data import DataError

FORMATS = (".html", ".png")


def check_can_report(path):
    """Refuse, before any fit, a report that could not be written."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise DataError(
            f"--report writes .html or .png files, not {path.suffix or 'no suffix'}"
        )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise DataError("--report needs matplotlib: pip install matplotlib") from None
    # not a directory or a device, in a folder that exists and takes a file
    _cli_model.check_target(path, "write the report to")


def write_report(path, results, estimator, title):
    """Write the report.

    Parameters
    ----------
    path : path-like
        ``.html`` or ``.png``.
    results : dict
        ``{model name: {"score", "error", "elapsed", "actual", "prediction"}}``
        on the held-out rows.
    estimator : ExponentialRegressor
        The fitted estimator (for its curves).
    title : str
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    n_models = len(results)
    figure, axes = plt.subplots(
        3, max(2, n_models), figsize=(4.2 * max(2, n_models), 11), squeeze=False
    )
    literal = dict(parse_math=False)  # no mathtext: names shown as they are
    figure.suptitle(title, **literal)
    loss = axes[0, 0]
    loss.semilogy(np.arange(1, len(estimator.loss_curve_) + 1), estimator.loss_curve_)
    # The stochastic solver records one averaged loss per epoch.
    epochs = getattr(estimator, "solver_", None) == "sgd"
    loss.set(
        xlabel="epoch" if epochs else "step",
        ylabel="averaged training loss" if epochs else "training loss",
    )
    loss.set_title("ExponentialRegressor", **literal)
    if estimator.validation_scores_:
        validation = loss.twinx()
        validation.plot(estimator.validation_scores_, color="tab:orange")
        validation.set_ylabel("validation R²")
    path_axis = axes[0, 1]
    if getattr(estimator, "alpha_scores_", None):
        alphas = sorted(estimator.alpha_scores_)
        path_axis.semilogx(alphas, [estimator.alpha_scores_[a] for a in alphas], "o-")
        path_axis.axvline(estimator.alpha_, color="gray", linestyle=":")
        path_axis.set(xlabel="alpha", ylabel="held-out R²", title="alpha='auto'")
    else:
        path_axis.set_axis_off()
    for axis in axes[0, 2:]:
        axis.set_axis_off()
    for column, (name, result) in enumerate(results.items()):
        actual = np.ravel(result["actual"])
        predicted = np.ravel(result["prediction"])
        scatter, residuals = axes[1, column], axes[2, column]
        scatter.scatter(actual, predicted, s=6, alpha=0.5)
        low, high = np.min(actual), np.max(actual)
        scatter.plot([low, high], [low, high], color="gray", linewidth=1)
        scatter.set(xlabel="actual", ylabel="predicted")
        scatter.set_title(f"{name}: R² {result['score']:.3f}", **literal)
        residuals.scatter(predicted, actual - predicted, s=6, alpha=0.5)
        residuals.axhline(0, color="gray", linewidth=1)
        residuals.set(xlabel="predicted", ylabel="actual - predicted")
    figure.tight_layout()
    path = Path(path)
    png = path.suffix.lower() == ".png"
    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
    finally:
        plt.close(figure)
    if png:
        page = buffer.getvalue()
    else:
        image = base64.b64encode(buffer.getvalue()).decode("ascii")
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{result['score']:.3f}</td>"
            f"<td>{result['error']:.4g}</td><td>{result['elapsed']:.2f}</td></tr>"
            for name, result in results.items()
        )
        page = (
            "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1>"
            "<table border='1' cellpadding='4'><tr><th>model</th>"
            "<th>held-out R²</th><th>MAE</th><th>fit time (s)</th></tr>"
            f"{rows}</table><img alt='curves and held-out predictions' "
            f"src='data:image/png;base64,{image}'></body></html>\n"
        ).encode()
    with _cli_model.replacing(path, "write the report to", "report", "wb") as handle:
        handle.write(page)
