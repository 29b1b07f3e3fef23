"""The trained model, scored by `python -m bot eval-nlu` / `eval-locations` on our own held-out
messages (written apart from nlu_data/ and never trained on)."""
import json
import subprocess
import sys

from conftest import ROOT, project_env

DATA = ROOT / "tests" / "data"


def run_bot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=project_env(),
                          capture_output=True, text=True)


def test_eval_nlu_on_held_out_messages(trained_model):
    result = run_bot("eval-nlu", str(DATA / "heldout_nlu.tsv"), "--json", "--model", str(trained_model))
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(result.stdout)
    assert set(scores) >= {"macro_f1", "accuracy", "none_false_ticket_rate", "urgent_recall",
                           "urgent_precision", "latency_ms_p50", "latency_ms_p99", "per_category"}
    assert scores["rows"] == 137
    assert scores["macro_f1"] >= 0.88
    assert scores["accuracy"] >= 0.88
    assert scores["none_false_ticket_rate"] <= 0.10
    assert scores["urgent_recall"] >= 0.9


def test_eval_nlu_prints_a_table_by_default(trained_model):
    result = run_bot("eval-nlu", str(DATA / "heldout_nlu.tsv"), "--model", str(trained_model))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "macro-F1" in result.stdout and "heating" in result.stdout and "urgent recall" in result.stdout


def test_eval_locations_on_held_out_messages(trained_model):
    result = run_bot("eval-locations", str(DATA / "heldout_locations.tsv"), "--json", "--model", str(trained_model))
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(result.stdout)
    assert min(scores["field_accuracy"].values()) >= 0.95, scores["errors"]


def test_eval_without_a_model_says_how_to_get_one(tmp_path):
    result = run_bot("eval-nlu", str(DATA / "heldout_nlu.tsv"), "--model", str(tmp_path))
    assert result.returncode != 0
    assert "make train" in result.stderr


def test_eval_faq_on_held_out_questions(trained_model):
    result = run_bot("eval-faq", str(DATA / "heldout_faq.tsv"), "--json", "--model", str(trained_model))
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(result.stdout)
    assert scores["rows"] == 160
    assert scores["top1_accuracy"] >= 0.80
    assert scores["wrong_answer_rate"] <= 0.08
    assert scores["abstain_rate_on_none"] >= 0.80
