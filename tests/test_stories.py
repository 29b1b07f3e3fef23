"""Rasa's own test stories (tests/test_conversations.yml) against the trained model."""
import subprocess

from conftest import BIN, ROOT, project_env


def test_conversation_stories_pass(trained_model, tmp_path):
    result = subprocess.run(
        [str(BIN / "rasa"), "test", "core", "--stories", "tests/test_conversations.yml",
         "--model", str(trained_model), "--out", str(tmp_path), "--fail-on-prediction-errors"],
        cwd=ROOT, env=project_env(), capture_output=True, text=True,
    )
    failed = (tmp_path / "failed_test_stories.yml")
    assert result.returncode == 0, (failed.read_text(encoding="utf-8") if failed.exists() else "") + result.stdout[-3000:] + result.stderr[-3000:]
