"""One message's embedding on this machine's two cores, alone and while a second process embeds
too (the action server's two workers, each matching a FAQ question, do so at once): with
libgomp's default spin, with the short one `bot.embeddings` sets, and with that and its cores
lock (one thread while another process embeds). Written to docs/benchmarks.md with --write."""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchmarks_md import write_section  # noqa: E402
from bot import embeddings  # noqa: E402

HEADING = "## Embedding on shared cores (make bench)"
LIBGOMP_DEFAULT = "300000"
SENTENCE = "七号楼暖气又不热了，消防通道被车堵了，小区没有无障碍坡道"


def embed_times(count: int) -> list[float]:
    """Milliseconds for `count` single embeddings of 8 to 23 characters, as a FAQ question asks
    (two threads), with a pause between them as between residents' messages."""
    times = []
    for number in range(count):
        text = f"{SENTENCE[:8 + number % 16]}{number}"
        started = time.perf_counter()
        embeddings.embed([text], threads=2)
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)
    return times


def child(spin: str, count: int, cache: str) -> subprocess.Popen:
    """A process embedding `count` messages; processes given one cache folder share its lock."""
    return subprocess.Popen([sys.executable, __file__, "--child", str(count)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "GOMP_SPINCOUNT": spin, "EMBEDDING_CACHE": cache})


def measure(spin: str, shared_lock: bool, contended: bool, count: int) -> list[float]:
    caches = [tempfile.mkdtemp(prefix="embedding-bench-") for _ in range(2)]
    if shared_lock:
        caches[1] = caches[0]
    rival = child(spin, count * 2, caches[1]) if contended else None
    try:
        time.sleep(2 if contended else 0)  # the rival has loaded the model and is embedding
        out = child(spin, count, caches[0]).communicate()[0]
    finally:
        if rival is not None:
            rival.kill()
            rival.wait()
    return [float(value) for value in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(" ".join(f"{value:.2f}" for value in embed_times(args.child)))
        return
    from bot.evaluation import percentile  # loads TensorFlow: not in the children

    rows = ["| libgomp spin | cores lock | other process | p50 (ms) | p99 (ms) | max (ms) |", "|---|---|---|---|---|---|"]
    for spin, shared_lock in ((LIBGOMP_DEFAULT, False), (embeddings.SPIN, False), (embeddings.SPIN, True)):
        for contended in (False, True):
            times = measure(spin, shared_lock, contended, args.count)
            rows.append(f"| {'default' if spin == LIBGOMP_DEFAULT else 'short'} ({spin}) | {'yes' if shared_lock else 'no'} | "
                        f"{'embedding too' if contended else 'idle'} | {percentile(times, 50):.1f} | "
                        f"{percentile(times, 99):.1f} | {max(times):.1f} |")
            print(rows[-1], flush=True)
    text = "\n".join([HEADING, "", f"{args.count} single embeddings (8–23 characters, two threads, 10 ms apart) in one "
                      "process, alone and while a second process does the same (bench/embedding_contention.py).", "",
                      *rows, ""])
    if args.write:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
