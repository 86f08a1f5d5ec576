"""CSV loading and the default preprocessing of the command line.

Reads a CSV with the standard library (no pandas needed) column by column
into typed arrays: numeric columns as float64, text columns as int32 codes
into a list of categories. Rows are parsed a chunk at a time, so memory
holds the typed columns and one chunk of text, not the whole file as Python
strings (a CSV of 76 MiB peaked at 1.3 GiB when read row-wise; see
``benchmarks/cli_read_memory.py``).

The model sees one float64 matrix: the numeric columns, then one column of
category codes per text column (missing values as nan). The preprocessing
imputes numeric columns with the median and codes with the most frequent
one, and one-hot encodes the codes, into a sparse matrix when a dense one
would be large.
"""

import csv
import itertools
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_MISSING = {"", "na", "nan", "null", "none", "?"}
# A text column with more distinct values than this (and than half the rows)
# is free text or an identifier, not a category.
_MAX_CATEGORIES = 50
# Rows parsed at a time: bounds the Python strings alive during a read.
_CHUNK_ROWS = 8192
# One-hot encode into a sparse matrix when the dense encoded matrix would have
# more cells than this (2**24 float64 cells are 128 MiB).
_DENSE_MAX_CELLS = 2**24


class DataError(ValueError):
    """A problem with the user's data or files, worded for the command line."""


def shown(text):
    """``text`` quoted for a terminal: control and format characters escaped.

    Column names and paths come from files; printed raw, an escape sequence in
    a name could rewrite the terminal.
    """
    return "'" + "".join(_printable(char) for char in str(text)) + "'"


def _printable(char):
    if char.isprintable():
        return char
    return char.encode("unicode_escape").decode("ascii")


def names(texts):
    """Comma-separated :func:`shown` names."""
    return ", ".join(shown(text) for text in texts)


@dataclass
class Table:
    """Columns of a CSV file as typed arrays.

    ``numeric`` maps a name to a float64 array (missing values as nan);
    ``text`` maps a name to ``(codes, categories)``: int32 codes into the
    list of distinct stripped values, -1 for a missing value.
    """

    path: Path
    n_rows: int
    numeric: dict = field(default_factory=dict)
    text: dict = field(default_factory=dict)


class _Numeric:
    def __init__(self):
        self.values = array("d")


class _Text:
    def __init__(self):
        self.codes = array("i")
        self.categories = []
        self._by_value = {}  # stripped value -> code
        self._by_cell = {}  # cell as read -> code (a cache: cells repeat)

    def add(self, cells, into=None):
        codes = self.codes if into is None else into
        by_cell = self._by_cell
        for cell in cells:
            code = by_cell.get(cell)
            if code is None:
                code = by_cell[cell] = self._code(cell)
            codes.append(code)

    def _code(self, cell):
        value = cell.strip()
        if value.lower() in _MISSING:
            return -1
        code = self._by_value.get(value)
        if code is None:
            code = self._by_value[value] = len(self.categories)
            self.categories.append(value)
        return code


def _as_float(cell):
    cell = cell.strip()
    if cell.lower() in _MISSING:
        return np.nan
    return float(cell)


def _numbers(cells):
    """The cells as float64 (missing as nan), or None if one of them is text."""
    try:
        return np.array(cells, dtype=np.float64)  # fast path: all numbers
    except ValueError:
        pass
    try:
        return np.array([_as_float(cell) for cell in cells], dtype=np.float64)
    except ValueError:
        return None


def read_header(path):
    """The column names of a CSV file (checked: present and unique)."""
    with _open(path) as handle:
        return _header(csv.reader(handle), path)


def read_table(path, columns, text=()):
    """Read the named columns of a CSV file into a :class:`Table`.

    A column is numeric when every cell is a number or a missing marker
    (empty, ``NA``, ``nan``, ``null``, ``none``, ``?``) and text otherwise;
    the columns named in ``text`` are always read as text. Infinite numbers
    (``inf``, or ones too large for a float64) are refused.
    """
    with _open(path) as handle:
        reader = csv.reader(handle)
        header = _header(reader, path)
        width = len(header)
        wanted = [(header.index(name), name) for name in columns]
        readers = {name: _Text() if name in text else _Numeric() for _, name in wanted}
        late = {}  # name -> rows read before the column turned out to be text
        n_rows = 0
        for chunk, lines in _chunks(reader, width, path):
            for index, name in wanted:
                cells = [row[index] for row in chunk]
                column = readers[name]
                if isinstance(column, _Numeric):
                    values = _numbers(cells)
                    if values is not None:
                        _check_finite(values, cells, lines, name, path)
                        column.values.frombytes(values.tobytes())
                        continue
                    column = readers[name] = _Text()
                    if n_rows:
                        late[name] = n_rows
                column.add(cells)
            n_rows += len(chunk)
    if not n_rows:
        raise DataError(f"{shown(path)} has a header but no rows")
    if late:
        _read_again(path, late, readers, header, width)
    table = Table(Path(path), n_rows)
    for name, column in readers.items():
        if isinstance(column, _Numeric):
            table.numeric[name] = np.frombuffer(column.values, dtype=np.float64)
        else:
            codes = np.frombuffer(column.codes, dtype=np.int32)
            table.text[name] = (codes, column.categories)
    return table


def _read_again(path, late, readers, header, width):
    """Code the first rows of the columns that turned to text after them."""
    with _open(path) as handle:
        reader = csv.reader(handle)
        next(reader)
        prefixes = {name: array("i") for name in late}
        n_rows = 0
        for chunk, _ in _chunks(reader, width, path):
            for name, stop in late.items():
                if n_rows < stop:
                    index = header.index(name)
                    cells = [row[index] for row in chunk[: stop - n_rows]]
                    readers[name].add(cells, into=prefixes[name])
            n_rows += len(chunk)
            if n_rows >= max(late.values()):
                break
    for name, prefix in prefixes.items():
        prefix.extend(readers[name].codes)
        readers[name].codes = prefix


def _open(path):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {shown(path)}")
    with path.open("rb") as handle:
        start = handle.read(4096)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in start:
        raise DataError(
            f"{shown(path)} is UTF-16 or binary, not UTF-8 text: save it as UTF-8 CSV"
        )
    return _Reading(path)


class _Reading:
    """The file opened as UTF-8 text; decoding and CSV errors become DataError."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.handle = self.path.open(newline="", encoding="utf-8-sig")
        return self.handle

    def __exit__(self, kind, error, traceback):
        self.handle.close()
        if isinstance(error, UnicodeDecodeError):
            byte = error.object[error.start : error.start + 1].hex()
            raise DataError(
                f"{shown(self.path)} is not UTF-8 text (byte 0x{byte} cannot be "
                "decoded; Latin-1 or another legacy encoding?): save it as UTF-8"
            ) from None
        if isinstance(error, csv.Error):
            raise DataError(
                f"{shown(self.path)}: not a readable CSV: {error}"
            ) from None
        return False


def _header(reader, path):
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise DataError(f"{shown(path)} is empty") from None
    duplicates = [name for name, count in Counter(header).items() if count > 1]
    if duplicates:
        raise DataError(
            f"{shown(path)} has duplicate column name(s) {names(duplicates)}: "
            "every column needs its own name"
        )
    return header


def _chunks(reader, width, path):
    """Yield ``(rows, line numbers)``, up to ``_CHUNK_ROWS`` non-blank rows."""
    while True:
        rows, lines = [], []
        for row in itertools.islice(reader, _CHUNK_ROWS):
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if len(row) != width:
                raise DataError(
                    f"{shown(path)}, line {reader.line_num}: {len(row)} fields, "
                    f"the header has {width}"
                )
            rows.append(row)
            lines.append(reader.line_num)
        if not rows:
            return
        yield rows, lines


def _check_finite(values, cells, lines, name, path):
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        first = infinite[0]
        raise DataError(
            f"{shown(path)}, line {lines[first]}, column {shown(name)}: "
            f"{shown(cells[first].strip())} is not a finite number (infinite, or "
            "too large for a float64)"
        )


@dataclass
class Features:
    """What the model sees: ``X`` (float64), and how it was built."""

    X: np.ndarray
    numeric: list
    categorical: list
    categories: list  # per categorical column, the category of each code
    empty: list = field(default_factory=list)  # all-missing columns, left out


def training_data(table, target):
    """``(features, y)`` of a :class:`Table`, the target column removed.

    Columns without a single value are left out (named in ``features.empty``):
    the imputers could not fill them. Frees the table's columns as it copies
    them into ``X``.
    """
    if target in table.text:
        raise DataError(
            f"target column {shown(target)} holds text; a regression target "
            "must be numeric"
        )
    y = table.numeric.pop(target)
    if np.isnan(y).any():
        raise DataError(
            f"target column {shown(target)} has {int(np.isnan(y).sum())} missing "
            "value(s); drop those rows first"
        )
    for name, (_, categories) in table.text.items():
        if len(categories) > max(_MAX_CATEGORIES, table.n_rows // 2):
            raise DataError(
                f"column {shown(name)} holds free text or identifiers "
                f"({len(categories)} distinct values): it cannot be used as a "
                "feature; remove it from the file or name it in --drop"
            )
    empty = [name for name, values in table.numeric.items() if np.isnan(values).all()]
    for name in empty:
        del table.numeric[name]
    numeric, categorical = list(table.numeric), list(table.text)
    if not numeric + categorical:
        left_out = f" (all missing: {names(empty)})" if empty else ""
        raise DataError(f"no feature columns left besides the target{left_out}")
    X = np.empty((table.n_rows, len(numeric) + len(categorical)))
    for j, name in enumerate(numeric):
        X[:, j] = table.numeric.pop(name)
    categories = []
    for j, name in enumerate(categorical, start=len(numeric)):
        codes, names_of_codes = table.text.pop(name)
        X[:, j] = codes
        categories.append(names_of_codes)
    X[:, len(numeric) :][X[:, len(numeric) :] < 0] = np.nan
    return Features(X, numeric, categorical, categories, empty), y


def prediction_data(table, numeric, categorical, categories):
    """``X`` for a fitted pipeline: the training columns, in training order.

    The text columns (read as text) are coded with the training categories;
    a value not seen in training gets code -1, which the one-hot encoder
    ignores (all zeros).
    """
    texts = [name for name in numeric if name in table.text]
    if texts:
        raise DataError(
            f"column(s) {names(texts)} were numeric in training but hold text"
        )
    X = np.empty((table.n_rows, len(numeric) + len(categorical)))
    for j, name in enumerate(numeric):
        X[:, j] = table.numeric[name]
    for j, (name, known) in enumerate(zip(categorical, categories), len(numeric)):
        codes, found = table.text[name]
        index = {value: code for code, value in enumerate(known)}
        # The code of each value found, in the training coding; nan if missing.
        translate = np.array([index.get(value, -1) for value in found] + [np.nan])
        X[:, j] = translate[codes]  # code -1 (missing) picks the trailing nan
    return X


def preprocessing(features):
    """Impute numeric columns (median) and impute and one-hot the categorical.

    The one-hot output is sparse when a dense matrix would exceed
    ``_DENSE_MAX_CELLS`` cells (many rows times many categories).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    n_numeric = len(features.numeric)
    transformers = []
    if features.numeric:
        transformers.append(
            ("numeric", SimpleImputer(strategy="median"), list(range(n_numeric)))
        )
    if features.categorical:
        encoder = OneHotEncoder(
            handle_unknown="ignore", sparse_output=is_sparse(features)
        )
        transformers.append(
            (
                "categorical",
                make_pipeline(SimpleImputer(strategy="most_frequent"), encoder),
                list(range(n_numeric, n_numeric + len(features.categorical))),
            )
        )
    # sparse_threshold=1: a sparse one-hot block keeps the whole output sparse.
    return ColumnTransformer(transformers, sparse_threshold=1.0)


def is_sparse(features):
    """Whether :func:`preprocessing` one-hot encodes into a sparse matrix."""
    width = len(features.numeric) + sum(map(len, features.categories))
    return len(features.X) * width > _DENSE_MAX_CELLS
