"""TF-IDF features of texts from a fitted `TfidfVectorizer`, computed as scikit-learn does but
without its checks: each of its `transform` calls sums the whole idf diagonal again to see that
it is fitted, which cost the parse more than reading the text (docs/benchmarks.md, parse p99)."""
from __future__ import annotations

from typing import Any, List, Optional

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

_IDF = "_idf_vector"  # kept on the vectorizer: read once, at the first message


def features(vectorizer: TfidfVectorizer, documents: List[Any],
             counts: Optional[scipy.sparse.csr_matrix] = None) -> scipy.sparse.csr_matrix:
    """What `vectorizer.transform(documents)` returns; from the documents' `counts` of its
    vocabulary when the caller has them already (`nlu.char_counts.counts`), not counted again."""
    counts = (CountVectorizer.transform(vectorizer, documents) if counts is None else counts.copy()).tocsr()
    if vectorizer.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1
    if vectorizer.use_idf:
        idf = vectorizer.__dict__.get(_IDF)
        if idf is None:
            idf = vectorizer.__dict__[_IDF] = np.asarray(vectorizer.idf_, dtype=np.float64)
        counts.data *= idf[counts.indices]
    return normalize(counts, norm=vectorizer.norm, copy=False) if vectorizer.norm else counts
