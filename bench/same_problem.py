"""How nearly two reports must say the same thing to be one problem (反映集中): the threshold of
`bot.tickets.SAME_PROBLEM`, chosen by cross-validation on labelled pairs.

The pairs (`tests/data/same_problem_pairs.tsv`: same<TAB>category<TAB>first<TAB>second) are two
reports of one category: the same problem in other words (1), or another problem (0). Each fold
chooses the threshold that classifies its other four folds best and is scored on itself; the
figures are the pooled out-of-fold predictions, over several shuffles. The value for the code is
the threshold chosen on all pairs.

    python bench/same_problem.py            # print the figures
    python bench/same_problem.py --write    # and put them in docs/benchmarks.md
"""
import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot import same_problem  # noqa: E402
from bot.tickets import SAME_PROBLEM  # noqa: E402
from benchmarks_md import BENCHMARKS, write_section  # noqa: E402 - bench/ is this script's folder

PAIRS = ROOT / "tests" / "data" / "same_problem_pairs.tsv"
SECTION = "## Same problem (反映集中)"
FOLDS, SHUFFLES = 5, 10


def read_pairs(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold (between two neighbouring scores) that classifies the pairs best; of several
    as good, the middle one."""
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] - 1e-3], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-3]])
    accuracy = np.array([((scores >= t) == same).mean() for t in candidates])
    tied = candidates[accuracy == accuracy.max()]
    return float(tied[len(tied) // 2])


def figures(predicted: np.ndarray, same: np.ndarray) -> dict:
    true_positive = int((predicted & same).sum())
    return {"accuracy": float((predicted == same).mean()),
            "precision": true_positive / max(int(predicted.sum()), 1),
            "recall": true_positive / max(int(same.sum()), 1)}


def cross_validate(scores: np.ndarray, same: np.ndarray) -> dict:
    """Out-of-fold figures of `FOLDS`-fold cross-validation, each shuffle's, and the thresholds chosen."""
    runs, thresholds = [], []
    for seed in range(SHUFFLES):
        order = np.random.default_rng(seed).permutation(len(same))
        predicted = np.zeros(len(same), dtype=bool)
        for held_out in np.array_split(order, FOLDS):
            train = np.setdiff1d(order, held_out)
            threshold = best_threshold(scores[train], same[train])
            thresholds.append(threshold)
            predicted[held_out] = scores[held_out] >= threshold
        runs.append(figures(predicted, same))
    summary = {key: (float(np.mean([run[key] for run in runs])), min(run[key] for run in runs),
                     max(run[key] for run in runs)) for key in runs[0]}
    return {**summary, "thresholds": (min(thresholds), max(thresholds))}


def measure(pairs: list[dict]) -> dict:
    scores = np.array([same_problem.similarity(p["first"], [p["second"]]) for p in pairs])
    same = np.array([p["same"] == "1" for p in pairs])
    chosen = best_threshold(scores, same)
    return {"chosen": chosen, "cv": cross_validate(scores, same),
            "at_constant": figures(scores >= SAME_PROBLEM, same), "scores": scores, "same": same}


def report(pairs: list[dict], ours: dict) -> str:
    scores, same = ours["scores"], ours["same"]
    cv, (low, high), at = ours["cv"], ours["cv"]["thresholds"], ours["at_constant"]
    cells = [f"{cv[key][0]:.3f} ({cv[key][1]:.3f}–{cv[key][2]:.3f})" for key in ("accuracy", "precision", "recall")]
    share = same.mean()
    return "\n".join([
        SECTION, "",
        f"`python bench/same_problem.py` on `tests/data/same_problem_pairs.tsv` (written for it from the "
        f"taxonomy): {len(pairs)} pairs of reports of one category ({same.sum()} the same problem in other "
        f"words, {(~same).sum()} another problem), {len({p['category'] for p in pairs})} categories. "
        f"{FOLDS}-fold cross-validation, {SHUFFLES} shuffles: each fold's threshold is chosen on the other "
        "four folds; the figures are the out-of-fold predictions (mean, and the least and most of the "
        "shuffles). \"Same\" is the positive class: precision is how many joins were right.", "",
        "| joins when | threshold on all pairs | fold thresholds | accuracy | precision | recall |",
        "|---|---|---|---|---|---|",
        f"| e5 cosine ≥ threshold (the bot) | {ours['chosen']:.3f} | {low:.3f}–{high:.3f} | "
        + " | ".join(cells) + " |",
        f"| always (same compound, category, building: before) | – | – | {share:.3f} | {share:.3f} | 1.000 |", "",
        f"`bot.tickets.SAME_PROBLEM` = {SAME_PROBLEM}: on all pairs accuracy {at['accuracy']:.3f}, "
        f"precision {at['precision']:.3f}, recall {at['recall']:.3f} (in-sample; `--errors` lists the "
        f"pairs it gets wrong). The cosines lie close together (median {np.median(scores[same]):.3f} for "
        f"the same problem, {np.median(scores[~same]):.3f} for another): two problems of one category "
        "that share their words (a barking dog and a dog peeing in the lift) often come near the "
        "threshold and may go either way.", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--write", action="store_true", help=f"update the section in {BENCHMARKS.relative_to(ROOT)}")
    parser.add_argument("--errors", action="store_true", help="list the pairs the constant gets wrong")
    args = parser.parse_args()
    pairs = read_pairs(args.pairs)
    ours = measure(pairs)
    text = report(pairs, ours)
    print(text)
    if args.errors:
        for pair, score, same in zip(pairs, ours["scores"], ours["same"]):
            if (score >= SAME_PROBLEM) != same:
                print(f"{'same' if same else 'other'}\t{score:.3f}\t{pair['first']}\t{pair['second']}")
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
