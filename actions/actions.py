"""Rasa SDK actions: thin adapters from a tracker to the `bot` services."""
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.decision import decide
from bot.replies import NOT_UNDERSTOOD, first_values, report_acknowledgement


class ActionHandleReport(Action):
    """Answers a report (or an unclear message) as `bot.decision.decide` judges it."""

    def name(self) -> str:
        return "action_handle_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        message = tracker.latest_message
        decision = decide(message)
        if not decision.is_report:
            dispatcher.utter_message(text=NOT_UNDERSTOOD)
            return []
        location = first_values(message.get("entities", []))
        for text in report_acknowledgement(decision, location):
            dispatcher.utter_message(text=text)
        return []
