"""Scoring the trained model on labelled messages, exactly as the live bot decides.

`parse` is any callable from text to a Rasa parse result (the trained model in practice);
each row goes through `bot.decision.decide` and `bot.replies.first_values`, the same calls
the actions make.
"""
import csv
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bot import faq, faq_matcher
from bot.decision import decide
from bot.locations import FIELDS
from bot.replies import first_values
from bot.taxonomy import ALL_LABELS, NONE

Parse = Callable[[str], dict]
NOT_SCORED = "*"


class EvalFileError(ValueError):
    """A row of an evaluation file that cannot be read."""


def read_rows(path: str | Path, columns: int) -> list[list[str]]:
    """The data rows of a TSV file with a header line, each with exactly `columns` fields."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    data = [row for row in rows[1:] if any(field.strip() for field in row)]
    for number, row in enumerate(data, start=2):
        if len(row) < columns:
            row.extend([""] * (columns - len(row)))
        if len(row) != columns:
            raise EvalFileError(f"{path}:{number}: expected {columns} tab-separated fields, got {len(row)}")
    return data


def _timed(parse: Parse, text: str) -> tuple[dict, float]:
    start = time.perf_counter()
    result = parse(text)
    return result, (time.perf_counter() - start) * 1000


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score_nlu(path: str | Path, parse: Parse) -> dict:
    """Per-category precision/recall/F1, macro-F1, accuracy, none false tickets, urgency, latency.

    Macro-F1 averages the labels (the 17 categories and `none`) that occur in the file.
    """
    rows = read_rows(path, 3)
    for number, (label, urgent, _) in enumerate(rows, start=2):
        if label not in ALL_LABELS or urgent not in ("0", "1"):
            raise EvalFileError(f"{path}:{number}: unknown category {label!r} or urgent {urgent!r}")
    return score_rows([(label, urgent == "1", text) for label, urgent, text in rows], parse)


def score_rows(rows: list[tuple[str, bool, str]], parse: Parse) -> dict:
    """`score_nlu` of (category, urgent, text) rows, wherever they come from (a file, a fold)."""
    parse(rows[0][2] if rows else "")  # warm-up, not timed
    gold, predicted, latencies, errors = [], [], [], []
    confirmed = 0
    for label, urgent, text in rows:
        result, ms = _timed(parse, text)
        decision = decide(result)
        gold.append((label, urgent))
        predicted.append((decision.category, decision.urgent))
        confirmed += label != NONE and decision.category == NONE and decision.likely_category is not None
        latencies.append(ms)
        if decision.category != label or decision.urgent != urgent:
            errors.append({"text": text, "expected": label, "expected_urgent": urgent,
                           "got": decision.category, "got_urgent": decision.urgent,
                           "intent": decision.intent, "confidence": round(decision.confidence, 3)})
    per_category = {}
    for label in ALL_LABELS:
        tp = sum(1 for g, p in zip(gold, predicted) if g[0] == label and p[0] == label)
        n_gold = sum(1 for g in gold if g[0] == label)
        n_pred = sum(1 for p in predicted if p[0] == label)
        if n_gold or n_pred:
            precision, recall = _ratio(tp, n_pred), _ratio(tp, n_gold)
            per_category[label] = {"precision": precision, "recall": recall,
                                   "f1": _f1(precision, recall), "support": n_gold}
    scored = [s["f1"] for s in per_category.values() if s["support"]]
    none_rows = [p for g, p in zip(gold, predicted) if g[0] == NONE]
    urgent_tp = sum(1 for g, p in zip(gold, predicted) if g[1] and p[1])
    return {
        "rows": len(rows),
        "macro_f1": statistics.fmean(scored) if scored else 0.0,
        "accuracy": _ratio(sum(1 for g, p in zip(gold, predicted) if g[0] == p[0]), len(rows)),
        "none_false_ticket_rate": _ratio(sum(1 for p in none_rows if p[0] != NONE), len(none_rows)),
        # reports taken for no report at all; and of those, the ones the resident is asked to confirm
        "report_missed_rate": _ratio(sum(1 for g, p in zip(gold, predicted) if g[0] != NONE and p[0] == NONE),
                                     sum(1 for g in gold if g[0] != NONE)),
        "report_confirm_rate": _ratio(confirmed, sum(1 for g in gold if g[0] != NONE)),
        "urgent_recall": _ratio(urgent_tp, sum(1 for g in gold if g[1])),
        "urgent_precision": _ratio(urgent_tp, sum(1 for p in predicted if p[1])),
        "latency_ms_p50": percentile(latencies, 50),
        "latency_ms_p99": percentile(latencies, 99),
        "per_category": per_category,
        "errors": errors,
    }


def score_locations(path: str | Path, parse: Parse) -> dict:
    """Exact match per field (compound, building, unit, room) and per row; `*` is not scored."""
    rows = read_rows(path, 1 + len(FIELDS))
    hits = {field: 0 for field in FIELDS}
    counted = {field: 0 for field in FIELDS}
    row_hits, errors = 0, []
    for text, *expected in rows:
        got = first_values(parse(text).get("entities", []))
        row_ok = True
        for field, want in zip(FIELDS, expected):
            if want.strip() == NOT_SCORED:
                continue
            counted[field] += 1
            if got.get(field, "") == want.strip():
                hits[field] += 1
            else:
                row_ok = False
                errors.append({"text": text, "field": field, "expected": want, "got": got.get(field, "")})
        row_hits += row_ok
    return {
        "rows": len(rows),
        "field_accuracy": {f: _ratio(hits[f], counted[f]) for f in FIELDS},
        "field_accuracy_mean": _ratio(sum(hits.values()), sum(counted.values())),
        "row_accuracy": _ratio(row_hits, len(rows)),
        "errors": errors,
    }


def nlu_report(scores: dict) -> str:
    """The human-readable table `eval-nlu` prints."""
    lines = [f"{'category':<22}{'precision':>10}{'recall':>9}{'f1':>8}{'support':>9}"]
    for label, s in scores["per_category"].items():
        lines.append(f"{label:<22}{s['precision']:>10.3f}{s['recall']:>9.3f}{s['f1']:>8.3f}{s['support']:>9}")
    lines += [
        "",
        f"rows                    {scores['rows']}",
        f"macro-F1                {scores['macro_f1']:.3f}",
        f"accuracy                {scores['accuracy']:.3f}",
        f"none false-ticket rate  {scores['none_false_ticket_rate']:.3f}",
        f"urgent recall           {scores['urgent_recall']:.3f}",
        f"urgent precision        {scores['urgent_precision']:.3f}",
        f"parse latency p50/p99   {scores['latency_ms_p50']:.1f} / {scores['latency_ms_p99']:.1f} ms",
    ]
    if scores["errors"]:
        lines += ["", "misclassified:"]
        lines += [f"  {e['expected']}{'!' if e['expected_urgent'] else ''} → {e['got']}"
                  f"{'!' if e['got_urgent'] else ''} ({e['intent']} {e['confidence']}): {e['text']}"
                  for e in scores["errors"]]
    return "\n".join(lines)


def locations_report(scores: dict) -> str:
    """The human-readable table `eval-locations` prints."""
    lines = [f"{field:<10}{accuracy:.3f}" for field, accuracy in scores["field_accuracy"].items()]
    lines += [f"{'mean':<10}{scores['field_accuracy_mean']:.3f}",
              f"{'rows':<10}{scores['row_accuracy']:.3f}  ({scores['rows']} rows)"]
    if scores["errors"]:
        lines += ["", "mismatches:"]
        lines += [f"  {e['field']}: expected {e['expected']!r} got {e['got']!r}: {e['text']}"
                  for e in scores["errors"]]
    return "\n".join(lines)


def score_faq(path: str | Path, parse: Parse, entries: list["faq.Entry"]) -> dict:
    """How the FAQ does on `question<TAB>faq_id` rows (`none`: a question it does not cover),
    deciding as the live bot does (`bot.faq_matcher.choose_for`): covered questions answered
    directly and right (top-1), or with the right entry among the suggestions (resolved);
    suggestions given; wrong direct answers; uncovered questions given no direct answer."""
    rows = read_rows(path, 2)
    known = {entry.id for entry in entries}
    for number, (_, expected) in enumerate(rows, start=2):
        if expected != "none" and expected not in known:
            raise EvalFileError(f"{path}:{number}: no FAQ entry {expected!r}")
    parse(rows[0][0] if rows else "")  # warm-up, not timed
    matcher = faq_matcher.Matcher(entries)
    covered = right = resolved = suggested = wrong = none_rows = abstained_on_none = 0
    latencies, errors = [], []
    for question, expected in rows:
        started = time.perf_counter()
        result = parse(question)
        choice = faq_matcher.choose_for(result, decide(result), matcher)
        latencies.append((time.perf_counter() - started) * 1000)
        got = choice.answer.id if choice.answer else "none"
        offered = [entry.id for entry in choice.suggestions]
        suggested += bool(offered)
        if expected == "none":
            none_rows += 1
            abstained_on_none += got == "none"
        else:
            covered += 1
            right += got == expected
            resolved += got == expected or expected in offered
        if got not in ("none", expected):
            wrong += 1
        if got != expected:
            errors.append({"question": question, "expected": expected, "got": got, "suggested": offered,
                           "intent": (result.get("intent") or {}).get("name")})
    return {
        "rows": len(rows),
        "top1_accuracy": _ratio(right, covered),
        "resolved_rate": _ratio(resolved, covered),
        "suggestion_rate": _ratio(suggested, len(rows)),
        "wrong_answer_rate": _ratio(wrong, len(rows)),
        "abstain_rate_on_none": _ratio(abstained_on_none, none_rows),
        "latency_ms_p50": percentile(latencies, 50),
        "latency_ms_p99": percentile(latencies, 99),
        "errors": errors,
    }


def faq_report(scores: dict) -> str:
    """The human-readable summary `eval-faq` prints."""
    lines = [f"rows                    {scores['rows']}",
             f"top-1 accuracy          {scores['top1_accuracy']:.3f}  (covered questions answered directly and right)",
             f"resolved                {scores['resolved_rate']:.3f}  (covered: the right answer, or it among the suggestions)",
             f"suggestions given       {scores['suggestion_rate']:.3f}  (of all questions)",
             f"wrong-answer rate       {scores['wrong_answer_rate']:.3f}  (of all questions)",
             f"abstain rate on none    {scores['abstain_rate_on_none']:.3f}",
             f"latency p50/p99         {scores['latency_ms_p50']:.1f} / {scores['latency_ms_p99']:.1f} ms"]
    if scores["errors"]:
        lines += ["", "misses:"] + [f"  {e['expected']} → {e['got']} {e['suggested'] or ''} ({e['intent']}): {e['question']}"
                                    for e in scores["errors"]]
    return "\n".join(lines)
