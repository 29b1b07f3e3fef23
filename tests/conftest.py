"""Shared fixtures: one model trained per test run, and the paths the tests use."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["RASA_TELEMETRY_ENABLED"] = "false"


def project_env() -> dict:
    """The environment the project's commands run in (the Makefile sets the same)."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> Path:
    """The project's model, trained once for the whole run from config.yml and nlu_data/."""
    out = tmp_path_factory.mktemp("model")
    subprocess.run(
        [str(BIN / "rasa"), "train", "--data", "nlu_data", "--config", "config.yml",
         "--domain", "domain.yml", "--out", str(out), "--fixed-model-name", "test"],
        cwd=ROOT, env=project_env(), check=True, stdout=subprocess.DEVNULL,
    )
    return out / "test.tar.gz"
