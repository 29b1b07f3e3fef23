"""`make crossval`: k-fold cross-validation of the whole NLU pipeline over `nlu_data/`.

Each fold trains the pipeline of config.yml (`rasa train nlu`) on the other folds and scores the
held-out one exactly as the live bot decides (`bot.decision.decide`): per-category F1, macro-F1,
urgent recall and precision, reports taken for none, none taken for reports. The TF-IDF + SVM
peer of `make bench` is trained and scored on the same folds beside it. A held-out example is
urgent when its block says so (`metadata: {danger: …}`) or, unmarked, when the rules say so:
the same labels the danger model learns from (`nlu.danger_model.labels_of`).

This is how a threshold or a training batch is chosen: on data the model has not seen, never on
the shared evaluation files.

With `--by-file`, each fold holds out whole files of `nlu_data/` instead of examples drawn from
all of them. A file is one writer's batch: held-out examples whose neighbours in the same batch
were trained on share their writer's habits (openings, templates, the way a talk message turns),
and the model is rewarded for knowing the writer. Holding the file out asks what a stranger's
words get, as the files written apart from the project do (docs/testing.md).
"""
import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import METADATA, METADATA_EXAMPLE
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader, RasaYAMLWriter
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.model_selection import GroupKFold, StratifiedKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bot.decision import decide  # noqa: E402
from bot.evaluation import score_rows  # noqa: E402
from bot.normalize import for_classification  # noqa: E402
from bot.taxonomy import NONE, category_for_intent  # noqa: E402
from benchmarks_md import write_section  # noqa: E402
from nlu.danger_model import labels_of, own_metadata  # noqa: E402
from nlu_bench import train_peer_on  # noqa: E402

SECTION = "## Cross-validation over nlu_data (make crossval)"
BY_FILE_SECTION = "## Cross-validation, each writer's file held out (make crossval)"


def explaining_config(out: Path) -> Path:
    """config.yml with the intent classifier also giving the SVM's margins."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"].endswith("LinearIntentClassifier"):
            component["explain"] = True
    path = out / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _own_metadata(message: Message) -> Message:
    """The example with its block's metadata as its own: Rasa's writer gives all examples of an
    intent one block, with the first one's metadata, which would mark every gas report a leak."""
    own = own_metadata(message)
    return Message(data={**message.data, METADATA: {METADATA_EXAMPLE: own} if own else {}})


def train_fold(examples, lookup_tables, out: Path) -> Path:
    data = out / "nlu.yml"
    examples = [_own_metadata(m) for m in examples]
    data.write_text(RasaYAMLWriter().dumps(TrainingData(examples, lookup_tables=lookup_tables)), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "rasa", "train", "nlu", "--nlu", str(data), "--config", str(explaining_config(out)),
                    "--out", str(out), "--fixed-model-name", "fold"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RASA_MAX_CACHE_SIZE": "0"})
    return out / "fold.tar.gz"


def source_files(examples) -> list[str]:
    """The file of `nlu_data/` each example comes from (the first, for a text two files hold)."""
    found: dict = {}
    for path in sorted((ROOT / "nlu_data").rglob("*.yml")):
        if RasaYAMLReader.is_yaml_nlu_file(path):
            for message in RasaYAMLReader().read(path).intent_examples:
                found.setdefault((message.get("text"), message.get("intent")), str(path.relative_to(ROOT)))
    return [found.get((m.get("text"), m.get("intent")), "") for m in examples]


def folds(examples, count: int, files: list[str] | None = None):
    """(training, held-out) index lists: stratified by intent, or, given each example's file
    (`source_files`), whole files held out."""
    intents = [m.get("intent") for m in examples]
    if files is not None:
        return GroupKFold(n_splits=count).split(examples, intents, files)
    return StratifiedKFold(n_splits=count, shuffle=True, random_state=17).split(examples, intents)


def gold(message) -> tuple[str, bool, str]:
    category = category_for_intent(message.get("intent") or "")
    danger, _ = labels_of(_normalised(message))
    return (category.id if category else NONE), danger != "none", message.get("text")


def _normalised(message):
    copy = message.__class__(data=dict(message.data))
    copy.set("text", for_classification(message.get("text") or ""))
    return copy


def summary(scores: list[dict]) -> dict:
    keys = ("macro_f1", "accuracy", "urgent_recall", "urgent_precision", "none_false_ticket_rate", "report_missed_rate",
            "report_confirm_rate")
    out = {key: statistics.fmean(s[key] for s in scores) for key in keys}
    labels = sorted({label for s in scores for label in s["per_category"]})
    out["per_category"] = {label: statistics.fmean(s["per_category"].get(label, {}).get("f1", 0.0) for s in scores)
                           for label in labels}
    return out


def table(ours: dict, peer: dict, count: int, rows: int, by_file: bool = False) -> list[str]:
    held_out = "whole files held out; " if by_file else ""
    lines = [f"{count}-fold cross-validation over the {rows} examples of `nlu_data/` ({held_out}means over the folds).", "",
             "| | macro-F1 | accuracy | urgent recall | urgent precision | none → ticket | reports missed | "
             "of which asked to confirm |", "|---|---|---|---|---|---|---|---|"]
    for who, s in (("ours", ours), ("TF-IDF + SVM peer", peer)):
        lines.append(f"| {who} | {s['macro_f1']:.3f} | {s['accuracy']:.3f} | {s['urgent_recall']:.3f} | "
                     f"{s['urgent_precision']:.3f} | {s['none_false_ticket_rate']:.3f} | {s['report_missed_rate']:.3f} | "
                     f"{s['report_confirm_rate']:.3f} |")
    lines += ["", "| category | F1 ours | F1 peer |", "|---|---|---|"]
    lines += [f"| {label} | {ours['per_category'][label]:.3f} | {peer['per_category'].get(label, 0.0):.3f} |"
              for label in ours["per_category"]]
    return lines


def by_file_table(judged: list[tuple[int, tuple[str, bool, str], dict]], files: list[str]) -> list[str]:
    """For each file whose talk the model files or whose reports it misses, held out: how many.
    `judged`: each held-out example's index, its (category, urgent, text) and its parse."""
    talk, talk_filed, reports, missed = Counter(), Counter(), Counter(), Counter()
    for index, (label, _, _), parse in judged:
        name, filed = files[index], decide(parse).category != NONE
        if label == NONE:
            talk[name] += 1
            talk_filed[name] += filed
        else:
            reports[name] += 1
            missed[name] += not filed
    lines = ["Each file held out, its talk messages filed and its reports missed (the files with either):", "",
             "| file | talk filed | reports missed |", "|---|---|---|"]
    for name in sorted(talk | reports, key=lambda name: (-talk_filed[name] / max(talk[name], 1),
                                                        -missed[name] / max(reports[name], 1), name)):
        if talk_filed[name] or missed[name]:
            lines.append(f"| {name} | {talk_filed[name]} of {talk[name]} | {missed[name]} of {reports[name]} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="put the figures in docs/benchmarks.md")
    parser.add_argument("--by-file", action="store_true", help="hold out whole files of nlu_data/ (one writer's "
                                                                 "batch each), not examples drawn from all of them")
    parser.add_argument("--parses", type=Path, help="keep each held-out example's gold and parse here (JSON), "
                                                    "to weigh a threshold without training again")
    args = parser.parse_args()
    from nlu.parser import ModelParser

    data = RasaFileImporter(training_data_paths=[str(ROOT / "nlu_data")]).get_nlu_data()
    examples = [m for m in data.intent_examples if m.get("text")]
    files = source_files(examples) if args.by_file else None
    ours, peers, judged = [], [], []
    for fold, (train, test) in enumerate(folds(examples, args.folds, files), start=1):
        held_out = [gold(examples[i]) for i in test]
        with tempfile.TemporaryDirectory() as work:
            model = train_fold([examples[i] for i in train], data.lookup_tables, Path(work))
            parse = functools.lru_cache(maxsize=None)(ModelParser(model))  # once a text, for scores and tables
            ours.append(score_rows(held_out, parse))
            judged += [(i, row, parse(row[2])) for i, row in zip(test, held_out)]
        peers.append(score_rows(held_out, train_peer_on([examples[i] for i in train])))
        print(f"fold {fold}: ours macro-F1 {ours[-1]['macro_f1']:.3f} urgent recall {ours[-1]['urgent_recall']:.3f} "
              f"precision {ours[-1]['urgent_precision']:.3f}; peer macro-F1 {peers[-1]['macro_f1']:.3f}", flush=True)
    if args.parses:
        kept = [{"gold": row, "parse": parse} for _, row, parse in judged]
        args.parses.write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
    lines = table(summary(ours), summary(peers), args.folds, len(examples), args.by_file)
    if files is not None:
        lines += ["", *by_file_table(judged, files)]
    print("\n".join(lines))
    if args.write:
        section = BY_FILE_SECTION if args.by_file else SECTION
        write_section(section, "\n".join([section, "", *lines]) + "\n")


if __name__ == "__main__":
    main()
