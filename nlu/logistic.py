"""Multinomial logistic regression over a text's sparse features and its dense embedding.

The danger model's features are TF-IDF columns, sparse, and, where config.yml has it read the
sentence embedding, its 384 numbers for every example beside them. Stacked into one sparse
matrix, the embedding is three quarters of its nonzeros, and Newton's method multiplies that
matrix by the weights a few hundred times: each product walks the embedding's numbers one index
at a time. Kept apart, the embedding's product is one dense matrix product, and the fit takes
about half the time (docs/benchmarks.md, the twenty-first stop).

The fit is scikit-learn's own: its newton-cg solver and its multinomial loss, on the same
objective, reach the same weights (to float32 rounding) as `LogisticRegression.fit` over the
stacked matrix; only the products are computed differently. The result is the plain
`LogisticRegression` that fit makes, stored and applied as before.
"""
from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Dict, Sequence, Union

import numpy as np
import scipy.sparse
from sklearn.linear_model import LogisticRegression
# private, but what LogisticRegression.fit itself calls: the public fit accepts only a matrix
# it can check, and checking would stack the blocks again (tests/test_logistic.py holds the two
# to the same weights, so a scikit-learn that changes it fails there, not in production)
from sklearn.linear_model._logistic import _logistic_regression_path


class SideBySide:
    """Columns of a sparse block, then a dense block's, as one matrix for the loss's products."""

    __array_ufunc__ = None  # `ndarray @ SideBySide` is left to __rmatmul__, not made an object array
    ndim = 2

    def __init__(self, sparse: scipy.sparse.spmatrix, dense: np.ndarray, cores: Executor) -> None:
        dense = np.asarray(dense)
        self.dtype = np.result_type(sparse.dtype, dense.dtype, np.float32)  # as hstack would make it
        sparse = sparse.tocsr().astype(self.dtype, copy=False)  # the caller's float32 as it is
        self.dense = np.ascontiguousarray(dense, dtype=self.dtype)
        if self.dense.ndim != 2 or self.dense.shape[0] != sparse.shape[0]:
            raise ValueError(f"{sparse.shape[0]} rows of sparse features, dense ones of shape {self.dense.shape}")
        self._split = sparse.shape[1]
        self.shape = (sparse.shape[0], self._split + self.dense.shape[1])
        # each sparse product in two halves on the two cores (scipy's products let go of the
        # GIL), the transposed one over the transpose's rows: both read a row's nonzeros in turn
        self._cores = cores
        self._rows = _halves(sparse)
        self._columns = _halves(sparse.T.tocsr())

    def __matmul__(self, weights: np.ndarray) -> np.ndarray:
        if weights.ndim != 2:
            raise ValueError("SideBySide multiplies a matrix of weights, one column a class")
        by_rows = self._cores.map(lambda part: part @ weights[: self._split], self._rows)
        return np.vstack(list(by_rows)) + self.dense @ weights[self._split:]

    def __rmatmul__(self, rows: np.ndarray) -> np.ndarray:
        if rows.ndim != 2:
            raise ValueError("SideBySide is multiplied by a matrix, one row a class")
        by_columns = self._cores.map(lambda part: part @ rows.T, self._columns)
        return np.hstack([np.vstack(list(by_columns)).T, rows @ self.dense])


def _halves(matrix: scipy.sparse.csr_matrix) -> list:
    """The rows in two parts of about as many nonzeros (the character n-grams' columns hold
    more of them than the sounds')."""
    middle = int(np.searchsorted(matrix.indptr, matrix.nnz // 2))
    return [matrix[:middle], matrix[middle:]]


def fit(sparse: scipy.sparse.spmatrix, dense: np.ndarray, labels: Sequence[str], C: float, tol: float,
        max_iter: int, class_weight: Union[Dict[str, float], str, None]) -> LogisticRegression:
    """The `LogisticRegression` (newton-cg, intercept unpenalised) that `fit` over
    `hstack([sparse, dense])` makes, fitted on the two blocks side by side."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"a classifier needs examples of two labels at least, not only {list(classes)}")
    # two labels: scikit-learn fits one binary model; the multinomial model of two labels, its
    # two rows opposite (the path returns the second), is that model at half its C and half
    # its weights
    binary = len(classes) == 2
    # a pool for this fit only: one kept by the module would wait forever in a forked child
    with ThreadPoolExecutor(2, thread_name_prefix="logistic") as cores:
        # Newton's method reaches the optimum lbfgs reaches (the loss is convex) in a third of
        # the time here, about 20 steps against 240 over 170 000 features
        coefs, _, iterations = _logistic_regression_path(
            SideBySide(sparse, dense, cores), labels, Cs=[C / 2 if binary else C], fit_intercept=True,
            max_iter=max_iter, tol=tol, solver="newton-cg", class_weight=class_weight,
            multi_class="multinomial", check_input=False)
    weights = coefs[0]
    if binary:
        weights = 2 * weights
    classifier = LogisticRegression(C=C, solver="newton-cg", tol=tol, max_iter=max_iter, class_weight=class_weight)
    classifier.classes_ = classes
    classifier.coef_, classifier.intercept_ = weights[:, :-1], weights[:, -1]
    classifier.n_iter_ = np.asarray(iterations)
    classifier.n_features_in_ = weights.shape[1] - 1
    return classifier
