"""党员志愿者 on the Rasa side: the registration form (党员回家报到) in a one-to-one chat, and the
chat commands "接单 #N", "完成 #N 备注" and "我的积分". The rules are in `bot.volunteers`."""
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.actions import take_turn
from actions.context import database, resident_of
from bot import org, turn, volunteers
from bot.clock import utc_now
from bot.decision import decide
from bot.skills import parse_skills, skills_zh
from bot.volunteer_replies import (CANCELLED, ONLY_ONE_TO_ONE, QUESTIONS, UNKNOWN_SKILLS, already_registered,
                                    registered_reply)

Events = list[dict[str, Any]]
FORM_SLOTS = ("volunteer_name", "volunteer_compound", "volunteer_work_unit", "volunteer_skills")


def _short_text(dispatcher: CollectingDispatcher, slot: str, value: Any, longest: int,
                ask_again: str) -> dict[str, Any]:
    """A free-text answer of 2 to `longest` characters for `slot`, or the question again."""
    text = str(value or "").strip()
    if not 1 < len(text) <= longest:
        dispatcher.utter_message(text=ask_again)
        return {slot: None}
    return {slot: text}


def _clear() -> Events:
    return [SlotSet(name, None) for name in FORM_SLOTS]


class ValidateVolunteerForm(FormValidationAction):
    """Name, compound (from the directory), work unit and skills (mapped to the skill list).
    Nothing is asked in a group chat or of someone already registered: the action says why."""

    def name(self) -> str:
        return "validate_volunteer_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        """A report, 转人工 or a status question in the middle of the registration is not an
        answer: the turn takes it (filed, answered) and the form asks its question again."""
        decision = decide(tracker.latest_message)
        if turn.interrupts(tracker.latest_message, decision):
            return take_turn(dispatcher, tracker, decision) + [SlotSet(name, None) for name in tracker.slots_to_validate()]
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        resident = resident_of(tracker)
        if resident.group_id:
            return []
        with database() as session:
            known = volunteers.registration_of(session, resident.platform, resident.user_id)
            return [] if known is not None and known.status != "rejected" else domain_slots

    def validate_volunteer_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        return _short_text(dispatcher, "volunteer_name", value, 20, "请告诉我您的姓名（2到20个字）。")

    def validate_volunteer_compound(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        with database() as session:
            compound = org.find_compound(session, str(value or ""))
            if compound is None:
                dispatcher.utter_message(text="没有找到这个小区，请说小区的名字，例如“金御城”。")
                return {"volunteer_compound": None}
            return {"volunteer_compound": compound.name}

    def validate_volunteer_work_unit(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        return _short_text(dispatcher, "volunteer_work_unit", value, 100, "请告诉我您的工作单位（100字以内）。")

    def validate_volunteer_skills(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> dict[str, Any]:
        skills = parse_skills(str(value or ""))
        if not skills:
            dispatcher.utter_message(text=UNKNOWN_SKILLS)
            return {"volunteer_skills": None}
        return {"volunteer_skills": skills_zh(skills)}


class AskVolunteerSlot(Action, ABC):
    """The registration form's question for one slot (`action_ask_<slot>`)."""

    @property
    @abstractmethod
    def slot(self) -> str:
        """The slot asked for."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        dispatcher.utter_message(text=QUESTIONS[self.slot])
        return []


class ActionAskVolunteerName(AskVolunteerSlot):
    slot = "volunteer_name"


class ActionAskVolunteerCompound(AskVolunteerSlot):
    slot = "volunteer_compound"


class ActionAskVolunteerWorkUnit(AskVolunteerSlot):
    slot = "volunteer_work_unit"


class ActionAskVolunteerSkills(AskVolunteerSlot):
    slot = "volunteer_skills"


class ActionRegisterVolunteer(Action):
    """Records the registration once the form has everything, or says why it was not asked."""

    def name(self) -> str:
        return "action_register_volunteer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        resident = resident_of(tracker)
        if resident.group_id:
            dispatcher.utter_message(text=ONLY_ONE_TO_ONE)
            return _clear()
        slots = {name: tracker.get_slot(name) for name in FORM_SLOTS}
        with database() as session, session.begin():
            known = volunteers.registration_of(session, resident.platform, resident.user_id)
            compound = org.find_compound(session, slots["volunteer_compound"] or "")
            if known is not None and known.status != "rejected":
                dispatcher.utter_message(text=already_registered(known))
            elif compound is not None and all(slots.values()):
                volunteer = volunteers.register(session, resident, slots["volunteer_name"], compound,
                                                slots["volunteer_work_unit"],
                                                parse_skills(slots["volunteer_skills"]), utc_now())
                dispatcher.utter_message(text=registered_reply(volunteer))
        return _clear()


class ActionCancelVolunteerRegistration(Action):
    """The member gave up on the registration while the form was asking."""

    def name(self) -> str:
        return "action_cancel_volunteer_registration"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        dispatcher.utter_message(text=CANCELLED)
        return _clear()


def _answer(dispatcher: CollectingDispatcher, command: Callable[[Session], str]) -> Events:
    """Run a volunteer's chat command in one transaction and say its reply (or why it was refused)."""
    with database() as session, session.begin():
        try:
            reply = command(session)
        except volunteers.VolunteerError as refusal:
            reply = str(refusal)
    dispatcher.utter_message(text=reply)
    return []


class ActionClaimTicket(Action):
    """接单 #N: the first volunteer to claim a ticket has it."""

    def name(self) -> str:
        return "action_claim_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        resident, text = resident_of(tracker), tracker.latest_message.get("text") or ""
        return _answer(dispatcher, lambda session: volunteers.claim(
            session, resident.platform, resident.user_id, volunteers.ticket_number(text), utc_now()))


class ActionFinishTicket(Action):
    """完成 #N 备注: the volunteer reports the work done; the residents are asked to confirm."""

    def name(self) -> str:
        return "action_finish_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        resident, text = resident_of(tracker), tracker.latest_message.get("text") or ""
        return _answer(dispatcher, lambda session: volunteers.finish(
            session, resident.platform, resident.user_id, volunteers.ticket_number(text),
            volunteers.finish_note(text), utc_now()))


class ActionMyPoints(Action):
    """我的积分: balance and the latest ledger lines."""

    def name(self) -> str:
        return "action_my_points"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        resident = resident_of(tracker)
        return _answer(dispatcher, lambda session: volunteers.points_reply(session, resident.platform,
                                                                           resident.user_id))
