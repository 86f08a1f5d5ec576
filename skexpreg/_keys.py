"""Row-content keys: which rows a subsample, a held-out part or a fold holds.

A row's *content key* is a 64-bit hash of its values (the ``X`` row and its
targets; not its weight), so rows that are copies of each other have the
same key wherever and in whatever order they come. Every random choice of
rows in a fit is made on keys mixed with a seed drawn from the estimator's
``random_state``: rows are ordered by their mixed keys, copies fall next to
each other, and each group of copies goes as a whole to one side of every
cut. The cuts count groups of copies, not rows, so that a row of weight 3
and three copies of it are cut alike (the fit weighs a row relative to
the mean weight of a distinct row, so the weights of the groups add up to
their count). Hence:

- the choice does not depend on the rows' order, on how they are chunked,
  or on whether a row comes as copies or with an integer weight;
- copies are never split between a fit and its held-out rows, where they
  would reward the weakest ridge (a held-out row that is also a fitting
  row is predicted as well as the network can fit it).

The hash of a row is the wrapping sum, over its non-zero entries, of a
mixed (column, value) pair, so a sparse row and its dense copy have the
same key (explicit and implicit zeros, and -0.0, count as 0). Values are
hashed rounded to float32, so that float32 input and its float64 copy have
the same keys (rows equal to float32's precision count as copies: they are
kept together, which costs nothing). The mixing
function is the finaliser of SplitMix64 (Steele, Lea and Flood 2014).
"""

import numpy as np
from scipy import sparse

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MULTIPLIERS = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
# Rows hashed at a time: bounds the (block, d) temporaries of dense input.
_BLOCK_ROWS = 1 << 14


def mix(values):
    """SplitMix64's finaliser of uint64 ``values`` (a new array)."""
    z = np.array(values, dtype=np.uint64, copy=True)
    z ^= z >> _SHIFTS[0]
    z *= _MULTIPLIERS[0]
    z ^= z >> _SHIFTS[1]
    z *= _MULTIPLIERS[1]
    z ^= z >> _SHIFTS[2]
    return z


def _salts(start, count):
    """One mixed constant per column ``start .. start + count - 1``."""
    return mix((np.arange(start, start + count, dtype=np.uint64) + 1) * _GOLDEN)


def _entry_hashes(values, salts):
    """The mixed (column, value) pairs of float ``values`` (0 where a value
    is 0), the values rounded to float32."""
    with np.errstate(over="ignore"):  # beyond float32's range: inf, hashed
        values = np.asarray(values, dtype=np.float32)
    hashes = mix(values.view(np.uint32).astype(np.uint64) ^ salts)
    hashes[values == 0] = 0
    return hashes


def content_keys(X, Y=None):
    """The content key of every row of ``X`` (and ``Y``), uint64 (n,).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        On the host.
    Y : ndarray of shape (n_samples, n_outputs) or None
    """
    n_samples, n_features = X.shape
    keys = np.zeros(n_samples, dtype=np.uint64)
    if sparse.issparse(X):
        X = sparse.csr_matrix(X)
        hashes = _entry_hashes(X.data, _salts(0, n_features)[X.indices])
        # The sum of each row's entries (np.add.reduceat needs a non-empty
        # slice per row: a trailing zero serves the empty rows).
        hashes = np.append(hashes, np.uint64(0))
        starts = X.indptr[:-1]
        sums = np.add.reduceat(hashes, np.minimum(starts, len(hashes) - 1))
        keys += np.where(np.diff(X.indptr) > 0, sums, np.uint64(0))
    else:
        salts = _salts(0, n_features)
        for start in range(0, n_samples, _BLOCK_ROWS):
            block = slice(start, start + _BLOCK_ROWS)
            keys[block] += _entry_hashes(X[block], salts).sum(axis=1, dtype=np.uint64)
    if Y is not None:
        Y = np.asarray(Y).reshape(n_samples, -1)
        salts = _salts(n_features, Y.shape[1])
        keys += _entry_hashes(Y, salts).sum(axis=1, dtype=np.uint64)
    return mix(keys)


def seeded(keys, seed):
    """``keys`` mixed with ``seed`` (an int): a random order of the rows that
    keeps copies together, one order per seed."""
    return mix(keys ^ mix(np.uint64(seed % (1 << 64))))


def groups(keys):
    """The rows in groups of equal keys: ``(order, first)``, the rows in the
    order of ``keys`` and whether each (in that order) starts a group."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return order, first


def _group_ranks(keys):
    """Rows ordered by ``keys``, and for each (in that order) the rank of its
    group of copies among the distinct keys."""
    order, first = groups(keys)
    return order, np.cumsum(first) - 1


def subsample(keys, size):
    """Indices (increasing) of the rows of the first ``size`` groups of
    copies in the order of ``keys``."""
    order, rank = _group_ranks(keys)
    return np.sort(order[rank < size])


def split(keys, fraction):
    """``(fit, held_out)`` indices (increasing): the first ``fraction`` of
    the groups of copies in the order of ``keys`` (rounded up, but not all)
    are held out."""
    order, rank = _group_ranks(keys)
    n_groups = rank[-1] + 1
    held_out = rank < min(np.ceil(fraction * n_groups), n_groups - 1)
    return np.sort(order[~held_out]), np.sort(order[held_out])


def folds(keys, n_folds):
    """``n_folds`` ``(fit, held_out)`` index pairs: the groups of copies in
    the order of ``keys`` dealt to the folds in turn."""
    order, rank = _group_ranks(keys)
    part = rank % n_folds
    return [
        (np.sort(order[part != k]), np.sort(order[part == k])) for k in range(n_folds)
    ]
