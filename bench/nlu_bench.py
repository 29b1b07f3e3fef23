"""`make bench`: the NLU on the shared sample evaluation data, beside a TF-IDF + SVM peer, and
the FAQ on our own held-out questions.

Trains the project's model from scratch (timed), scores it with `python -m bot eval-nlu` and
`eval-locations` in a child process (peak RSS of the loaded model), then trains the peer on
the same `nlu_data/` and scores it through the same decision function. Last, the FAQ of a
second site (`tests/data/other_site_faq.yml`, written apart from ours) is built and trained with the
project's commands in a copy of the training data, as a street office would with its own file.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jieba
from rasa.shared.importers.rasa import RasaFileImporter
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.evaluation import score_nlu  # noqa: E402


OTHER_SITE = ROOT / "tests" / "data" / "other_site_faq"  # .yml: the FAQ; .tsv: its questions


def train_model(out: Path, where: Path = ROOT) -> tuple[Path, float]:
    """Train from nothing: Rasa's training cache is off, so the time is a real training's."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rasa", "train", "--data", "nlu_data", "--config", "config.yml",
                    "--domain", "domain.yml", "--out", str(out), "--fixed-model-name", "bench"],
                   cwd=where, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "RASA_MAX_CACHE_SIZE": "0"})
    return out / "bench.tar.gz", time.perf_counter() - start


def run_eval(command: str, path: Path, model: Path, faq_file: Path | None = None) -> dict:
    env = {**os.environ, "FAQ_FILE": str(faq_file)} if faq_file else None
    result = subprocess.run([sys.executable, "-m", "bot", command, str(path), "--json", "--model", str(model)],
                            cwd=ROOT, check=True, capture_output=True, text=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def other_site_faq(work: Path) -> dict:
    """Build the second site's FAQ into a copy of the training data, train, and score its questions."""
    for name in ("nlu_data", "config.yml", "domain.yml"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, work / name)
    subprocess.run([sys.executable, "-m", "bot", "faq", "build", str(OTHER_SITE.with_suffix(".yml")),
                    "--out", str(work / "nlu_data" / "faq_generated.yml"), "--domain", str(work / "domain.yml")],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    model, _ = train_model(work / "models", where=work)
    return run_eval("eval-faq", OTHER_SITE.with_suffix(".tsv"), model, OTHER_SITE.with_suffix(".yml"))


def jieba_words(text: str) -> list[str]:
    return [w for w in jieba.lcut(text) if w.strip()]


def train_peer():
    """TF-IDF over character 1-3-grams plus jieba words, a linear SVM: the classic baseline."""
    examples = RasaFileImporter(training_data_paths=[str(ROOT / "nlu_data")]).get_nlu_data().intent_examples
    features = make_union(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
                          TfidfVectorizer(tokenizer=jieba_words, token_pattern=None, sublinear_tf=True))
    peer = make_pipeline(features, LinearSVC(C=1.0))
    peer.fit([m.get("text") for m in examples], [m.get("intent") for m in examples])

    def parse(text: str) -> dict:
        intent = peer.predict([text])[0]
        return {"text": text, "intent": {"name": intent, "confidence": 1.0},
                "intent_ranking": [{"name": intent, "confidence": 1.0}], "entities": []}
    return parse


def main() -> None:
    options = argparse.ArgumentParser()
    options.add_argument("--shared", default="../shared")
    args = options.parse_args()
    nlu_file = Path(args.shared) / "eval" / "dev_nlu.tsv"
    locations_file = Path(args.shared) / "eval" / "dev_locations.tsv"
    for dictionary in (ROOT / "nlu_data" / "jieba").glob("*"):
        jieba.load_userdict(str(dictionary))
    with tempfile.TemporaryDirectory() as out:
        model, train_seconds = train_model(Path(out))
        ours = run_eval("eval-nlu", nlu_file, model)
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        places = run_eval("eval-locations", locations_file, model)
        answers = {name: run_eval("eval-faq", ROOT / "tests" / "data" / f"{name}_faq.tsv", model)
                   for name in ("heldout", "validation", "fresh")}
    with tempfile.TemporaryDirectory() as work:
        answers["other_site"] = other_site_faq(Path(work))
    peer = score_nlu(nlu_file, train_peer())
    print(f"NLU on {nlu_file} ({ours['rows']} rows)")
    print(f"{'':28}{'ours (blend)':>14}{'TF-IDF+SVM':>14}")
    for key, label in (("macro_f1", "macro-F1"), ("accuracy", "accuracy"),
                       ("none_false_ticket_rate", "none false-ticket rate"),
                       ("urgent_recall", "urgent recall"), ("urgent_precision", "urgent precision"),
                       ("latency_ms_p50", "parse latency p50 (ms)"), ("latency_ms_p99", "parse latency p99 (ms)")):
        print(f"{label:<28}{ours[key]:>14.3f}{peer[key]:>14.3f}")
    print(f"{'macro-F1 margin over peer':<28}{ours['macro_f1'] - peer['macro_f1']:>+14.3f}")
    print(f"\nlocations on {locations_file} ({places['rows']} rows)")
    for field, accuracy in places["field_accuracy"].items():
        print(f"  {field:<10}{accuracy:.3f}")
    print(f"  {'mean':<10}{places['field_accuracy_mean']:.3f}\n  {'rows':<10}{places['row_accuracy']:.3f}")
    for name, why in (("heldout", "the thresholds were chosen on it"), ("validation", "the thresholds were chosen on it"),
                      ("fresh", "written last"),
                      ("other_site", "another site's FAQ file and questions; only the answer check's tolerance was chosen with it")):
        scores = answers[name]
        print(f"\nFAQ on tests/data/{name}_faq.tsv ({scores['rows']} questions phrased apart from the FAQ file; {why})")
        print(f"  top-1 accuracy (covered)  {scores['top1_accuracy']:.3f}")
        print(f"  wrong-answer rate         {scores['wrong_answer_rate']:.3f}")
        print(f"  abstain rate on none      {scores['abstain_rate_on_none']:.3f}")
        print(f"  latency p50/p99           {scores['latency_ms_p50']:.1f} / {scores['latency_ms_p99']:.1f} ms")
    print(f"\ntraining wall time          {train_seconds:.0f} s")
    print(f"peak RSS, loaded model      {rss_mb:.0f} MB")
    print("\nour misclassifications:")
    for e in ours["errors"]:
        print(f"  {e['expected']}{'!' if e['expected_urgent'] else ''} → {e['got']}{'!' if e['got_urgent'] else ''}"
              f" ({e['intent']} {e['confidence']}): {e['text']}")


if __name__ == "__main__":
    main()
