"""nlu/logistic.py: the danger model's fit with its embedding kept beside the sparse features
decides as scikit-learn's `LogisticRegression.fit` over the stacked matrix does."""
import numpy as np
import scipy.sparse
from sklearn.linear_model import LogisticRegression

from nlu import logistic


def _problem(classes, rows=1200, seed=0):
    """Sparse word-like columns and a dense block that both carry the label."""
    rng = np.random.RandomState(seed)
    labels = rng.choice(classes, rows)
    index = np.searchsorted(np.unique(classes), labels)
    sparse = scipy.sparse.random(rows, 900, density=0.01, format="lil", random_state=seed, dtype=np.float32)
    for row, label in enumerate(index):  # a few columns each label's rows use more
        sparse[row, 10 * label + rng.randint(10)] = 1.0
    dense = rng.normal(size=(rows, 24)).astype(np.float32)
    dense[:, : len(classes)] += 1.5 * np.eye(len(classes), dtype=np.float32)[index]
    return sparse.tocsr(), dense, labels


def test_the_fit_side_by_side_is_scikit_learns_fit_over_the_stacked_matrix():
    sparse, dense, labels = _problem(["none", "fire", "gas", "lift"])
    sparse, dense = sparse.astype(np.float64), dense.astype(np.float64)  # float32 stalls at 1e-6
    weights = {"none": 1.0, "fire": 10.0, "gas": 10.0, "lift": 10.0}
    stacked = scipy.sparse.hstack([sparse, scipy.sparse.csr_matrix(dense)]).tocsr()
    # a tight tolerance: both stop at the optimum, not wherever a looser one lets them
    theirs = LogisticRegression(C=10.0, solver="newton-cg", tol=1e-6, max_iter=500,
                                class_weight=weights).fit(stacked, labels)
    ours = logistic.fit(sparse, dense, labels, 10.0, 1e-6, 500, weights)

    assert list(ours.classes_) == list(theirs.classes_)
    assert np.allclose(ours.coef_, theirs.coef_, atol=1e-3)
    assert np.allclose(ours.intercept_, theirs.intercept_, atol=1e-3)
    held_out, held_dense, _ = _problem(["none", "fire", "gas", "lift"], rows=300, seed=1)
    held = scipy.sparse.hstack([held_out, scipy.sparse.csr_matrix(held_dense)]).tocsr()
    assert (ours.predict(held) == theirs.predict(held)).all()
    assert np.allclose(ours.predict_proba(held), theirs.predict_proba(held), atol=1e-3)


def test_two_labels_are_told_apart_and_their_probabilities_are_whole():
    sparse, dense, labels = _problem(["asked", "past"])
    model = logistic.fit(sparse, dense, labels, 10.0, 1e-4, 500, "balanced")
    stacked = scipy.sparse.hstack([sparse, scipy.sparse.csr_matrix(dense)]).tocsr()
    probabilities = model.predict_proba(stacked)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert (model.predict(stacked) == labels).mean() > 0.9


def test_no_dense_columns_is_the_sparse_fit_alone():
    sparse, _, labels = _problem(["none", "fire", "gas"])
    model = logistic.fit(sparse, np.zeros((sparse.shape[0], 0), dtype=np.float32), labels, 10.0, 1e-4, 500, None)
    assert model.coef_.shape == (3, sparse.shape[1])
    assert (model.predict(sparse) == labels).mean() > 0.8
