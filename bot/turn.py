"""One turn (一轮对话): what the bot does with one message from a resident.

`take` reads the parsed message once and the resident's context (who, where, the reports
waiting for their compound, whether the last turn was not understood, whether staff have the
conversation) and returns what happens: the replies, the tickets filed or joined, the question
asked, a handoff. It decides once (`bot.decision.decide`) and looks the compound up once; the
Rasa action only turns the outcome into events, so "why did the bot say this?" is answered here,
in `Outcome.why`.

In order: a message with no words (an emoji); the answer to a question the bot asked (which
compound?); the number of a FAQ suggestion (猜你想问) the bot offered; a report (filed, the
emergency advice first when urgent, with a person when asked for); a satisfaction answer; a status question; a request for a person; while staff have the
conversation, nothing more (staff read it in the console); the small talk; the FAQ (an answer,
suggestions, or "not sure"); else "not understood", twice in a row handing over.
"""
import dataclasses
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from bot import faq, faq_matcher, faq_store, handoff, intake, media, org, resident_compounds, tickets
from bot.conversations import Resident
from bot.decision import INFORM, Decision, decide
from bot.intake import PendingReport
from bot.models import Compound
from bot.replies import (ALSO_ASKED, ASK_COMPOUND, IF_A_REPORT, NO_WORDS, NOT_UNDERSTOOD, OPENING_REPLIES,
                         REPORT_CANCELLED, UNKNOWN_COMPOUND, confirm_report, first_values, not_in_group, not_in_directory,
                         offered_back, still_waiting, unknown_compound_dropped)
from bot.taxonomy import CATEGORIES

log = logging.getLogger(__name__)

SATISFACTION_INTENTS = tuple(tickets.SATISFACTION)
STATUS_INTENT = tickets.STATUS_INTENT
# Intents answered with a fixed response of the domain (domain.yml's utter_*).
RESPONSES = {"thank": "utter_thank", "goodbye": "utter_goodbye", "affirm": "utter_ok", "deny": "utter_deny",
             "chitchat": "utter_chitchat", "out_of_scope": "utter_out_of_scope",
             "announcement": "utter_announcement", "neighbour_post": "utter_neighbour_post",
             "advert": "utter_advert"}
# A message made only of these (emoji, stickers' text, punctuation) says nothing to understand.
_WORDS = re.compile(r"[\w\u4e00-\u9fff]")
_MENTION = re.compile(r"@\S+")
# How long a name given in answer to "which compound?" may be; longer, it is a message of its own.
LONGEST_NAME = 12
# How long after the bot's question a bare yes or no still answers it. The question waits across
# sessions (a compound named the next morning still files the report), but "是" hours later is
# said to something else: the question is asked again, naming the report, never answered by it.
YES_OR_NO_ANSWERS_WITHIN = timedelta(minutes=30)
YES_OR_NO = ("affirm", "deny")
# A no that says what it cancels ("算了不报了") means it however late; "不是" alone may not.
_CANCELS = re.compile(r"算了|取消|撤销|撤回|不报|别报|不想报|不登记|别登记|不用|不需要|不弄|先不")
# A message that is only a never-mind ("算了吧", "不用了 谢谢"), whatever the model read it as; not
# one that goes on ("不用问了 赶紧派人来")
_NEVER_MIND = re.compile(r"(?:好的?|好吧|行吧|行|那就?|嗯|哦|噢|唉|哎)*"
                         r"(?:(?:算了|不用了?|不用麻烦了|不需要了?|不要了|不报了|不登记了|取消|先不(?:报|登记)?了|没事了?)"
                         r"(?:吧|啊|哈|呢|啦)?)+"
                         r"(?:谢谢你?|多谢|谢了|谢谢啊|谢啦)?")
_NOT_WORDS = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Pending:
    """Reports waiting: `asked` "compound" (which one?), "confirm" (the compound the resident
    named is not the group's; is it the group's?) or "report" (is the last a report of this
    category? the ones before it are sure, and wait for their compound)."""
    reports: tuple[PendingReport, ...]
    asked: str = "compound"
    named: str | None = None
    asked_at: str | None = None  # ISO time (naive UTC, as `bot.clock`) the question was asked
    # the bot has answered something else since ("好的" may be said to that answer): a bare yes or
    # no asks the question again, as when it was asked too long ago
    interrupted: bool = False
    # the handoff open when the question was asked (or opened with it: an urgent report): a yes
    # or no is the bot's to take in that one; a question asked before a handoff is said to staff
    handoff_id: int | None = None

    def as_slot(self) -> dict:
        return {"reports": [r.as_slot() for r in self.reports], "asked": self.asked, "named": self.named,
                "asked_at": self.asked_at, "interrupted": self.interrupted, "handoff_id": self.handoff_id}

    def asked_now(self) -> "Pending":
        """The question asked (again) this turn: `take` stamps the time and whether staff are there."""
        return dataclasses.replace(self, asked_at=None, interrupted=False, handoff_id=None)

    def waiting(self) -> tuple[PendingReport, ...]:
        """The sure reports, waiting for their compound (not the one "report" asks about)."""
        return self.reports[:-1] if self.asked == "report" else self.reports

    def lapsed(self, now: datetime) -> bool:
        """Whether the question was asked too long ago for a bare yes or no to answer it. One of
        unknown age (kept before questions had a time, or unreadable) has: asking again costs a
        turn, a "是" taken for an answer it was never meant as costs a ticket."""
        asked_at = self._asked_at()
        return self.interrupted or asked_at is None or now - asked_at > YES_OR_NO_ANSWERS_WITHIN

    def _asked_at(self) -> datetime | None:
        try:
            asked_at = datetime.fromisoformat(self.asked_at or "")
        except ValueError:
            return None
        if asked_at.tzinfo is not None:
            asked_at = asked_at.astimezone(timezone.utc).replace(tzinfo=None)
        return asked_at

    @classmethod
    def from_slot(cls, value) -> "Pending | None":
        """The slot's value; None for an empty or unreadable one (a resident is asked again)."""
        if not isinstance(value, dict):
            return None
        try:
            reports = tuple(PendingReport(**r) for r in value.get("reports") or [])
        except TypeError:
            return None
        if not reports or any(report.category not in CATEGORIES for report in reports):
            return None
        asked_at, handoff_id = value.get("asked_at"), value.get("handoff_id")
        return cls(reports, value.get("asked") or "compound", value.get("named"),
                   asked_at if isinstance(asked_at, str) else None, value.get("interrupted") is True,
                   handoff_id if isinstance(handoff_id, int) else None)


@dataclass(frozen=True)
class Suggestions:
    """The FAQ entries the bot offered (猜你想问), in order, and the resident's question they were
    offered for (kept with the entry the resident chooses, for staff)."""
    entries: tuple[str, ...]
    question: str = ""

    def as_slot(self) -> dict:
        return {"entries": list(self.entries), "question": self.question}

    @classmethod
    def from_slot(cls, value) -> "Suggestions | None":
        """The slot's value (a bare list of entries in conversations from before); None for none."""
        if isinstance(value, list):
            value = {"entries": value}
        entries = value.get("entries") if isinstance(value, dict) else None
        if not isinstance(entries, list) or not entries:
            return None
        return cls(tuple(str(key) for key in entries), str(value.get("question") or ""))


@dataclass(frozen=True)
class Context:
    """What the conversation knows before the message."""
    resident: Resident
    now: datetime
    pending: Pending | None = None
    remembered_compound: str | None = None  # one-to-one chats: the compound named before
    offered_compound: str | None = None  # one-to-one: remembered from an earlier visit, asked about before use
    misunderstood_last: bool = False
    suggested: Suggestions | None = None  # what the bot offered last (猜你想问)


@dataclass
class Outcome:
    """What happens with the message; the action says `replies` (then `response`, a domain
    response) and keeps `pending`, `remembered_compound` and `misunderstood` for the next turn."""
    why: str
    replies: list[str] = field(default_factory=list)
    response: str | None = None
    pending: Pending | None = None
    remembered_compound: str | None = None
    misunderstood: bool = False
    suggested: Suggestions | None = None
    ticket_ids: list[int] = field(default_factory=list)
    handed_over: str | None = None  # the handoff's reason when this turn started one


@dataclass(frozen=True)
class _Message:
    parse: dict
    text: str  # as the resident wrote it: the ticket's and the staff's
    read: str  # as the models read it (`bot.normalize`): names, numbers and words are matched in it
    intent: str
    decision: Decision
    location: dict[str, str]


def take(session: Session, parse: dict, context: Context, decision: Decision | None = None) -> Outcome:
    """What the bot does with `parse` (a Rasa parse result) from the resident in `context`
    (`decision`: `bot.decision.decide`'s for it, when the caller had to decide already)."""
    read = parse.get("text") or ""
    text = parse.get("original_text") or read
    context = resident_compounds.recalled(session, context)
    decision = media.deciding(session, context, parse, decision or decide(parse))  # 随手拍: the photo's answer
    # a message that only names a place is the answer to "which compound?", whatever the model read
    intent = INFORM if decision.only_a_place else ((parse.get("intent") or {}).get("name") or "")
    message = _Message(parse, text, read, intent, decision, first_values(parse.get("entities") or []))
    turn = _Turn(session, message, context)
    outcome = turn.run()
    if outcome.pending is not None and outcome.pending is not context.pending and outcome.pending.asked_at is None:
        # a question asked this turn; one still waiting keeps the time it was asked
        outcome.pending = dataclasses.replace(outcome.pending, asked_at=context.now.isoformat(),
                                              handoff_id=turn.handoff.id if turn.handoff else None)
    media.after_turn(session, context.resident.sender_id, outcome.ticket_ids, outcome.replies, context.now,
                     asking=turn.handoff is None and outcome.pending is None,
                     only_a_place=decision.only_a_place and context.pending is None)
    if outcome.remembered_compound is None:
        outcome.remembered_compound = context.remembered_compound
    resident_compounds.keep(session, context.resident, text, outcome.remembered_compound, context.now)
    log.info("turn %s: %s", context.resident.sender_id, outcome.why)
    return outcome


def interrupts(parse: dict, decision: Decision) -> bool:
    """Whether a message is one of its own even while a form waits for an answer: a report, a
    request for a person, a status question."""
    intent = (parse.get("intent") or {}).get("name")
    return decision.is_report or decision.asks_for_person or intent == STATUS_INTENT


def _never_mind(message: _Message) -> bool:
    """A message that is only a never-mind ("算了算了", "好的，不用了"), whatever the model read."""
    return _NEVER_MIND.fullmatch(_NOT_WORDS.sub("", message.read)) is not None


def _said_between(outcome: Outcome, pending: Pending | None) -> Outcome:
    """`outcome` answered something else while `pending`'s question waits: a bare yes or no after
    it may be said to that answer ("好的" to opening hours), so it asks the question again."""
    if pending is not None and outcome.pending is pending and (outcome.replies or outcome.response):
        outcome.pending = dataclasses.replace(pending, interrupted=True)
    return outcome


class _Turn:
    def __init__(self, session: Session, message: _Message, context: Context):
        self.session, self.message, self.context = session, message, context
        self.resident = context.resident
        self.handoff = handoff.open_handoff(session, self.resident.sender_id)
        self._home: list[Compound | None] = []  # empty until looked up

    @property
    def home(self) -> Compound | None:
        """The group's compound, else the one a one-to-one resident named before (looked up once)."""
        if not self._home:
            compound = None
            if self.resident.group_id:
                compound = org.compound_for_group(self.session, self.resident.platform, self.resident.group_id)
            elif self.context.remembered_compound:
                compound = org.find_compound(self.session, self.context.remembered_compound)
            self._home.append(compound)
        return self._home[0]

    def run(self) -> Outcome:
        message, pending = self.message, self.context.pending
        if not _WORDS.search(_MENTION.sub("", message.text)):
            return _said_between(Outcome("no words (an emoji): never 'not understood'",
                                         [] if self.handoff else [NO_WORDS], pending=pending), pending)
        if pending is not None:
            answered = self._asked_again(pending) if pending.lapsed(self.context.now) else None
            answered = answered or self._answer_pending(pending)
            if answered is not None:
                return answered
        if self.context.suggested and not message.decision.is_report:
            picked = self._picked_suggestion()
            if picked is not None:
                picked.pending = pending  # a question between: the reports still wait
                return _said_between(picked, pending)
        if message.decision.is_report:  # filed with the reports waiting for their compound
            return self._report()
        outcome = self._not_a_report()
        if outcome.pending is None:  # a question between: the reports still wait
            outcome.pending = pending
            outcome = _said_between(outcome, pending)
        return outcome

    # --- the answer to "which compound?" -----------------------------------------------------------

    def _asked_again(self, pending: Pending) -> Outcome | None:
        """A bare yes or no long after the question: the question again, the report named in it
        (None for any other message, which the question's answer may still be). While staff have
        the conversation, the yes or no is said to them: the bot says nothing."""
        message = self.message
        if (message.intent not in YES_OR_NO or message.decision.is_report or _never_mind(message)
                or (message.intent == "deny" and _CANCELS.search(message.read))
                or self._named_compound() is not None):
            return None
        if self._for_staff(pending):
            return Outcome(f"a {message.intent} to staff long after the bot's question", pending=pending)
        if message.intent == "deny":  # "不是，发错了" to a photo just sent: it goes, as `_dropped` lets it
            media.withdraw(self.session, self.resident.sender_id, self.context.now)
        reports, named = pending.reports, pending.named
        if pending.asked == "report":
            question = confirm_report(CATEGORIES[reports[-1].category].name_zh)
        elif pending.asked == "confirm" and named and self.home is not None:
            question = not_in_group(named, self.home.name)
        elif pending.asked == "offered" and named:
            question = offered_back(named)
        else:
            question, pending = ASK_COMPOUND, Pending(reports)
        return Outcome(f"a {message.intent} long after the question ({pending.asked}): asked again",
                       [still_waiting([report.text for report in reports], question)],
                       pending=pending.asked_now())

    def _answer_pending(self, pending: Pending) -> Outcome | None:
        """The message as the answer to the bot's question, or None when it is something else."""
        message = self.message
        if message.decision.is_report:
            return None  # a new report, filed with the waiting ones, where it says (`_report`)
        named = self._named_compound()
        if named is not None:
            return self._file_all(pending.reports, named, f"the reports waited for a compound: {named.name}")
        if self.handoff is not None and pending.handoff_id != self.handoff.id:
            return None  # staff have had the conversation since the bot asked: said to them
        if _never_mind(message):  # "好的，不用了" is no yes, whatever the model read
            return self._cancelled(pending)
        if self._for_staff(pending):
            return None
        if pending.asked == "report":
            if message.intent == "affirm":
                return self._place(pending.reports, "the resident confirmed the report")
            return self._cancelled(pending) if message.intent == "deny" else None
        if pending.asked == "confirm":
            if message.intent == "affirm" and self.home is not None:
                return self._file_all(pending.reports, self.home, "the resident confirmed the group's compound")
            if message.intent == "deny" and _CANCELS.search(message.read):
                return self._dropped("the resident cancelled when asked about the compound", REPORT_CANCELLED)
            if message.intent == "deny":
                return self._dropped("the named compound is not the group's", unknown_compound_dropped(pending.named))
            return None
        if pending.asked == "offered" and message.intent in ("affirm", "deny"):
            offered = org.find_compound(self.session, pending.named or "")
            if message.intent == "affirm" and offered is not None:
                return self._file_all(pending.reports, offered, f"the resident is still in {offered.name}")
            if _CANCELS.search(message.read):  # "算了，不报了" withdraws the report, not the compound
                return self._dropped("the resident cancelled when offered their compound", REPORT_CANCELLED)
            return Outcome("not the compound offered back: asked which", [ASK_COMPOUND], pending=Pending(pending.reports))
        if message.intent == "deny":
            return self._dropped("the resident cancelled while asked for the compound", REPORT_CANCELLED)
        if self.context.suggested and faq_matcher.picked_number(message.read, len(self.context.suggested.entries)):
            return None  # the number of a suggestion offered since (`_picked_suggestion`), not a name
        if len(message.text.strip()) <= LONGEST_NAME and message.intent in ("inform", "nlu_fallback", "greet", ""):
            # asked again now, and for a name: "还是金御城吗？" answered with another is not answered "是" after
            return Outcome("not a compound of the directory", [UNKNOWN_COMPOUND], pending=Pending(pending.reports))
        return None

    def _for_staff(self, pending: Pending) -> bool:
        """Whether staff have the conversation and the message is theirs: the bot's question was
        asked before they had it, or it asks which compound, which only a name answers."""
        return self.handoff is not None and (pending.handoff_id != self.handoff.id or pending.asked == "compound")

    def _cancelled(self, pending: Pending) -> Outcome:
        """A no to the bot's question: an unsure report asked about goes and the sure ones before it
        wait on; otherwise the reports waiting go."""
        earlier = pending.waiting() if pending.asked == "report" else ()
        if earlier:
            return Outcome("the resident said the last is not a report; the earlier wait for their compound",
                           [REPORT_CANCELLED, still_waiting([r.text for r in earlier], ASK_COMPOUND)],
                           pending=Pending(earlier))
        return self._dropped(f"the resident said no to the question ({pending.asked})", REPORT_CANCELLED)

    def _dropped(self, why: str, reply: str) -> Outcome:
        """The reports waiting are not filed: the photos that came with them go too, or the
        resident's next message, whatever it is, would be taken for what they show."""
        media.withdraw(self.session, self.resident.sender_id, self.context.now)
        return Outcome(why, [reply])

    def _named_compound(self) -> Compound | None:
        """The directory's compound the message names, or the message is the name of."""
        for name in (self.message.location.get("compound"), self.message.read):
            if name and len(name.strip()) <= LONGEST_NAME + 4:
                compound = org.find_compound(self.session, _MENTION.sub("", name))
                if compound is not None:
                    return compound
        return None

    # --- the FAQ ------------------------------------------------------------------------------------

    def _picked_suggestion(self) -> Outcome | None:
        """The answer of the suggestion the resident chose, by its number or in words."""
        matcher = faq_matcher.current(self.session)
        offered = [key for key in self.context.suggested.entries if key in matcher.entries]
        number = faq_matcher.picked_number(self.message.read, len(offered))
        entry = matcher.entries[offered[number - 1]] if number else None
        if entry is None and self.message.intent in faq.QUESTION_INTENTS:
            entry = matcher.pick(self.message.read, offered)
        if entry is None:
            return None
        if self.context.suggested.question:  # staff see which entry the resident's words belong to
            faq_store.record_picked(self.session, self.context.suggested.question, self._community(), entry.id)
        return Outcome(f"the resident chose the suggestion {entry.id}", [entry.reply()])

    def _faq(self, choice: "faq_matcher.Choice") -> Outcome | None:
        """The FAQ's answer or suggestions; None when it has neither. What it could not answer
        directly is counted for staff (常见问题 in the console)."""
        message = self.message
        if choice.answer is not None:
            return Outcome(f"the FAQ answers with {choice.answer.id} ({choice.likelihood:.2f})", [choice.answer.reply()])
        community = self._community()
        if choice.suggestions:
            faq_store.record_asked(self.session, message.text, community, "suggested", self.context.now)
            return Outcome(f"the FAQ suggests {', '.join(e.id for e in choice.suggestions)}",
                           [faq_matcher.suggestions_reply(choice)],
                           suggested=Suggestions(tuple(entry.id for entry in choice.suggestions), message.text))
        if message.intent == faq.ASK_INTENT:
            faq_store.record_asked(self.session, message.text, community, "not_sure", self.context.now)
        return None

    # --- reports ---------------------------------------------------------------------------------

    def _report(self) -> Outcome:
        message, pending = self.message, self.context.pending
        # an unsure report may be a question the FAQ answers, when it is very sure; a sure one is
        # filed, and what it also asks answered beside the receipt
        entry = self._faq_choice().answer
        if entry is not None and not faq_matcher.files_anyway(message.decision):
            return _said_between(Outcome(  # the waiting still wait
                f"the FAQ is sure of {entry.id}; the report ({message.decision.category}) was unsure",
                [entry.reply() + IF_A_REPORT], pending=pending), pending)
        # reports that named a compound the directory lacks wait for the resident's yes apart: the
        # new one does not answer for them where it is filed
        apart = pending if pending is not None and pending.asked == "confirm" else None
        waiting = pending.waiting() if pending is not None and apart is None else ()
        outcome = self._place((*waiting, intake.pending_report(message.decision, message.text, message.location)),
                              f"{message.decision.category} report")
        if apart is not None:
            outcome = self._still_apart(outcome, apart)
        if entry is not None:
            answer = ALSO_ASKED + entry.reply()
            # filed: the answer after the receipt; still to file: before the question the resident answers
            outcome.replies = [*outcome.replies, answer] if outcome.ticket_ids else [answer, *outcome.replies]
            outcome.why += f"; its question answered with {entry.id}"
        return outcome

    def _still_apart(self, outcome: Outcome, apart: Pending) -> Outcome:
        """`outcome` of a new report, with the reports asked about apart (`_report`) still asked
        about: the same question again when it filed, else waiting with the new question."""
        if outcome.pending is None:
            question = not_in_group(apart.named, self.home.name) if apart.named and self.home else ASK_COMPOUND
            outcome.replies.append(still_waiting([report.text for report in apart.reports], question))
            outcome.pending = apart.asked_now()
        else:
            outcome.pending = dataclasses.replace(outcome.pending, reports=(*apart.reports, *outcome.pending.reports))
        return outcome

    def _place(self, reports: tuple[PendingReport, ...], why: str) -> Outcome:
        """File the reports where the last one says, else in the group's compound, else ask which."""
        report = reports[-1]
        named = report.named_compound
        if named:
            compound = org.find_compound(self.session, named)
            if compound is not None:
                return self._file_all(reports, compound, f"{why} naming {compound.name}")
            advice = intake.emergency_first(self.session, report, self.home)
            if self.home is not None:
                return self._to_staff_now(Outcome(
                    f"{named} is not in the directory: asked whether it is {self.home.name}",
                    [*advice, not_in_group(named, self.home.name)], pending=Pending(reports, "confirm", named)))
            return self._to_staff_now(Outcome(f"{named} is not in the directory: asked which compound",
                                              [*advice, not_in_directory(named)], pending=Pending(reports)))
        if self.home is not None:
            return self._file_all(reports, self.home, f"{report.category} report in {self.home.name}")
        if self.context.offered_compound:
            return self._to_staff_now(Outcome(
                f"{report.category} report: offered back {self.context.offered_compound}",
                [*intake.emergency_first(self.session, report, None), offered_back(self.context.offered_compound)],
                pending=Pending(reports, "offered", self.context.offered_compound)))
        return self._to_staff_now(Outcome(f"{report.category} report without a compound: asked which",
                                          [*intake.emergency_first(self.session, report, None), ASK_COMPOUND],
                                          pending=Pending(reports)))

    def _to_staff_now(self, outcome: Outcome) -> Outcome:
        """An urgent report the bot cannot file yet (which compound?) is a person's at once: the
        resident may never answer, and nobody would know of the danger. So is one that asked for a
        person ("楼道灯坏了 转人工")."""
        if any(report.urgent for report in outcome.pending.reports):
            self._hand_over(outcome, "urgent", self.home)
        elif self.message.decision.asks_for_person:
            self._hand_over(outcome, "asked", self.home)
        return outcome

    def _file_all(self, reports: tuple[PendingReport, ...], compound: Compound, why: str) -> Outcome:
        """File the reports in `compound` (the emergency advice first where a report is urgent and
        has not heard it yet), then hand over an urgent one, or one that asked for a person."""
        advice, replies, ticket_ids, urgent_ticket = [], [], [], None
        already_advised = self.context.pending.reports if self.context.pending else ()
        for report in reports:
            if report not in already_advised:  # before every receipt, whichever report it is for
                advice += intake.emergency_first(self.session, report, compound)
            filing, receipt = intake.file(self.session, report, compound, self.resident, self.context.now)
            if report.urgent:
                urgent_ticket = urgent_ticket or filing.ticket
            if filing.ticket.id in ticket_ids:  # the problem said again ("翠柳苑3号楼楼道灯坏了"): one receipt
                kept = ticket_ids.index(filing.ticket.id)
                if report.urgent and tickets.URGENT_NOTICE not in replies[kept]:
                    replies[kept] += tickets.URGENT_NOTICE
                continue
            replies.append(receipt)
            ticket_ids.append(filing.ticket.id)
        outcome = Outcome(why, advice + replies, ticket_ids=ticket_ids,
                          remembered_compound=None if self.resident.group_id else compound.name)
        reason = "urgent" if urgent_ticket else ("asked" if self.message.decision.asks_for_person else None)
        if reason:
            self._hand_over(outcome, reason, compound, urgent_ticket)
        elif self.handoff is not None:  # opened before the compound was known ("转人工", then the report)
            handoff.placed(self.session, self.handoff, compound, self.context.now)
        return outcome

    def _hand_over(self, outcome: Outcome, reason: str, compound: Compound | None, ticket=None) -> None:
        hours = org.office_hours_for(compound)
        if self.handoff is not None:
            if reason == "asked":
                outcome.replies.append(handoff.still_waiting(hours, self.context.now))
            self.handoff.ticket = self.handoff.ticket or ticket
            handoff.placed(self.session, self.handoff, compound, self.context.now)
            return
        self.handoff = handoff.start(self.session, self.resident, reason, compound, self.message.text,
                                     self.context.now, ticket)
        outcome.replies.append(handoff.notice(reason, hours, self.context.now))
        outcome.handed_over = reason
        outcome.why += f"; handed over ({reason})"

    # --- everything else ---------------------------------------------------------------------------

    def _not_a_report(self) -> Outcome:
        message, resident, now = self.message, self.resident, self.context.now
        if message.intent in SATISFACTION_INTENTS:
            ticket = tickets.rate(self.session, resident.platform, resident.user_id, message.intent, now)
            reply = tickets.rating_reply(ticket, message.intent)
            if ticket is None:
                return self._own_tickets_asked(f"satisfaction: {message.intent}, nothing to rate", reply)
            return Outcome(f"satisfaction: {message.intent}", [reply])
        if message.intent == STATUS_INTENT:
            open_tickets = tickets.open_tickets_of(self.session, resident.platform, resident.user_id)
            reply = tickets.status_lines(open_tickets, now)
            if not open_tickets:
                return self._own_tickets_asked("a status question, no open ticket", reply)
            return Outcome("a status question", [reply])
        if message.decision.asks_for_person:
            outcome = Outcome("the resident asked for a person")
            self._hand_over(outcome, "asked", self.home)
            return outcome
        if self.handoff is not None:
            return Outcome("staff have the conversation: the message waits for them in the console")
        if message.intent == "deny":  # with nothing pending ("不是，发错了" to the photo's question)
            media.withdraw(self.session, resident.sender_id, now)  # as `_dropped` does with reports
        if message.intent in RESPONSES:
            return self._small_talk()
        choice = self._faq_choice()
        likely = message.decision.likely_category
        if likely and choice.answer is None:
            report = dataclasses.replace(intake.pending_report(message.decision, message.text, message.location),
                                         category=likely)
            # sure reports waiting for their compound wait on with it (an unsure one asked before gives way)
            waiting = self.context.pending.waiting() if self.context.pending else ()
            return Outcome(f"probably a {likely} report: asked to confirm",
                           [confirm_report(CATEGORIES[likely].name_zh)], pending=Pending((*waiting, report), "report"))
        answered = self._faq(choice)
        if answered is not None:
            return answered
        if message.intent in OPENING_REPLIES:
            return Outcome(f"{message.intent} the FAQ does not answer", [OPENING_REPLIES[message.intent]])
        reply = faq.NOT_SURE if message.intent == faq.ASK_INTENT else NOT_UNDERSTOOD
        outcome = Outcome(f"not understood ({message.intent or 'no intent'})", [reply], misunderstood=True)
        if self.context.misunderstood_last:
            outcome = Outcome("not understood twice in a row")
            self._hand_over(outcome, "not_understood", self.home)
        return outcome

    def _own_tickets_asked(self, why: str, reply: str) -> Outcome:
        """A status or rating message with no ticket to show or rate may be a question about how
        ("怎么查报修进度", "工单办完了怎么评价"): the FAQ's sure answer instead of `reply`, or its
        suggestions after it."""
        choice = self._faq_choice()
        answered = self._faq(choice)
        if answered is None:
            return Outcome(why, [reply])
        if choice.answer is None:  # the suggestions after the plain reply
            answered.replies.insert(0, reply)
            answered.why = f"{why}; {answered.why}"
        return answered

    def _small_talk(self) -> Outcome:
        """The domain's fixed reply; small talk that asks (faq_matcher.SMALL_TALK) gets the FAQ's
        answer or suggestions instead when it has them."""
        message = self.message
        if message.intent in faq_matcher.SMALL_TALK:
            answered = self._faq(self._faq_choice())
            if answered is not None:
                return answered
        return Outcome(f"small talk: {message.intent}", response=RESPONSES[message.intent])

    def _faq_choice(self) -> "faq_matcher.Choice":
        """What the live FAQ says to this message (`faq_matcher.choose_for`)."""
        message = self.message
        return faq_matcher.choose_for(message.parse, message.decision, faq_matcher.current(self.session),
                                      self._community())

    def _community(self) -> str | None:
        """The community whose FAQ entries the resident may be answered with."""
        return self.home.grid.community.name if self.home is not None else None
