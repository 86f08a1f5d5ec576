"""Sparse rows that are centred: a sparse matrix plus a rank-one term.

Under ``input_scaling="standard"`` the network sees each feature clipped,
centred and scaled. For sparse input the implicit zeros of feature ``j`` all
map to one number ``c_j`` (the clipped zero, centred and scaled), so the rows
the network sees are

    Z = diag(t) (S + 1 c^T),

with ``S`` sparse in the pattern of the input (the mapped value minus
``c_j``, zero wherever the input is zero) and ``t`` the factors that shrink
rows onto the ball. :class:`CentredSparse` keeps ``diag(t) S`` as a scipy
CSR matrix beside the vectors ``t`` and ``c``, in O(nnz + n + d) memory, and
computes every product the network takes from them exactly:

    Z W   = diag(t) S W + t (c^T W)
    Z^T E = S^T diag(t) E + c (t^T E)

The functions below (:func:`issparse`, :func:`dot`, :func:`gram`,
:func:`row_norms`, :func:`largest_entries`, :func:`scale_rows`) are the one
place that tells the three kinds of rows apart (dense arrays, scipy sparse
matrices and centred sparse rows) for the code that multiplies them:
:mod:`skexpreg._network` and :mod:`skexpreg.ntk`.
"""

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import row_norms as _sklearn_row_norms
from sklearn.utils.extmath import safe_sparse_dot


class CentredSparse:
    """Centred sparse rows: ``sparse + outer(row_factor, zero_row)``.

    What :func:`skexpreg.ntk.network_inputs` returns for sparse input when
    the network sees it centred (``input_scaling="standard"``): the rows
    ``diag(t) (S + 1 c^T)`` of the dense map, held without filling in the
    zeros. Every function of :mod:`skexpreg.ntk` takes it as ``X``.

    Parameters
    ----------
    sparse : scipy sparse matrix of shape (n_samples, n_features)
        ``diag(t) S``: zero wherever the input row is (implicitly) zero.
        Kept as CSR.
    row_factor : ndarray of shape (n_samples,)
        ``t``, each row's factor (1 for rows inside the ball).
    zero_row : ndarray of shape (n_features,)
        ``c``, what an input row of zeros maps to (before shrinking).

    Attributes
    ----------
    shape : tuple of int
    dtype : dtype
        That of ``sparse`` (``row_factor`` and ``zero_row`` are cast to it).

    Notes
    -----
    Supports what the network's products need: ``Z[rows]`` and
    ``Z[rows, :]`` (a slice, integer indices or a boolean mask of rows),
    ``Z @ W`` and ``Z.T @ E`` for dense ``W`` and ``E`` (dense results),
    ``Z / number``, :meth:`row_norms` and :meth:`toarray` (a dense copy,
    n x d: only for small ``Z``).
    """

    ndim = 2

    def __init__(self, sparse, row_factor, zero_row):
        matrix = sparse.tocsr()
        n_samples, n_features = matrix.shape
        dtype = matrix.dtype
        row_factor = np.asarray(row_factor, dtype=dtype)
        zero_row = np.asarray(zero_row, dtype=dtype)
        if row_factor.shape != (n_samples,) or zero_row.shape != (n_features,):
            raise ValueError(
                f"row_factor {row_factor.shape} and zero_row {zero_row.shape} do "
                f"not fit a sparse part of shape {matrix.shape}."
            )
        self.sparse, self.row_factor, self.zero_row = matrix, row_factor, zero_row

    @property
    def shape(self):
        return self.sparse.shape

    @property
    def dtype(self):
        return self.sparse.dtype

    @property
    def T(self):
        """The transpose, for products ``Z.T @ E`` (a dense (d, k) result)."""
        return _Transposed(self)

    def __repr__(self):
        n_samples, n_features = self.shape
        return (
            f"<CentredSparse of shape ({n_samples}, {n_features}), dtype "
            f"{self.dtype}, {self.sparse.nnz} stored entries>"
        )

    def __getitem__(self, key):
        if isinstance(key, tuple):
            key, columns = key
            if not (isinstance(columns, slice) and columns == slice(None)):
                raise IndexError("CentredSparse selects rows only: Z[rows, :].")
        if np.isscalar(key):
            key = [key]
        elif np.asarray(key).dtype == bool:
            key = np.flatnonzero(key)
        return CentredSparse(self.sparse[key], self.row_factor[key], self.zero_row)

    def __matmul__(self, other):
        """``Z @ W`` for a dense (d,) or (d, k) ``W``: a dense array."""
        other = np.asarray(other)
        product = np.asarray(self.sparse @ other)
        shift = self.zero_row @ other
        if product.ndim == 1:
            return product + self.row_factor * shift
        product += self.row_factor[:, None] * shift
        return product

    def __truediv__(self, number):
        """``Z / number`` for a scalar."""
        return CentredSparse(
            self.sparse / number, self.row_factor / number, self.zero_row
        )

    def multiply_rows(self, factors):
        """``diag(factors) Z``."""
        factors = np.asarray(factors, dtype=self.dtype)
        return CentredSparse(
            _scale_rows(self.sparse, factors), self.row_factor * factors, self.zero_row
        )

    def row_norms(self, squared=False):
        """Euclidean norm of each row, in float64, without filling in zeros.

        ``||z_i||^2 = t_i^2 (||c||^2 - sum_{j stored} c_j^2) + sum_{j stored}
        z_ij^2``: the implicit entries of a row are ``t_i c_j``.
        """
        matrix = self.sparse
        t = self.row_factor.astype(np.float64)
        c = self.zero_row.astype(np.float64)
        entry_rows = _entry_rows(matrix)
        shifted = c[matrix.indices]
        stored = matrix.data.astype(np.float64) + t[entry_rows] * shifted
        n_samples = matrix.shape[0]
        stored_squares = np.bincount(entry_rows, stored * stored, minlength=n_samples)
        shadowed = np.bincount(entry_rows, shifted * shifted, minlength=n_samples)
        implicit = np.maximum(c @ c - shadowed, 0)  # >= 0 despite round-off
        squares = t * t * implicit + stored_squares
        return squares if squared else np.sqrt(squares)

    def astype(self, dtype):
        """The same rows in ``dtype`` (itself if already in it)."""
        if np.dtype(dtype) == self.dtype:
            return self
        return CentredSparse(self.sparse.astype(dtype), self.row_factor, self.zero_row)

    def toarray(self):
        """The rows as a dense (n_samples, n_features) array."""
        dense = self.sparse.toarray()
        dense += np.outer(self.row_factor, self.zero_row)
        return dense


class _Transposed:
    """``Z.T`` of a :class:`CentredSparse`, for products with dense ``E``."""

    def __init__(self, rows):
        self.rows = rows

    @property
    def shape(self):
        return self.rows.shape[::-1]

    def __matmul__(self, other):
        """``Z^T E = S^T diag(t) E + c (t^T E)``: a dense array."""
        rows = self.rows
        other = np.asarray(other)
        product = np.asarray(rows.sparse.T @ other)
        shift = rows.row_factor @ other
        if product.ndim == 1:
            return product + rows.zero_row * shift
        product += rows.zero_row[:, None] * shift
        return product


def centred_rows(values, zero_row, radius):
    """Rows ``diag(t) (values + 1 zero_row^T)`` shrunk onto the ball of ``radius``.

    ``values`` is sparse (S, in the dtype of the rows), ``zero_row`` (d,);
    ``t_i = min(1, radius / ||z_i||)``. Without a shift (``zero_row`` all
    0) the result is the plain CSR matrix ``diag(t) S``.
    """
    values = values.tocsr()
    centred = CentredSparse(values, np.ones(values.shape[0]), zero_row)
    if radius < np.inf:
        norms = centred.row_norms()
        outside = norms > radius
        factors = np.where(outside, radius / np.where(outside, norms, 1.0), 1.0)
        centred = centred.multiply_rows(factors)
    if not np.any(centred.zero_row):
        return centred.sparse
    return centred


def issparse(X):
    """Whether ``X`` is a scipy sparse matrix or :class:`CentredSparse` rows."""
    return sparse.issparse(X) or isinstance(X, CentredSparse)


def dot(X, W):
    """``X @ W`` as a dense array, for rows of any kind and a dense ``W``."""
    return np.asarray(X @ W)


def gram(X, Y):
    """``X Y^T`` as a dense array, for rows of any kind.

    With ``X = A + a c^T`` and ``Y = B + b e^T`` (the rank-one terms absent
    for plain rows), ``X Y^T = A B^T + (A e) b^T + a (B c)^T + (c.e) a b^T``.
    """
    A, a, c = _parts(X)
    B, b, e = _parts(Y)
    product = np.asarray(safe_sparse_dot(A, B.T, dense_output=True))
    if e is not None:
        product += np.outer(dot(A, e), b)
    if c is not None:
        product += np.outer(a, dot(B, c))
    if c is not None and e is not None:
        product += (c @ e) * np.outer(a, b)
    return product


def row_norms(X, squared=False):
    """Euclidean norm of each row, for rows of any kind."""
    if isinstance(X, CentredSparse):
        return X.row_norms(squared=squared).astype(X.dtype, copy=False)
    return _sklearn_row_norms(X, squared=squared)


def largest_entries(X):
    """What to divide each row of sparse rows by so that no entry exceeds 1:
    the largest absolute entry (the norm, which bounds it, for centred rows);
    1 for rows of zeros."""
    if isinstance(X, CentredSparse):
        largest = X.row_norms()
    else:
        largest = np.asarray(abs(X).max(axis=1).todense(), dtype=np.float64).ravel()
    largest[largest == 0] = 1
    return largest


def scale_rows(X, factors):
    """``diag(factors) X`` for sparse rows of either kind."""
    if isinstance(X, CentredSparse):
        return X.multiply_rows(factors)
    return _scale_rows(X.tocsr(), np.asarray(factors, dtype=X.dtype))


def _parts(X):
    """``(A, a, c)`` with ``X = A + outer(a, c)``; ``a, c`` None for plain rows."""
    if isinstance(X, CentredSparse):
        return X.sparse, X.row_factor, X.zero_row
    return X, None, None


def _scale_rows(matrix, factors):
    """``diag(factors) matrix`` for a CSR matrix: a new CSR matrix."""
    scaled = matrix.copy()
    scaled.data *= factors[_entry_rows(matrix)]
    return scaled


def _entry_rows(matrix):
    """The row of each stored entry of a CSR matrix."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
