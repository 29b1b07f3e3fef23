"""The Rasa side of the group-chat core: a turn is a message to Rasa, and the core's loops run on
the Rasa server. The core itself (`connectors/group_chat.py`) knows no Rasa; the webhook every
platform's channel shares is `connectors/webhook.py`.

- a message goes to Rasa as a `UserMessage` whose output channel (`TurnOutput`) collects the
  replies, which then go out as one message;
- Rasa logs and swallows a failed custom action: the turn is silent. A silent turn is undone in
  the tracker and held like any outage, so it is tried again afresh;
- an outage of Rasa's lock store counts as the database's does; the action server is probed with
  the database before a held turn is tried again;
- the core's loops (delivery, inbox, media) start when the Rasa server starts serving a channel,
  with the changes to Rasa they rely on (`connectors/rasa_patches.py`).
"""
import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.lock_store import LockError
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUtteranceReverted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sanic import Blueprint
from sqlalchemy.orm import Session

from bot import handoff
from bot.db import OUTAGES, shared_engine
from connectors import media_queue
from connectors.group_chat import RETRY_EVERY, GroupChat, Incoming, OnNewMessage, Unavailable
from connectors.rasa_patches import check_action_results_with_one_validator, outages_of_the_tracker_store_are_errors

log = logging.getLogger(__name__)

SILENT_TRIES = 3  # a turn without a reply while every service answers is tried this often
# Turns in Rasa at once, per channel: more wait their turn without taking the event loop, which
# so stays free to answer webhooks within the platforms' deadlines (WeCom 5 s, Feishu 3 s).
TURNS_AT_ONCE = 8
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2)
# What an outage looks like in a turn: the database's, or the lock store cannot be reached, or it
# cannot give a conversation's lock in time (under overload a message may wait out the lock's
# lifetime: Rasa's LockError).
OUTAGES_IN_A_TURN = (*OUTAGES, RedisConnectionError, RedisTimeoutError, LockError)


class TurnOutput(OutputChannel):
    """Rasa's output channel for a connector: collects the bot's replies to one message, which
    then go out as one message (some platforms' reply handles can be used only once)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    @classmethod
    def name(cls) -> str:
        return "group_chat"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.texts.append(text)


@dataclass
class RasaGroupChat(GroupChat):
    """The group-chat core with Rasa as the bot: what every connector's channel uses."""
    _server: Any = field(default=None, repr=False)  # the Rasa server's Sanic app, once serving
    _turns: asyncio.Semaphore | None = field(default=None, repr=False)  # made in the serving loop

    async def ask(self, incoming: Incoming, text: str, on_new_message: OnNewMessage, tries: int) -> list[str]:
        """One turn in Rasa. A silent one, unless staff have the conversation, is undone and held:
        while every service answers, `SILENT_TRIES` times, then taken as the bot's last word."""
        sender_id = incoming.resident.sender_id
        turn = TurnOutput()
        self._turns = self._turns or asyncio.Semaphore(TURNS_AT_ONCE)
        try:
            async with self._turns:
                # at once: Rasa's lock store lines the conversation's messages up when each asks
                # for the lock, so nothing may hold this one back
                await on_new_message(UserMessage(text, turn, sender_id, input_channel=self.platform,
                                                 message_id=incoming.event_id, metadata=self.metadata(incoming)))
        except OUTAGES_IN_A_TURN as error:
            raise Unavailable(f"{error.__class__.__name__} during the turn") from None
        if not turn.texts and not self.with_staff(sender_id):
            reason = await self.services_down()
            if reason or tries + 1 < SILENT_TRIES:
                await self.forget_turn(sender_id)
                raise Unavailable(reason or "a silent turn: a custom action may have failed")
        return turn.texts

    def metadata(self, incoming: Incoming) -> dict:
        """What the actions may read: the group and the resident's name. The actions find the
        group's compound themselves, when they need it (a report, a question)."""
        return {"platform": self.platform, "group_id": incoming.group_id, "display_name": incoming.display_name}

    @staticmethod
    def with_staff(sender_id: str) -> bool:
        """Whether staff have the conversation (转人工): then a silent turn is the bot leaving a
        message to them (`bot.turn`), not a failed action."""
        try:
            with Session(shared_engine(), future=True) as session:
                return handoff.open_handoff(session, sender_id) is not None
        except OUTAGES:  # not known now: the outage itself is found next, and the turn held
            return False

    async def services_down(self) -> str | None:
        """Why the database or the action server cannot be used now; None when both answer."""
        url = action_server_health(self._server)
        if (reason := await super().services_down()) or not url:
            return reason
        try:
            async with aiohttp.ClientSession(timeout=PROBE_TIMEOUT) as http, http.get(url) as answer:
                return None if answer.status == 200 else f"the action server answers {answer.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return "the action server does not answer"

    async def forget_turn(self, sender_id: str) -> None:
        """Undo a turn whose custom actions failed, so that trying it again starts afresh: Rasa
        keeps predicting a failed action until its circuit breaker trips, and would count those
        predictions against the next turn too."""
        agent = getattr(getattr(self._server, "ctx", None), "agent", None)
        if agent is None:
            return
        try:
            async with agent.lock_store.lock(sender_id):
                tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
                tracker.update(UserUtteranceReverted())
                tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
                await agent.tracker_store.save(tracker)
        except OUTAGES_IN_A_TURN as error:  # the next try meets the breaker, is silent again and comes back here
            log.warning("%s: could not undo a failed turn (%s)", self.platform, error.__class__.__name__)

    def start_with(self, blueprint: Blueprint) -> None:
        """Start the core's loops (delivery, inbox, media) when the Rasa server starts serving
        this blueprint; the inbox's orphans go to whichever agent the server has then."""
        @blueprint.listener("after_server_start")
        async def _start(app, _loop) -> None:
            self._server = app
            check_action_results_with_one_validator()
            outages_of_the_tracker_store_are_errors(app)
            app.add_task(self.deliver_forever())
            app.add_task(self.keep_inbox(lambda message: app.ctx.agent.handle_message(message)))
            app.add_task(media_queue.fetch_forever(self.platform, self.fetch, RETRY_EVERY))


def action_server_health(app: Any) -> str | None:
    """The action server's health URL, from the Rasa server's action endpoint (None without one)."""
    endpoint = getattr(getattr(getattr(app, "ctx", None), "agent", None), "action_endpoint", None)
    if endpoint is None or not endpoint.url:
        return None
    return endpoint.url.rsplit("/", 1)[0] + "/health"
