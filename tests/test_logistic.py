"""nlu/logistic.py: the danger model's fit with its embedding kept beside the sparse features
decides as scikit-learn's `LogisticRegression.fit` over the stacked matrix does."""
import numpy as np
import pytest
import scipy.sparse
from sklearn.linear_model import LogisticRegression

from nlu import linear_store, logistic


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


def _stacked(sparse, dense):
    return scipy.sparse.hstack([sparse, scipy.sparse.csr_matrix(dense)]).tocsr()


def _same_model(ours, theirs, classes):
    """Both classifiers decide and weigh messages they were not fitted on alike."""
    assert list(ours.classes_) == list(theirs.classes_)
    assert ours.coef_.shape == theirs.coef_.shape
    assert np.allclose(ours.coef_, theirs.coef_, atol=1e-3)
    assert np.allclose(ours.intercept_, theirs.intercept_, atol=1e-3)
    sparse, dense, _ = _problem(classes, rows=300, seed=1)
    held = _stacked(sparse, dense)
    assert (ours.predict(held) == theirs.predict(held)).all()
    assert np.allclose(ours.predict_proba(held), theirs.predict_proba(held), atol=1e-3)


@pytest.mark.parametrize("classes, class_weight", [
    (["none", "fire", "gas", "lift"], {"none": 1.0, "fire": 10.0, "gas": 10.0, "lift": 10.0}),  # the dangers
    (["past", "feared", "asked"], "balanced"),  # the modalities
    (["asked", "past"], "balanced"),  # two labels: scikit-learn fits one binary model
    (["none", "fire"], {"none": 1.0, "fire": 10.0}),
])
def test_the_fit_side_by_side_is_scikit_learns_fit_over_the_stacked_matrix(classes, class_weight):
    sparse, dense, labels = _problem(classes)
    sparse, dense = sparse.astype(np.float64), dense.astype(np.float64)  # float32 stalls at 1e-6
    # a tight tolerance: both stop at the optimum, not wherever a looser one lets them
    theirs = LogisticRegression(C=10.0, solver="newton-cg", tol=1e-6, max_iter=500,
                                class_weight=class_weight).fit(_stacked(sparse, dense), labels)
    ours = logistic.fit(sparse, dense, labels, 10.0, 1e-6, 500, class_weight)
    _same_model(ours, theirs, classes)


def test_a_model_fitted_side_by_side_is_stored_and_read_back_as_it_decides(tmp_path):
    sparse, dense, labels = _problem(["asked", "past"])
    ours = logistic.fit(sparse, dense, labels, 10.0, 1e-4, 500, "balanced")
    linear_store.dump({"modality": ours}, tmp_path)
    read = linear_store.load(tmp_path)["modality"]
    held = _stacked(*_problem(["asked", "past"], rows=300, seed=1)[:2])
    assert np.array_equal(read.predict_proba(held), ours.predict_proba(held))


def test_without_an_embedding_it_is_the_fit_over_the_sparse_features_alone():
    sparse, _, labels = _problem(["none", "fire", "gas"])
    sparse = sparse.astype(np.float64)
    theirs = LogisticRegression(C=10.0, solver="newton-cg", tol=1e-6, max_iter=500).fit(sparse, labels)
    ours = logistic.fit(sparse, np.zeros((sparse.shape[0], 0)), labels, 10.0, 1e-6, 500, None)
    assert np.allclose(ours.coef_, theirs.coef_, atol=1e-3)
    assert (ours.predict(sparse) == theirs.predict(sparse)).all()


def test_one_label_is_refused_with_a_clear_error():
    sparse, dense, _ = _problem(["fire", "gas"])
    with pytest.raises(ValueError, match="two labels"):
        logistic.fit(sparse, dense, ["fire"] * sparse.shape[0], 10.0, 1e-4, 500, None)
