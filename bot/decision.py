"""The decision (研判): does a message report a problem, which category, is it urgent.

The live bot's actions and `python -m bot eval-nlu` both call `decide`; nothing else turns an
NLU result into a ticket decision.
"""
import re
from dataclasses import dataclass

from bot.normalize import for_classification
from bot.place_names import only_a_place
from bot.taxonomy import NONE, category_for_intent
from bot.urgency import NOT_NOW, Danger, assess, happening_now, not_now, rule_danger

# How likely, all report intents together, a message must be to be filed as a report (its
# category the likeliest of them). Summed, because a message the model splits between two
# categories ("信箱锈得打不开了": facilities or gas) is a report all the same, and a message whose
# best intent is a report by a hair is not a sure one. Weighed on make crossval's held-out parses
# (bench/threshold_sweep.py): at 0.8 as few reports go unanswered as at 0.7 (the difference is
# asked to confirm, below) and fewer talk messages are filed.
REPORT_SHARE = 0.8
# The least confidence with which a non-report intent counts as surely not a report (a greeting,
# a question). config.yml's FallbackClassifier threshold is not above it (a test checks).
REPORT_CONFIDENCE = 0.5
# Only a non-report intent this sure (a greeting, a question about 119) keeps a message that
# names a danger from being an urgent report: "井盖不见了 … 快来处理" is not a status question.
OVERRULE_DANGER_CONFIDENCE = 0.9
# A message the report intents together are this likely for, though less than REPORT_SHARE, is
# probably a report: the resident is asked to confirm its likeliest category, not told "没太明白".
LIKELY_REPORT = 0.5
FALLBACK_INTENT = "nlu_fallback"
INFORM = "inform"
REQUEST_HUMAN = "request_human"
# Words that ask for a person whatever else the message says: "我要找人工，A座楼下的垃圾三天没人收了"
# is a report and a request for a person at once.
_ASKS_FOR_PERSON = re.compile(r"转人工|找人工|要人工|人工客服|人工服务|(?:找|要|换|叫)个?真人|真人客服|和真人|跟真人")
_FILLER = re.compile(r"[\W\d_a-zA-Z]|我要|我想|帮我|麻烦|请|给我")
# Characters a message must say besides the request for it to say something else too.
SAYS_MORE = 6


@dataclass(frozen=True)
class Decision:
    category: str  # a category id, or "none": no ticket
    urgent: bool
    danger: Danger | None = None
    intent: str | None = None  # the model's best intent other than the fallback
    confidence: float = 0.0
    asks_for_person: bool = False  # 转人工, alone or inside a report
    likely_category: str | None = None  # not a sure report, but probably one of this category
    only_a_place: bool = False  # the message names a place and nothing else: `inform`, whatever the model read

    @property
    def is_report(self) -> bool:
        return self.category != NONE


def _ranking(parse: dict) -> list[dict]:
    """The parse's intents, surest first (its one intent when it has no ranking)."""
    return parse.get("intent_ranking") or [parse.get("intent") or {}]


def _remaining(ranking: list[dict], passing: str | None) -> float:
    """What the other intents' confidences are divided by to be taken as if `passing` had never
    been a choice."""
    left = 1.0 - sum(float(item.get("confidence") or 0.0) for item in ranking if passing and item.get("name") == passing)
    return left if left > 0 else 1.0


def best_intent(parse: dict, passing: str | None = None, reports_only: bool = False) -> tuple[str | None, float]:
    """The model's best intent (of the report intents only, if so asked) and its confidence,
    looking past the fallback classifier (and past `passing`, the others' confidences then taken
    as if it had never been a choice)."""
    ranking = _ranking(parse)
    for item in ranking:
        name = item.get("name")
        if name and name not in (FALLBACK_INTENT, passing) and (not reports_only or category_for_intent(name)):
            return name, float(item.get("confidence") or 0.0) / _remaining(ranking, passing)
    return None, 0.0


def _asks_for_person_and_more(text: str) -> tuple[bool, bool]:
    """Whether the text asks for a person, and whether it says something else as well."""
    match = _ASKS_FOR_PERSON.search(text)
    if match is None:
        return False, False
    rest = _FILLER.sub("", text[:match.start()] + text[match.end():])
    return True, len(rest) >= SAYS_MORE


def report_likelihood(parse: dict, passing: str | None = None) -> float:
    """How likely the message reports a problem at all: the confidences of every report intent
    together (a report the model cannot place in one category is still a report), taken as if
    `passing` had never been a choice."""
    ranking = _ranking(parse)
    return sum(float(item.get("confidence") or 0.0) for item in ranking
               if category_for_intent(item.get("name") or "")) / _remaining(ranking, passing)


def decide(parse: dict) -> Decision:
    """Turn a Rasa parse result (text, intent, intent_ranking) into category and urgency.

    The report intents together say whether the message is a report, the likeliest of them its
    category. A message that describes an urgent danger is a report even when the model is
    unsure, so that 着火了 or 电梯困人 is never answered with a fallback; only a very confident
    non-report intent (a question about 119) overrules a danger.
    """
    read, places = parse.get("text") or "", parse.get("entities")
    # "火星花园" answers "哪个小区": where, not what happened (unless the rules hear a danger in it)
    if only_a_place(read, places) and rule_danger(read) is None:
        return Decision(NONE, False, None, INFORM, 1.0, only_a_place=True)
    text = for_classification(read)  # the pipeline's text already is; an old model's not
    asks, says_more = _asks_for_person_and_more(text)
    passing = REQUEST_HUMAN if says_more else None  # the report inside, judged as if the request had not been made
    intent, confidence = best_intent(parse, passing)
    asks = asks or intent == REQUEST_HUMAN
    danger, ruled = assess(text, parse.get("urgency"))
    share = report_likelihood(parse, passing)
    if share >= REPORT_SHARE:
        report, report_confidence = best_intent(parse, passing, reports_only=True)
        return Decision(category_for_intent(report).id, danger is not None, danger, report, report_confidence, asks)
    category = category_for_intent(intent) if intent else None
    # A danger the rules name in a message whose best intent is no report: the learned modality
    # settles it when sure either way. Not happening now, it is talk about a danger ("朋友圈说隔壁
    # 小区昨天着火了 我们楼也老 有点怕"), however unsure the intent; happening now, it is urgent
    # however sure the question it comes with ("楼道里有股煤气味 抢修电话多少"). Unsure, the
    # intent's confidence decides, as below. Weighed on make crossval's held-out parses of both
    # kinds (docs/benchmarks.md): fewer talk messages filed as urgent, no urgent report lost.
    if danger and ruled and intent and not category:
        if not_now(parse.get("urgency")) >= NOT_NOW:
            danger = None
        elif happening_now(parse.get("urgency")) >= NOT_NOW:
            return Decision(danger.category, True, danger, intent, confidence, asks)
    # a danger the rules name outweighs all but a very sure other intent; one only the learned
    # model sees, only an unsure one
    if danger and (category or confidence < (OVERRULE_DANGER_CONFIDENCE if ruled else REPORT_CONFIDENCE)):
        return Decision(danger.category, True, danger, intent, confidence, asks)
    likely = None
    if share >= LIKELY_REPORT:  # probably a report, of no sure category
        likely = category_for_intent(best_intent(parse, passing, reports_only=True)[0]).id
    return Decision(NONE, False, None, intent, confidence, asks, likely)
