"""Weigh the intent classifier's temperature and the report share on `make crossval`'s
held-out parses.

`bench/crossval.py --parses FILE` keeps, for every held-out example, the SVM's margins (the
classifier's `explain`); this ranks them with other temperatures and decides with other report
shares (`bot.decision.REPORT_SHARE`), without training again, and prints macro-F1, none → ticket
and reports missed for each; then urgent recall and precision for other bars of the learned
danger. A choice made here is made on data the model had not seen."""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bot import decision, urgency  # noqa: E402
from bot.decision import REPORT_SHARE  # noqa: E402
from bot.urgency import LEARNED_DANGER  # noqa: E402
from bot.evaluation import score_rows  # noqa: E402
from benchmarks_md import write_section  # noqa: E402 - bench/ is this script's folder
from nlu.linear_intents import ranked  # noqa: E402

SECTION = "## The intent temperature and the report share, on cross-validation (bench/threshold_sweep.py)"
BY_FILE_SECTION = "## The intent temperature and the report share, each writer's file held out (bench/threshold_sweep.py)"


def reranked(parse: dict, temperature: float) -> dict:
    if "linear_margins" not in parse:  # nothing for the model to read (an emoji)
        return parse
    ranking = ranked(parse["linear_margins"], temperature)
    return {**parse, "intent": ranking[0], "intent_ranking": ranking}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parses", type=Path)
    parser.add_argument("--write", action="store_true", help="put the table in docs/benchmarks.md")
    parser.add_argument("--by-file", action="store_true", help="the parses are of `crossval.py --by-file`")
    args = parser.parse_args()
    section, run = (BY_FILE_SECTION, "`bench/crossval.py --by-file`") if args.by_file else (SECTION, "`make crossval`")
    kept = json.loads(args.parses.read_text(encoding="utf-8"))
    rows = [tuple(item["gold"]) for item in kept]
    by_text = {item["gold"][2]: item["parse"] for item in kept}
    lines = [f"The intent temperature and the report share (all report intents together) on the {len(rows)} "
             f"held-out parses of {run}:", "",
             "| temperature | report share | macro-F1 | none → ticket | reports missed | asked to confirm |",
             "|---|---|---|---|---|---|"]
    print("\n".join(lines))
    for temperature in (0.05, 0.1, 0.2, 0.3):
        for threshold in (0.5, 0.6, 0.7, 0.8, 0.9):
            decision.REPORT_SHARE = threshold
            s = score_rows(rows, lambda text: reranked(by_text[text], temperature))
            lines.append(f"| {temperature} | {threshold} | {s['macro_f1']:.3f} | "
                         f"{s['none_false_ticket_rate']:.3f} | {s['report_missed_rate']:.3f} | {s['report_confirm_rate']:.3f} |")
            print(lines[-1], flush=True)
    decision.REPORT_SHARE = REPORT_SHARE
    lines += ["", "The learned danger's bar (`bot.urgency.LEARNED_DANGER`, a danger the rules do not name) on the same "
              "parses, at the chosen temperature and report share:", "",
              "| learned danger from | urgent recall | urgent precision |", "|---|---|---|"]
    for bar in (0.3, 0.4, 0.5, 0.6, 0.7):
        urgency.LEARNED_DANGER = bar
        s = score_rows(rows, by_text.__getitem__)
        lines.append(f"| {bar} | {s['urgent_recall']:.3f} | {s['urgent_precision']:.3f} |")
        print(lines[-1], flush=True)
    urgency.LEARNED_DANGER = LEARNED_DANGER
    lines += ["", "A danger the rules name in a message whose best intent is no report, settled by the learned "
              "modality when it is this sure either way (not now: no ticket; now: urgent; `bot.decision`, at "
              "`bot.urgency.NOT_NOW`):", "",
              "| modality sure from | macro-F1 | none → ticket | urgent recall | urgent precision |", "|---|---|---|---|---|"]
    for bar in (0.3, 0.5, 0.65, 0.8, None):
        decision.NOT_NOW = 2.0 if bar is None else bar
        s = score_rows(rows, by_text.__getitem__)
        lines.append(f"| {'never' if bar is None else bar} | {s['macro_f1']:.3f} | {s['none_false_ticket_rate']:.3f} | "
                     f"{s['urgent_recall']:.3f} | {s['urgent_precision']:.3f} |")
        print(lines[-1], flush=True)
    decision.NOT_NOW = urgency.NOT_NOW
    if args.write:
        write_section(section, "\n".join([section, "", *lines]) + "\n")


if __name__ == "__main__":
    main()
