"""The classifiers' fast TF-IDF reads a message exactly as scikit-learn's transform does."""
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from nlu import char_counts
from nlu.tfidf import features

TEXTS = ["7号楼暖气又不热了", "消防通道被车堵了", "小区没有无障碍坡道", "楼道里一股煤汽味", "暖气暖气"]


def test_the_same_features_as_scikit_learn_for_seen_and_unseen_words():
    for settings in ({"analyzer": "char", "ngram_range": (1, 3), "sublinear_tf": True},
                     {"analyzer": "word", "token_pattern": r"\S+", "sublinear_tf": True, "norm": None}):
        vectorizer = TfidfVectorizer(**settings).fit(TEXTS[:3])
        asked = TEXTS + ["完全没见过的字", ""]
        assert np.allclose(features(vectorizer, asked).toarray(), vectorizer.transform(asked).toarray())


def test_counts_given_give_the_same_features_and_are_left_as_they_were():
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit(TEXTS[:3])
    asked = TEXTS + ["完全没见过的字"]
    counted = char_counts.counts(vectorizer, asked)
    before = counted.toarray().copy()
    assert np.allclose(features(vectorizer, [], counted).toarray(), vectorizer.transform(asked).toarray())
    assert np.array_equal(counted.toarray(), before)  # the naive Bayes models read them after
