"""`python -m bot` loads only what the command needs: --help and the worker never import
TensorFlow or Rasa (through spaCy, which only the evaluation commands use). Asserted on the
modules imported, not on time or memory, which vary by machine."""
import subprocess
import sys

from conftest import ROOT, project_env

HEAVY = {"tensorflow", "rasa", "spacy", "thinc"}

# Runs `python -m bot ARGS` in this process, with asyncio.run not running the worker's beat
# loop, then prints the top-level packages imported, on the last line.
PROBE = """
import asyncio, runpy, sys
asyncio.run = lambda main: main.close()
sys.argv = ["python -m bot", *sys.argv[1:]]
try:
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def imported_by(*args: str, env: dict | None = None) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env or project_env(),
                            capture_output=True, text=True, check=True)
    return set(result.stdout.splitlines()[-1].split())


def test_help_imports_neither_tensorflow_nor_rasa():
    imported = imported_by("--help")
    assert "argparse" in imported  # the probe ran the command line
    assert not imported & HEAVY


def test_the_worker_imports_neither_tensorflow_nor_rasa(tmp_path):
    env = {**project_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}"}
    imported = imported_by("worker", env=env)
    assert "alembic" in imported and (tmp_path / "worker.db").exists()  # it got as far as its beat loop
    assert not imported & HEAVY
