"""The decision (研判): does a message report a problem, which category, is it urgent.

The live bot's actions and `python -m bot eval-nlu` both call `decide`; nothing else turns an
NLU result into a ticket decision.
"""
from dataclasses import dataclass

from bot.taxonomy import NONE, category_for_intent
from bot.urgency import Danger, find_danger

# The least confidence with which the model's best intent counts as a report. config.yml's
# FallbackClassifier threshold is not above it (a test checks).
REPORT_CONFIDENCE = 0.5
# Only a non-report intent this sure (a greeting, a question about 119) keeps a message that
# names a danger from being an urgent report: "井盖不见了 … 快来处理" is not a status question.
OVERRULE_DANGER_CONFIDENCE = 0.9
FALLBACK_INTENT = "nlu_fallback"


@dataclass(frozen=True)
class Decision:
    category: str  # a category id, or "none": no ticket
    urgent: bool
    danger: Danger | None = None
    intent: str | None = None  # the model's best intent other than the fallback
    confidence: float = 0.0

    @property
    def is_report(self) -> bool:
        return self.category != NONE


def best_intent(parse: dict) -> tuple[str | None, float]:
    """The model's best intent and its confidence, looking past the fallback classifier."""
    ranking = parse.get("intent_ranking") or [parse.get("intent") or {}]
    for item in ranking:
        name = item.get("name")
        if name and name != FALLBACK_INTENT:
            return name, float(item.get("confidence") or 0.0)
    return None, 0.0


def report_likelihood(parse: dict) -> float:
    """How likely the message reports a problem at all: the confidences of every report intent
    together (a report the model cannot place in one category is still a report)."""
    return sum(float(item.get("confidence") or 0.0) for item in parse.get("intent_ranking") or []
               if category_for_intent(item.get("name") or ""))


def decide(parse: dict) -> Decision:
    """Turn a Rasa parse result (text, intent, intent_ranking) into category and urgency.

    The model picks the category; a message that describes an urgent danger is a report even
    when the model is unsure, so that 着火了 or 电梯困人 is never answered with a fallback.
    Only a very confident non-report intent (a question about 119) overrules a danger.
    """
    intent, confidence = best_intent(parse)
    category = category_for_intent(intent) if intent else None
    danger = find_danger(parse.get("text") or "")
    if category and confidence >= REPORT_CONFIDENCE:
        return Decision(category.id, danger is not None, danger, intent, confidence)
    if danger and (category or confidence < OVERRULE_DANGER_CONFIDENCE):
        return Decision(danger.category, True, danger, intent, confidence)
    return Decision(NONE, False, None, intent, confidence)
