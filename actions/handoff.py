"""转人工 on the Rasa side: handing a resident's conversation to staff pauses it (Rasa's
ConversationPaused: the server keeps logging the resident's messages but predicts nothing), and
a new session keeps it paused while staff still have it. The rules are in `bot.handoff`."""
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.context import database, resident_of
from bot import handoff, org
from bot.clock import utc_now
from bot.intake import PendingReport
from bot.models import Compound, Ticket

Events = list[dict[str, Any]]


def _compound(session: Session, tracker: Tracker) -> Compound | None:
    """The compound the conversation is about: the group's, else the one the resident named."""
    resident = resident_of(tracker)
    if resident.group_id:
        bound = org.compound_for_group(session, resident.platform, resident.group_id)
        if bound:
            return bound
    return org.find_compound(session, tracker.get_slot("compound") or "")


def hand_over(dispatcher: CollectingDispatcher, session: Session, tracker: Tracker, reason: str,
              compound: Compound | None, ticket: Ticket | None = None) -> Events:
    """Hand the conversation to staff, tell the resident when to expect them, pause the bot."""
    now = utc_now()
    resident = resident_of(tracker)
    handoff.start(session, resident, reason, compound, tracker.latest_message.get("text") or "", now, ticket)
    dispatcher.utter_message(text=handoff.notice(reason, org.office_hours_for(compound), now))
    return [ConversationPaused()]


def _previous_turn_replies(tracker: Tracker) -> list[str]:
    """What the bot said in answer to the resident's message before the latest one."""
    replies, user_messages = [], 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            user_messages += 1
            if user_messages == 2:
                break
        elif event.get("event") == "bot" and user_messages == 1:
            replies.append(event.get("text") or "")
    return replies


def say_or_hand_over(dispatcher: CollectingDispatcher, tracker: Tracker, reply: str) -> Events:
    """Say `reply`, unless it is the second "I did not understand" in a row: then hand over."""
    if not handoff.second_misunderstanding(reply, _previous_turn_replies(tracker)):
        dispatcher.utter_message(text=reply)
        return []
    with database() as session, session.begin():
        return hand_over(dispatcher, session, tracker, "not_understood", _compound(session, tracker))


def hand_over_if_urgent(dispatcher: CollectingDispatcher, session: Session, tracker: Tracker,
                        report: PendingReport) -> Events:
    """After an urgent report is filed, staff take the conversation (they were alerted with the ticket)."""
    if not report.urgent:
        return []
    ticket = handoff.latest_ticket_of(session, tracker.sender_id)
    return hand_over(dispatcher, session, tracker, "urgent", ticket.compound if ticket else None, ticket)


class ActionHandoff(Action):
    """转人工: the resident asked for a person."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        with database() as session, session.begin():
            return hand_over(dispatcher, session, tracker, "asked", _compound(session, tracker))


class ActionSessionStart(Action):
    """Rasa's own session start (slots carried over as the domain says), except that a
    conversation staff still have stays paused: a new session after an hour's silence would
    otherwise unpause it, and the bot would answer a resident who is waiting for a person."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        events = [SessionStarted()]
        if domain.get("session_config", {}).get("carry_over_slots", True):
            events += [SlotSet(name, value) for name, value in tracker.slots.items() if value is not None]
        with database() as session:
            if handoff.open_handoff(session, tracker.sender_id):
                events.append(ConversationPaused())
        return events + [ActionExecuted("action_listen")]
