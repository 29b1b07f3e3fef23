"""`make bench`: the NLU on the shared evaluation data (dev_nlu.tsv, and dev_nlu_hard.tsv, written
apart from the project), beside a TF-IDF + SVM peer, and the FAQ with several FAQ files.

Trains the project's model from scratch (timed), scores it with `python -m bot eval-nlu` and
`eval-locations` in a child process (peak RSS of the loaded model), then trains the peer on
the same `nlu_data/` and scores it through the same decision function. The FAQ is not part of
the model: each FAQ file is scored with `FAQ_FILE=… python -m bot eval-faq`, no training, as a
street office would use its own file. `--write` puts the figures in docs/benchmarks.md.
"""
import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import jieba
from rasa.shared.importers.rasa import RasaFileImporter
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot import faq  # noqa: E402
from bot.evaluation import score_nlu  # noqa: E402
from benchmarks_md import write_section  # noqa: E402 - bench/ is this script's folder
from typed_by_sound import mistype_file  # noqa: E402


SECTION = "## Understanding and FAQ (make bench)"
DATA = ROOT / "tests" / "data"
HELDOUT = DATA / "heldout_nlu.tsv"
# messages typed in pinyin and sent without choosing characters (bot/typed_in_pinyin.py), written
# from the taxonomy by a writer who had not seen the module
PINYIN = DATA / "typed_in_pinyin_nlu.tsv"
# news that a problem is over told in a problem's words (又亮了, 水退了, 搬走了) beside problems back
# again (又不亮了), written from the taxonomy by a writer who had not seen the training batch for it
BACK_TO_NORMAL = DATA / "back_to_normal_nlu.tsv"
# written apart from the project, by writers who read only the taxonomy: the first chooses training
# batches; each of the others was sealed while one stop's batches were chosen, then scored
# (docs/testing.md); a new round's sealed file is scored once it is in tests/data, in the order written
def _round(path: Path) -> int:
    """apart_sealed_nlu.tsv is the first round's sealed file, apart_sealed_N_nlu.tsv the Nth's."""
    number = path.name.removeprefix("apart_sealed").removesuffix("_nlu.tsv").strip("_")
    return int(number or 1)


APART = [DATA / "apart_nlu.tsv", *sorted(DATA.glob("apart_sealed*_nlu.tsv"), key=_round)]


def train_model(out: Path, where: Path = ROOT) -> tuple[Path, float]:
    """Train from nothing: Rasa's training cache is off and the embeddings' cache empty, so the
    time is a fresh clone's first training."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rasa", "train", "--data", "nlu_data", "--config", "config.yml",
                    "--domain", "domain.yml", "--out", str(out), "--fixed-model-name", "bench"],
                   cwd=where, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "RASA_MAX_CACHE_SIZE": "0", "EMBEDDING_CACHE": str(out / "embeddings")})
    return out / "bench.tar.gz", time.perf_counter() - start


def run_eval(command: str, path: Path, model: Path, faq_file: Path | None = None) -> dict:
    env = {**os.environ, "FAQ_FILE": str(faq_file)} if faq_file else None
    result = subprocess.run([sys.executable, "-m", "bot", command, str(path), "--json", "--model", str(model)],
                            cwd=ROOT, check=True, capture_output=True, text=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def faq_settings(shared: Path, work: Path) -> list[tuple[str, Path, Path]]:
    """(what, FAQ file, questions): the sample FAQ whole and cut to three and two questions an
    entry (as terse files are), another site's FAQ, and the shared terse FAQ written apart."""
    sample = faq.load(ROOT / "faq" / "sample_faq.yml")
    ours = work / "sample_questions.tsv"
    ours.write_text("question\tfaq_id\n" + "".join(
        "".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[1:])
        for path in (DATA / f"{name}_faq.tsv" for name in ("heldout", "validation", "fresh"))),
        encoding="utf-8")
    settings = [("sample FAQ (5-8 questions an entry), our held-out questions", ROOT / "faq" / "sample_faq.yml", ours)]
    for count in (3, 2):
        cut = work / f"sample_{count}.yml"
        cut.write_text(faq.dump([dataclasses.replace(e, questions=e.questions[:count]) for e in sample]), encoding="utf-8")
        settings.append((f"sample FAQ cut to {count} questions an entry", cut, ours))
    for site, what in (("other_site", "another site's FAQ"), ("third_site", "a third site's terse FAQ")):
        settings.append((f"{what} and questions (tests/data/{site}_faq)",
                         DATA / f"{site}_faq.yml", DATA / f"{site}_faq.tsv"))
    terse = shared / "eval" / "terse_faq.yml"
    if terse.exists():
        settings.append(("shared terse FAQ, written apart (reported, never tuned on)", terse,
                         shared / "eval" / "terse_faq_questions.tsv"))
    return settings


def jieba_words(text: str) -> list[str]:
    return [w for w in jieba.lcut(text) if w.strip()]


def train_peer_on(examples):
    """The classic baseline, TF-IDF over character 1-3-grams plus jieba words and a linear SVM,
    trained on these examples; a parse function as the model's."""
    features = make_union(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
                          TfidfVectorizer(tokenizer=jieba_words, token_pattern=None, sublinear_tf=True))
    peer = make_pipeline(features, LinearSVC(C=1.0, random_state=0))
    peer.fit([m.get("text") for m in examples], [m.get("intent") for m in examples])

    def parse(text: str) -> dict:
        intent = peer.predict([text])[0]
        return {"text": text, "intent": {"name": intent, "confidence": 1.0},
                "intent_ranking": [{"name": intent, "confidence": 1.0}], "entities": []}
    return parse


def nlu_table(files: list[tuple[str, dict, dict]]) -> list[str]:
    lines = ["| file | | macro-F1 | accuracy | none → ticket | urgent recall | urgent precision | parse p99 (ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, ours, peer in files:
        for who, scores in (("ours", ours), ("TF-IDF + SVM peer", peer)):
            lines.append(f"| {name} ({ours['rows']}) | {who} | {scores['macro_f1']:.3f} | {scores['accuracy']:.3f} | "
                         f"{scores['none_false_ticket_rate']:.3f} | {scores['urgent_recall']:.3f} | "
                         f"{scores['urgent_precision']:.3f} | {scores['latency_ms_p99']:.1f} |")
    return lines


def faq_table(answers: list[tuple[str, dict]]) -> list[str]:
    lines = ["| FAQ file and questions | rows | top-1 (answered right) | resolved (answer or suggestion) | "
             "suggestions given | wrong answers | uncovered not answered | latency p50 / p99 (ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, scores in answers:
        lines.append(f"| {name} | {scores['rows']} | {scores['top1_accuracy']:.3f} | {scores['resolved_rate']:.3f} | "
                     f"{scores['suggestion_rate']:.3f} | {scores['wrong_answer_rate']:.3f} | "
                     f"{scores['abstain_rate_on_none']:.3f} | {scores['latency_ms_p50']:.1f} / "
                     f"{scores['latency_ms_p99']:.1f} |")
    return lines


def main() -> None:
    options = argparse.ArgumentParser()
    options.add_argument("--shared", default="../shared")
    options.add_argument("--write", action="store_true", help="update the section in docs/benchmarks.md")
    args = options.parse_args()
    shared = Path(args.shared)
    nlu_files = [shared / "eval" / "dev_nlu.tsv", shared / "eval" / "dev_nlu_hard.tsv"]
    locations_file = shared / "eval" / "dev_locations.tsv"
    for dictionary in (ROOT / "nlu_data" / "jieba").glob("*"):
        jieba.load_userdict(str(dictionary))
    examples = RasaFileImporter(training_data_paths=[str(ROOT / "nlu_data")]).get_nlu_data().intent_examples
    with tempfile.TemporaryDirectory() as out:
        # our own held-out messages, and the same typed by sound (bench/typed_by_sound.py)
        typed = Path(out) / "heldout_nlu_typed_by_sound.tsv"
        typed_rows = mistype_file(HELDOUT, typed, [m.get("text") for m in examples])
        nlu_files = [path for path in nlu_files if path.exists()] + [HELDOUT, typed, PINYIN, BACK_TO_NORMAL, *APART]
        model, train_seconds = train_model(Path(out))
        ours = [run_eval("eval-nlu", path, model) for path in nlu_files]
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        places = run_eval("eval-locations", locations_file, model)
        answers = [(name, run_eval("eval-faq", questions, model, faq_file))
                   for name, faq_file, questions in faq_settings(shared, Path(out))]
        peer_parse = train_peer_on(examples)
        peers = [score_nlu(path, peer_parse) for path in nlu_files]
    names = [path.name for path in nlu_files]
    text = "\n".join([
        SECTION, "",
        f"`make bench`: the model trained from nothing in {train_seconds:.0f} s (peak RSS of the loaded model "
        f"{rss_mb:.0f} MB); `python -m bot eval-nlu` on the shared files, the peer (TF-IDF over character "
        "1-3-grams and jieba words, a linear SVM) trained on the same `nlu_data/` and judged by the same "
        "`bot.decision.decide`. dev_nlu_hard.tsv was written apart from the project: never trained or tuned on. "
        "Parse times are one run's, each message parsed for the first time: on this machine the same model's "
        "p99 differs by several milliseconds from run to run.", "",
        *nlu_table(list(zip(names, ours, peers))), "",
        f"{HELDOUT.name} is our own held-out file (never trained on); in {typed.name}, {typed_rows} of its messages "
        "have one character of a community word typed by sound (电梯 → 电悌, 小区 → 小去; bench/typed_by_sound.py). "
        f"{PINYIN.name}: 90 messages typed in toneless pinyin alone (\"ranqi xielou le\", \"3dong dianti li you ren\"), "
        "written from the taxonomy by a writer who had not seen how the bot reads them. "
        f"{BACK_TO_NORMAL.name}: news that a problem is over said in a problem's words (又亮了, 水退了, 搬走了) "
        "beside the problem back again (又不亮了), written from the taxonomy by a writer who had not seen the "
        "training batch written for it (nlu_data/back_to_normal_or_not.yml). "
        f"The {len(APART)} apart_ files were written apart from the project by writers who read only the "
        "taxonomy, in residents' styles (voice input, dialect, group chats, traditional characters, Cantonese, typos, "
        f"talk about a problem that is over, elsewhere or feared); {APART[0].name} is used to choose training batches, "
        "each of the others was kept sealed while one round of batches was chosen.", "",
        f"Locations on {locations_file.name} ({places['rows']} rows): "
        + ", ".join(f"{field} {accuracy:.3f}" for field, accuracy in places["field_accuracy"].items())
        + f"; whole rows {places['row_accuracy']:.3f}.", "",
        "FAQ (`FAQ_FILE=… python -m bot eval-faq`, no training; the matcher calibrates itself on each file, "
        "bot/faq_matcher.py). Top-1: covered questions answered directly and right; resolved: the right entry "
        "answered or among the suggestions (猜你想问); wrong answers: of all questions.", "",
        *faq_table(answers), ""])
    print(text)
    # counts only: the shared files are for reporting, and their sentences are not to be read for tuning
    print("\nour misclassifications (expected → got, ! urgent):")
    for name, scores in zip(names, ours):
        confusions = Counter(f"{e['expected']}{'!' if e['expected_urgent'] else ''} → "
                             f"{e['got']}{'!' if e['got_urgent'] else ''}" for e in scores["errors"])
        print(f"  {name}: " + ", ".join(f"{pair} ×{count}" for pair, count in confusions.most_common()))
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
