"""Rasa SDK actions: thin adapters from a tracker to the `bot` services."""
import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import database, resident_of
from actions.handoff import hand_over_if_urgent, say_or_hand_over
from bot import faq, intake, org, tickets
from bot.clock import utc_now
from bot.decision import decide
from bot.intake import PendingReport
from bot.replies import (ASK_COMPOUND, IF_A_REPORT, NOT_UNDERSTOOD, OPENING_REPLIES, REPORT_CANCELLED, UNKNOWN_COMPOUND,
                         first_values)

Events = list[dict[str, Any]]

log = logging.getLogger(__name__)


def _warm_faq() -> None:
    """Train the FAQ matcher while the server starts, so that no question waits for it: here, in
    the main process, before Sanic forks its workers, which inherit it (what a thread had done
    would not be inherited: each worker trained its own pairs of opinions at their first
    questions). A FAQ file that cannot be read stops nothing else: reports are still filed."""
    try:
        faq.warm()
    except Exception:  # noqa: BLE001 - any FAQ problem: logged, and met again at the first question
        log.exception("the FAQ matcher could not be trained at start")


_warm_faq()


def _faq_answer(tracker: Tracker) -> faq.Entry | None:
    """The FAQ entry that answers the latest message for this resident's community, if any."""
    if faq.bar_for(tracker.latest_message) is None:
        return None  # not a message the FAQ answers: no need to look up the community
    resident, community = resident_of(tracker), None
    if resident.group_id:
        with database() as session:
            compound = org.compound_for_group(session, resident.platform, resident.group_id)
            community = compound.grid.community.name if compound else None
    return faq.choose_answer(tracker.latest_message, faq.matcher(), community)


def _say(dispatcher: CollectingDispatcher, texts: list[str]) -> None:
    for text in texts:
        dispatcher.utter_message(text=text)


class ActionHandleReport(Action):
    """A report (or an unclear message), as `bot.decision.decide` judges it."""

    def name(self) -> str:
        return "action_handle_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        message = tracker.latest_message
        decision = decide(message)
        entry = _faq_answer(tracker)  # an unclear message, or an unsure report, may be a question
        if entry is not None or not decision.is_report:
            reply = entry.reply() if entry else NOT_UNDERSTOOD
            if entry and decision.is_report:
                reply += IF_A_REPORT
            return [SlotSet("compound_missing", False), *say_or_hand_over(dispatcher, tracker, reply)]
        resident = resident_of(tracker)
        report = intake.pending_report(decision, message.get("text", ""), first_values(message.get("entities", [])))
        with database() as session, session.begin():
            compound = intake.compound_of(session, report, resident)
            _say(dispatcher, intake.emergency_first(session, report, compound))
            if compound is None:
                return [SlotSet("pending_report", report.as_slot()), SlotSet("compound", None),
                        SlotSet("compound_missing", True)]
            _say(dispatcher, intake.file(session, report, compound, resident, utc_now()))
            paused = hand_over_if_urgent(dispatcher, session, tracker, report)
        return [SlotSet("pending_report", None), SlotSet("compound_missing", False), *paused]


class ValidateCompoundForm(FormValidationAction):
    """Accepts a compound name or alias from the directory; re-asks on anything else."""

    def name(self) -> str:
        return "validate_compound_form"

    def validate_compound(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: dict) -> dict[str, Any]:
        with database() as session:
            compound = org.find_compound(session, str(value or ""))
            if compound is None:
                dispatcher.utter_message(text=UNKNOWN_COMPOUND)
                return {"compound": None}
            return {"compound": compound.name}


class ActionAskCompound(Action):
    """The form's question for the compound."""

    def name(self) -> str:
        return "action_ask_compound"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        dispatcher.utter_message(text=ASK_COMPOUND)
        return []


class ActionFileReport(Action):
    """Files the pending report once the form has its compound."""

    def name(self) -> str:
        return "action_file_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        pending, paused = tracker.get_slot("pending_report"), []
        if pending:
            report = PendingReport(**pending)
            with database() as session, session.begin():
                compound = org.find_compound(session, tracker.get_slot("compound") or "")
                if compound is not None:
                    _say(dispatcher, intake.file(session, report, compound, resident_of(tracker), utc_now()))
                    paused = hand_over_if_urgent(dispatcher, session, tracker, report)
        return [SlotSet("pending_report", None), SlotSet("compound_missing", False), *paused]


class ActionCancelReport(Action):
    """The resident gave up on the report while the bot was asking for the compound."""

    def name(self) -> str:
        return "action_cancel_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        dispatcher.utter_message(text=REPORT_CANCELLED)
        return [SlotSet("pending_report", None), SlotSet("compound_missing", False), SlotSet("compound", None)]


class ActionTicketStatus(Action):
    """我报的事怎么样了: the resident's tickets that are not closed."""

    def name(self) -> str:
        return "action_ticket_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        resident = resident_of(tracker)
        with database() as session:
            dispatcher.utter_message(text=tickets.status_lines(
                tickets.open_tickets_of(session, resident.platform, resident.user_id)))
        return []


class ActionRateTicket(Action):
    """满意 / 基本满意 / 不满意 for the resident's most recently resolved ticket."""

    def name(self) -> str:
        return "action_rate_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        resident = resident_of(tracker)
        answer = tracker.latest_message["intent"]["name"]  # the intents are named as the answers
        with database() as session, session.begin():
            ticket = tickets.rate(session, resident.platform, resident.user_id, answer, utc_now())
            dispatcher.utter_message(text=tickets.rating_reply(ticket, answer))
        return []


class ActionAnswerFaq(Action):
    """Answers a question from the FAQ file, or says it is not sure and offers 转人工.

    When the answer is the ResponseSelector's first choice, Rasa's own `utter_faq` says it;
    otherwise (an entry for another community came first, or nothing is sure) this action does.
    A greeting, or a compound named, that the FAQ does not answer is greeted or noted."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        if decide(tracker.latest_message).is_report:  # a danger in a question: "楼道冒烟了 打119吗"
            return [FollowupAction(ActionHandleReport().name())]
        entry = _faq_answer(tracker)
        if entry is not None and entry.id == faq.first_ranked(tracker.latest_message):
            return [SlotSet("faq_sure", True)]  # utter_faq gives the ResponseSelector's answer
        opening = OPENING_REPLIES.get((tracker.latest_message.get("intent") or {}).get("name"))
        if entry is None and opening:
            dispatcher.utter_message(text=opening)
            return [SlotSet("faq_sure", False)]
        return [SlotSet("faq_sure", False),
                *say_or_hand_over(dispatcher, tracker, entry.reply() if entry else faq.NOT_SURE)]
