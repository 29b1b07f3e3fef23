"""A complement naive Bayes model over a text's character counts, beside a linear classifier.

A linear SVM or logistic regression leans on the few character n-grams that separate its
classes best; naive Bayes weighs every n-gram a class's examples use. Their scores added err
less than either on held-out examples (`make crossval`, docs/benchmarks.md). The counts are of
the classifier's own character vocabulary, so the model adds no vocabulary of its own.
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.naive_bayes import ComplementNB


def counts(chars: TfidfVectorizer, texts: List[str]) -> scipy.sparse.csr_matrix:
    """How often each n-gram of the fitted vectorizer's vocabulary occurs in each text: counted
    once, for every naive Bayes model over that vocabulary."""
    return CountVectorizer.transform(chars, texts)


def fit(counted: scipy.sparse.csr_matrix, labels: Sequence[str], alpha: float) -> ComplementNB:
    """Naive Bayes over the texts' counts (`counts`)."""
    return ComplementNB(alpha=alpha).fit(counted, labels)


def log_likelihoods(model: ComplementNB, counted: scipy.sparse.csr_matrix) -> np.ndarray:
    """Each text's joint log-likelihood under each class (a row each, the classes in order),
    up to a constant in a row, which a softmax does not see."""
    return np.asarray(counted @ model.feature_log_prob_.T)
