"""Multinomial logistic regression over a text's sparse features and its dense embedding.

The danger model's features are TF-IDF columns, sparse, beside the sentence embedding's 384
numbers for every example. Stacked into one sparse matrix, the embedding is three quarters of its
nonzeros, and Newton's method multiplies that matrix by the weights a few hundred times: each
product walks the embedding's numbers one index at a time. Kept apart, the embedding's product is
one dense matrix product, and the fit takes a fraction of the time (`make bench`, "Training").

The fit is scikit-learn's own: its newton-cg solver and its multinomial loss, on the same
objective, reach the same weights (to float32 rounding) as `LogisticRegression.fit` over the
stacked matrix; only the products are computed differently. The result is a plain
`LogisticRegression`, stored and applied as before.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Sequence, Union

import numpy as np
import scipy.sparse
from sklearn.linear_model import LogisticRegression
# private, but what LogisticRegression.fit itself calls: the public fit accepts only a matrix
# it can check, and checking would stack the blocks again (tests/test_logistic.py holds the two
# to the same weights, so a scikit-learn that changes it fails there, not in production)
from sklearn.linear_model._logistic import _logistic_regression_path

_CORES = ThreadPoolExecutor(2, thread_name_prefix="logistic")


class SideBySide:
    """Columns of a sparse block, then a dense block's, as one matrix for the loss's products."""

    __array_ufunc__ = None  # `ndarray @ SideBySide` is left to __rmatmul__, not made an object array
    ndim = 2

    def __init__(self, sparse: scipy.sparse.spmatrix, dense: np.ndarray) -> None:
        sparse = sparse.tocsr()
        self.dtype = sparse.dtype
        self.dense = np.ascontiguousarray(dense, dtype=self.dtype)
        if self.dense.shape[0] != sparse.shape[0]:
            raise ValueError(f"{sparse.shape[0]} rows of sparse features, {self.dense.shape[0]} dense")
        self._split = sparse.shape[1]
        self.shape = (sparse.shape[0], self._split + self.dense.shape[1])
        # each product in halves on the two cores (scipy's sparse products let go of the GIL),
        # and the transposed product over rows too: both read a row's nonzeros in a row
        self._rows = _halves(sparse)
        self._columns = _halves(sparse.T.tocsr())

    def __matmul__(self, weights: np.ndarray) -> np.ndarray:
        by_rows = list(_CORES.map(lambda part: part @ weights[: self._split], self._rows))
        return np.vstack(by_rows) + self.dense @ weights[self._split:]

    def __rmatmul__(self, rows: np.ndarray) -> np.ndarray:
        by_columns = list(_CORES.map(lambda part: part @ rows.T, self._columns))
        return np.hstack([np.vstack(by_columns).T, rows @ self.dense])


def _halves(matrix: scipy.sparse.csr_matrix) -> list:
    middle = matrix.shape[0] // 2
    return [matrix[:middle], matrix[middle:]]


def fit(sparse: scipy.sparse.spmatrix, dense: np.ndarray, labels: Sequence[str], C: float, tol: float,
        max_iter: int, class_weight: Union[Dict[str, float], str, None]) -> LogisticRegression:
    """A multinomial `LogisticRegression` (newton-cg, intercept unpenalised) fitted on the
    sparse and dense columns side by side, as `fit` over `hstack([sparse, dense])` would be."""
    labels = np.asarray(labels)
    features = SideBySide(sparse, dense)
    # Newton's method reaches the optimum lbfgs reaches (the loss is convex) in a third of the
    # time here, about 20 steps against 240 over 170 000 features
    coefs, _, iterations = _logistic_regression_path(
        features, labels, Cs=[C], fit_intercept=True, max_iter=max_iter, tol=tol, solver="newton-cg",
        class_weight=class_weight, multi_class="multinomial", check_input=False)
    classifier = LogisticRegression(C=C, solver="newton-cg", tol=tol, max_iter=max_iter,
                                    class_weight=class_weight, multi_class="multinomial")
    weights = coefs[0]
    classifier.classes_ = np.unique(labels)
    classifier.coef_, classifier.intercept_ = weights[:, :-1], weights[:, -1]
    classifier.n_iter_ = np.asarray(iterations)
    classifier.n_features_in_ = features.shape[1]
    return classifier
