"""Which FAQ entry a resident's question asks for, and whether to answer it, suggest entries
(猜你想问) or say "not sure": one matcher, calibrated on the FAQ's own questions when it is read.

1. Every question of every entry is embedded (multilingual-e5-small, as a query); so is every
   answer (as a passage).
2. A message's score for an entry is its cosine to the nearest of the entry's questions plus its
   cosine to the entry's answer (the answer says what the entry is about beyond its few
   questions); the entries are ranked by it.
3. Three figures describe the ranking: the first score, its lead over the second, and whether the
   entry of the nearest question is the first.
4. Calibration asks the FAQ itself: each question is asked again without itself (its entry should
   come first) and without its whole entry (a question the FAQ does not cover). A logistic
   regression learns from those how likely the first entry is right, given the three figures.
5. Likely enough (ANSWER_ODDS) → the answer. Otherwise the first three entries scoring at least
   what four in five of the FAQ's own questions score when their entry is taken away (the
   SUGGEST_QUANTILE of those first scores: questions on another of the FAQ's matters) →
   suggestions. Nothing that near, a question off the FAQ's subjects → "not sure".
   (The bar is not taken from what questions score for their own entry: a clerk's questions of
   one entry are near-copies of each other, residents' words are not, and such a bar turned
   away most residents' questions on a terse file.)
So a file with two or three questions an entry calibrates itself, and a change to the FAQ (a
console edit) is a new matcher for the next question: no training, no restart.
"""
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sqlalchemy.orm import Session

from bot import embeddings, faq_store, tickets
from bot.normalize import for_classification
from bot.decision import Decision, report_likelihood
from bot.faq import QUESTION_INTENTS, Entry, load
from bot.replies import OPENING_REPLIES
from bot.settings import faq_file
from bot.taxonomy import category_for_intent

log = logging.getLogger(__name__)

# How likely the first entry must be right to be answered directly: a wrong answer misleads a
# resident, a suggestion costs one more message; answering at twice the odds of being wrong
# weighs a wrong answer as two detours.
ANSWER_ODDS = 2 / 3
# Entries are suggested to a question scoring at least this quantile of the first scores the FAQ's
# own questions get with their entry taken away (step 5 of the module's description). Lower, and
# questions off every subject ("这个月的电影票多少钱") got suggestions too: e5's cosines lie close.
SUGGEST_QUANTILE = 0.2
SUGGESTIONS = 3
# A report the model files with less confidence than this may still be a question the FAQ knows
# ("物业费的收费标准是多少" as a property report): answered only when the FAQ is this sure, and
# never with suggestions (a report is filed rather than guessed at). Never an urgent one.
WEAK_REPORT_CONFIDENCE = 0.7
WEAK_REPORT_ODDS = 0.9
# A report that also asks ("金毛这种大狗小区让养吗", "电费欠了咋交"): the classifier files it, sure of
# the topic, and the resident's question goes unanswered. Filed all the same (a report is never
# answered instead of filed), with the FAQ's answer beside the receipt when the FAQ is as sure as
# for a question. Not with suggestions: most reports that ask are near some entry ("暖气什么时候
# 能修好"), and a list under every such receipt is noise.
_ASKS = re.compile(r"[?？]|吗|么$|呢|如何|哪|什么|啥|多少|(?<![好这前那十])几[点号月天时个]|怎么|咋"
                   r"|能不能|可不可以|可以.{0,10}[吗不]|让不让|要不要|需不需要|用不用|是否|有没有|会不会|算不算|是不是"
                   r"|归谁|找谁|谁(?:负责|管)")
# Requests and complaints in a question's shape ask nothing the FAQ answers: "能不能管管", "可以修一下
# 吗", "怎么停水了", "怎么没人管", "电梯怎么又坏了", "咋回事". Set aside before `_ASKS` looks: half the
# reports that ask were these, and each cost a FAQ look-up beside its receipt.
_NOT_ASKING = re.compile(r"(?:能不能|能否|可不可以|可以)[^，。！？?!\s]{0,12}(?:一下|管管|修修|看看|处理|快点)[吗啊呀]?"
                         r"|(?:怎么|咋)(?:[^，。！？?!\s办样]{1,6}了|没|不|这么|那么)"
                         r"|怎么(?:又|还|老|总|回事)|咋(?:又|还|老|回事)")
# A message whose report intents together are this likely is not plainly a question.
MAYBE_A_REPORT = 0.5
# A greeting or a compound's name that goes on to ask ("@小助手 下午社区几点下班", "我住X小区，地下
# 车位一个月多少钱"): the classifier takes the opening for the whole message; longer than this, it
# may be a question.
OPENING_LENGTH = 8
# Small talk that asks ("小助手你都能干啥", "刚抱的小狗能打狂犬针吗" among neighbours' chat): the
# classifier hears the chatting and its canned reply would leave the question unanswered; asked
# of the FAQ like a question first. Not thanks, farewells, yes or no, notices or adverts.
SMALL_TALK = ("chitchat", "out_of_scope", "neighbour_post")
# Asking after one's own tickets, or rating one: a question ("怎么查报修进度") when it asks, like
# small talk. The live bot asks the FAQ only when the resident has no ticket to show or rate
# (bot.turn); `eval-faq` decides as for such a newcomer.
OWN_TICKETS = (tickets.STATUS_INTENT, *tickets.SATISFACTION)
_MENTION = re.compile(r"@\S+\s*")


@dataclass(frozen=True)
class Choice:
    """What the FAQ says to a message: `answer` (an entry), else `suggestions` (entries), else
    neither ("not sure"). `likelihood`: how likely the first entry is right."""
    answer: Entry | None
    suggestions: tuple[Entry, ...]
    likelihood: float


NOTHING = Choice(None, (), 0.0)

_vectors: dict[tuple[str, bool], np.ndarray] = {}  # text (query or passage) → embedding, across rebuilds


def _embed(texts: list[str], passages: bool = False) -> np.ndarray:
    """Embeddings, each text embedded once per process: a console edit re-embeds only what changed."""
    missing = list(dict.fromkeys(t for t in texts if (t, passages) not in _vectors))
    if missing:
        for text, vector in zip(missing, embeddings.embed(missing, passages=passages)):
            _vectors[(text, passages)] = vector
    if not texts:
        return np.zeros((0, embeddings.DIMENSIONS), dtype=np.float32)
    return np.vstack([_vectors[(t, passages)] for t in texts])


def _query(text: str) -> np.ndarray:
    """A resident's question's embedding: on two threads, as the resident waits for it, and not
    kept with the FAQ's own texts, which would grow with every question ever asked."""
    return embeddings.embed([text], threads=2)[0]


def _clean(text: str) -> str:
    """A question as the matcher reads it: normalised (`bot.normalize`) as the FAQ's own are."""
    return for_classification(_MENTION.sub("", text or ""))


class Matcher:
    """The matcher of one version of the FAQ (see the module's description)."""

    def __init__(self, entries: list[Entry]):
        self.entries = {entry.id: entry for entry in entries}
        self._ids = list(self.entries)
        rows = [(question, index) for index, entry in enumerate(entries) for question in entry.questions]
        self._owner = np.array([index for _, index in rows], dtype=int)
        self._questions = _embed([_clean(question) for question, _ in rows])
        self._answers = _embed([entry.answer for entry in entries], passages=True)
        self._model, self.suggest_bar = self._calibrate()

    # --- scoring ---------------------------------------------------------------------------------

    def _nearest_questions(self, similarities: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Each entry's nearest question (−inf for entries not allowed)."""
        nearest = np.full(len(self._ids), -np.inf)
        np.maximum.at(nearest, self._owner, similarities)
        nearest[~allowed] = -np.inf
        return nearest

    @staticmethod
    def _figures(nearest: np.ndarray, about_answers: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float]]:
        """The entries' scores (nearest question + answer), their order, and the three figures."""
        scores = nearest + about_answers
        order = np.argsort(-scores)
        first = order[0]
        second = scores[order[1]] if len(order) > 1 and np.isfinite(scores[order[1]]) else scores[first] - 0.2
        return scores, order, [float(scores[first]), float(scores[first] - second), float(np.argmax(nearest) == first)]

    # --- calibration -----------------------------------------------------------------------------

    def _calibrate(self) -> tuple[LogisticRegression | None, float]:
        """Learn from the FAQ's own questions how likely the first entry is right, and the bar for
        suggestions (module description, step 4)."""
        similar = self._questions @ self._questions.T
        about_answers = self._questions @ self._answers.T
        figures, right, own_scores, elsewhere = [], [], [], []
        everyone = np.ones(len(self._ids), dtype=bool)
        for row, owner in enumerate(self._owner):
            similarities = similar[row].copy()
            similarities[row] = -np.inf  # asked without itself
            nearest = self._nearest_questions(similarities, everyone)
            if np.isfinite(nearest[owner]):
                scores, order, numbers = self._figures(nearest, about_answers[row])
                figures.append(numbers)
                right.append(order[0] == owner)
                own_scores.append(scores[owner])
            if len(self._ids) > 2:
                without_entry = everyone.copy()
                without_entry[owner] = False  # a question the FAQ does not cover
                figures.append(self._figures(self._nearest_questions(similarities, without_entry), about_answers[row])[2])
                right.append(False)
                elsewhere.append(figures[-1][0])
        # a FAQ of one or two entries has no "another matter" to ask about: its own scores, then
        bar = float(np.quantile(elsewhere or own_scores, SUGGEST_QUANTILE)) if elsewhere or own_scores else 1.0
        if len(set(right)) < 2:
            log.warning("FAQ of %s entries: too few questions to learn when to answer; suggestions only",
                        len(self._ids))
            return None, bar
        return LogisticRegression(C=100.0, max_iter=1000).fit(np.array(figures), np.array(right)), bar

    # --- choosing --------------------------------------------------------------------------------

    def choose(self, text: str, community: str | None = None, odds: float = ANSWER_ODDS,
               suggest: bool = True) -> Choice:
        """The FAQ's choice for `text` from a resident of `community` (None: any entry)."""
        text = _clean(text)
        if not text or not self._ids:
            return NOTHING
        allowed = np.array([community is None or self.entries[i].community in (None, community)
                            for i in self._ids])
        if not allowed.any():
            return NOTHING
        query = _query(text)
        scores, order, numbers = self._figures(self._nearest_questions(self._questions @ query, allowed),
                                               self._answers @ query)
        likelihood = float(self._model.predict_proba([numbers])[0, 1]) if self._model is not None else 0.0
        if likelihood >= odds:
            return Choice(self.entries[self._ids[order[0]]], (), likelihood)
        if not suggest:
            return Choice(None, (), likelihood)
        near = tuple(self.entries[self._ids[i]] for i in order[:SUGGESTIONS]
                     if np.isfinite(scores[i]) and scores[i] >= self.suggest_bar)
        return Choice(None, near, likelihood)

    def pick(self, text: str, among: list[str]) -> Entry | None:
        """Which of the suggested entries `among` a resident's words name ("办老年卡那个"): the
        nearest of them, when it is as near as a suggestion has to be."""
        text = _clean(text)
        allowed = np.array([i in among for i in self._ids])
        if not text or not allowed.any():
            return None
        query = _query(text)
        scores = self._figures(self._nearest_questions(self._questions @ query, allowed), self._answers @ query)[0]
        best = int(np.argmax(scores))
        return self.entries[self._ids[best]] if scores[best] >= self.suggest_bar else None


# --- the message's turn -------------------------------------------------------------------------

def asks(text: str) -> bool:
    """Whether a message asks something, besides what else it does (`_ASKS`)."""
    return bool(_ASKS.search(_NOT_ASKING.sub(" ", _clean(text))))


def files_anyway(decision: Decision) -> bool:
    """A report filed whatever the FAQ says: an urgent one, or one the classifier is sure of."""
    return decision.is_report and (decision.urgent or decision.confidence >= WEAK_REPORT_CONFIDENCE)


def choose_for(parse: dict, decision: Decision, matcher: Matcher, community: str | None = None) -> Choice:
    """The FAQ's choice for a parsed message, as the live bot and `eval-faq` make it: an urgent
    report gets none; a sure one, filed, the answer to what it also asks; an unsure report only a
    very sure answer; a question (or an opening that goes on, or small talk that asks, or a status
    or rating message that asks) the answer, suggestions or "not sure"; other intents none."""
    text = parse.get("text") or ""
    intent = (parse.get("intent") or {}).get("name") or ""
    if decision.is_report:
        if decision.urgent:
            return NOTHING
        if files_anyway(decision):
            return matcher.choose(text, community, suggest=False) if asks(text) else NOTHING
        return matcher.choose(text, community, WEAK_REPORT_ODDS, suggest=False)
    question = (intent in QUESTION_INTENTS
                or (intent in OPENING_REPLIES and len("".join(_clean(text).split())) > OPENING_LENGTH)
                or (intent in SMALL_TALK + OWN_TICKETS and asks(text)))
    if question and report_likelihood(parse) < MAYBE_A_REPORT:
        return matcher.choose(text, community)
    if question or category_for_intent(intent) is not None:
        # not filed, maybe a report: answered only when very sure; suggestions beat "没太明白"
        return matcher.choose(text, community, WEAK_REPORT_ODDS)
    return NOTHING


def suggestions_reply(choice: Choice) -> str:
    lines = ["猜你想问："] + [f"{number}. {entry.questions[0]}" for number, entry in enumerate(choice.suggestions, 1)]
    return "\n".join(lines + ["回复序号看答案；都不是的话，可以换个说法再问，或回复“转人工”。"])


_NUMBERS = {"1": 1, "2": 2, "3": 3, "一": 1, "二": 2, "两": 2, "三": 3, "①": 1, "②": 2, "③": 3}
_PICK = re.compile(r"^\s*(?:第)?\s*([123一二两三①②③])\s*(?:个|条|项)?\s*[.。!！]?\s*$")


def picked_number(text: str, count: int) -> int | None:
    """The suggestion a reply's number names ("2", "第二个"), 1-based; None when it is not one."""
    match = _PICK.match(_clean(text))
    if match is None:
        return None
    number = _NUMBERS[match.group(1)]
    return number if number <= count else None


# --- the FAQ the live bot answers from -----------------------------------------------------------

_current: dict[tuple, Matcher] = {}


def _source(session: Session | None):
    """The live FAQ's key (which FAQ, which version) and how to read its entries."""
    version = faq_store.version(session) if session is not None else 0
    if version:
        return ("database", version), lambda: faq_store.entries(session)
    path = faq_file()
    return ("file", str(path), Path(path).stat().st_mtime), lambda: load(path)


def _remember(key: tuple, entries: list[Entry]) -> Matcher:
    _current.clear()
    _current[key] = Matcher(entries)
    return _current[key]


def current(session: Session | None) -> Matcher:
    """The matcher of the live FAQ: the database's once a FAQ was imported (`python -m bot faq
    import`, the console), else the FAQ file; rebuilt when either changes (the database's version
    is read at every question, so a console edit answers the next one)."""
    key, read = _source(session)
    return _current[key] if key in _current else _remember(key, read())


def warm(open_session) -> None:
    """Build the live FAQ's matcher before the first question, holding no database transaction
    while it embeds: on SQLite a read held that long kept the Rasa server from creating its tables."""
    with open_session() as session:
        key, read = _source(session)
        entries = None if key in _current else read()
    if entries is not None:
        _remember(key, entries)
