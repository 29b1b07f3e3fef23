"""A message's embedding shares the two cores with other processes' embeddings."""
import subprocess
import sys

import numpy as np
import pytest

from bot import embeddings

HOLD = ("import fcntl, sys, time\n"
        "handle = open(sys.argv[1], 'a+b')\n"
        "fcntl.flock(handle, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDDING_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    return tmp_path / "cache"


def test_while_another_process_embeds_a_message_takes_one_core_and_means_the_same(cache):
    embeddings._embed_one.cache_clear()
    alone = embeddings.embed(["7号楼暖气又不热了"], threads=2)
    with embeddings._cores(2) as granted:
        assert granted == 2
    other = subprocess.Popen([sys.executable, "-c", HOLD, str(cache / "cores.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        with embeddings._cores(2) as granted:
            assert granted == 1
        embeddings._embed_one.cache_clear()
        shared = embeddings.embed(["7号楼暖气又不热了"], threads=2)
    finally:
        other.kill()
        other.wait()
    assert np.abs(shared - alone).max() < 1e-5
    with embeddings._cores(2) as granted:
        assert granted == 2  # the other process is gone: both cores again


def test_a_cache_folder_that_cannot_be_written_embeds_as_asked(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("EMBEDDING_CACHE", str(tmp_path / "a_file" / "cache"))
    with embeddings._cores(2) as granted:
        assert granted == 2
