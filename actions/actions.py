"""The Rasa action for a resident's message: a thin adapter from the tracker to `bot.turn` and
from its outcome back to slots and messages."""
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import database, resident_of
from bot.db import shared_engine
from bot import faq_matcher, turn
from bot.clock import utc_now
from bot.decision import Decision

Events = list[dict[str, Any]]

log = logging.getLogger(__name__)


def _warm_faq() -> None:
    """Build the FAQ matcher while the server starts, so that no question waits for it: here, in
    the main process, before Sanic forks its workers, which inherit it (and its embeddings, so a
    console edit re-embeds only what changed). A FAQ that cannot be read stops nothing else:
    reports are still filed."""
    try:
        faq_matcher.warm(database)
    except Exception:  # noqa: BLE001 - any FAQ problem: logged, and met again at the first question
        log.exception("the FAQ matcher could not be trained at start")
    finally:
        # The workers forked after this would inherit the warm-up's pooled connection and talk
        # over one PostgreSQL socket at once; each opens its own instead.
        shared_engine().dispose(close=False)


_warm_faq()


def context_of(tracker: Tracker) -> turn.Context:
    """What the conversation knows before its latest message, from the tracker's slots."""
    return turn.Context(resident_of(tracker), utc_now(), pending=turn.Pending.from_slot(tracker.get_slot("pending")),
                        remembered_compound=tracker.get_slot("compound"),
                        misunderstood_last=bool(tracker.get_slot("misunderstood")),
                        suggested=turn.Suggestions.from_slot(tracker.get_slot("suggested")))


def take_turn(dispatcher: CollectingDispatcher, tracker: Tracker, decision: Decision | None = None) -> Events:
    """`bot.turn.take` on the latest message; its replies said, its memory kept in slots."""
    with database() as session, session.begin():
        outcome = turn.take(session, tracker.latest_message, context_of(tracker), decision)
    for text in outcome.replies:
        dispatcher.utter_message(text=text)
    if outcome.response:
        dispatcher.utter_message(response=outcome.response)
    return [SlotSet("pending", outcome.pending.as_slot() if outcome.pending else None),
            SlotSet("compound", outcome.remembered_compound),
            SlotSet("misunderstood", outcome.misunderstood),
            SlotSet("suggested", outcome.suggested.as_slot() if outcome.suggested else None)]


class ActionTurn(Action):
    """Every resident message but the volunteers' commands: `bot.turn.take` decides, this says it."""

    def name(self) -> str:
        return "action_turn"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        return take_turn(dispatcher, tracker)
