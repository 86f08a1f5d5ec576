"""CSV loading and the default preprocessing of the command line.

Reads a CSV with the standard library (no pandas needed), decides which
columns are numeric and which categorical, and builds the preprocessing
pipeline: numeric columns imputed with the median, categorical ones imputed
with the most frequent value and one-hot encoded.
"""

import csv
from pathlib import Path

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

_MISSING = {"", "na", "nan", "null", "none", "?"}
# A text column with more distinct values than this (and than half the rows)
# is free text or an identifier, not a category.
_MAX_CATEGORIES = 50


class DataError(ValueError):
    """A problem with the user's data file, worded for the command line."""


def read_csv(path):
    """Return ``(header, rows)`` of a CSV file, rows as lists of strings."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise DataError(f"{path} is empty") from None
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path} has a header but no rows")
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {number}: {len(row)} fields, the header has "
                f"{len(header)}"
            )
    return header, rows


def _as_float(cell):
    cell = cell.strip()
    if cell.lower() in _MISSING:
        return np.nan
    return float(cell)


def numeric_column(values):
    """The column as floats (missing values as nan), or None if it is text."""
    try:
        return np.array([_as_float(cell) for cell in values], dtype=np.float64)
    except ValueError:
        return None


def text_column(values):
    """The column as an object array, missing values as nan."""
    return np.array(
        [
            np.nan if cell.strip().lower() in _MISSING else cell.strip()
            for cell in values
        ],
        dtype=object,
    )


def split_features(header, rows, target=None):
    """Build ``(X, y, numeric_names, categorical_names)`` from CSV rows.

    ``X`` is an object array with the numeric columns first (as floats) and
    the categorical ones after them; ``y`` is None when ``target`` is None.
    """
    columns = list(zip(*rows))
    y = None
    if target is not None:
        if target not in header:
            raise DataError(
                f"target column {target!r} is not in the file; its columns are "
                f"{', '.join(header)}"
            )
        y = numeric_column(columns[header.index(target)])
        if y is None:
            raise DataError(
                f"target column {target!r} holds text; a regression target must "
                "be numeric"
            )
        if np.isnan(y).any():
            raise DataError(
                f"target column {target!r} has {int(np.isnan(y).sum())} missing "
                "value(s); drop those rows first"
            )
    numeric_features, text_features, numeric, categorical = [], [], [], []
    for name, values in zip(header, columns):
        if name == target:
            continue
        as_numbers = numeric_column(values)
        if as_numbers is not None:
            numeric.append(name)
            numeric_features.append(as_numbers.astype(object))
            continue
        as_text = text_column(values)
        distinct = {value for value in as_text if isinstance(value, str)}
        if len(distinct) > max(_MAX_CATEGORIES, len(rows) // 2):
            raise DataError(
                f"column {name!r} holds free text or identifiers ({len(distinct)} "
                "distinct values): it cannot be used as a feature; remove it from "
                "the file or name it in --drop"
            )
        categorical.append(name)
        text_features.append(as_text)
    features = numeric_features + text_features  # numeric columns first
    if not features:
        raise DataError("no feature columns left besides the target")
    return np.column_stack(features), y, numeric, categorical


def _to_float(X):
    return np.asarray(X, dtype=np.float64)


def preprocessing(numeric, categorical):
    """Impute numeric columns (median) and impute and one-hot the categorical."""
    n_numeric = len(numeric)
    to_float = FunctionTransformer(_to_float, feature_names_out="one-to-one")
    transformers = []
    if numeric:
        transformers.append(
            (
                "numeric",
                make_pipeline(to_float, SimpleImputer(strategy="median")),
                list(range(n_numeric)),
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent", missing_values=np.nan),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                list(range(n_numeric, n_numeric + len(categorical))),
            )
        )
    return ColumnTransformer(transformers)


def features_for(header, rows, numeric, categorical):
    """``X`` for a fitted pipeline: the training columns, in training order."""
    columns = dict(zip(header, zip(*rows)))
    missing = [name for name in numeric + categorical if name not in columns]
    if missing:
        raise DataError(
            f"the data lack the column(s) the model was trained on: "
            f"{', '.join(missing)}"
        )
    features = []
    for name in numeric:
        values = numeric_column(columns[name])
        if values is None:
            raise DataError(f"column {name!r} was numeric in training but holds text")
        features.append(values.astype(object))
    features += [text_column(columns[name]) for name in categorical]
    return np.column_stack(features)
