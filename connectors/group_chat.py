"""The group-chat core (群聊公共逻辑), written once and called by every platform connector.

A connector module holds only its platform's wire format and crypto: it turns a verified
callback into an `Incoming` and hands it to `GroupChat.accept`, and it sends one outbox row
with its `send` function. Everything else lives here:

- trigger: in a group the bot answers an @-mention or a message starting with a keyword; in a
  one-to-one chat every message;
- one conversation per resident per group (`<platform>:<group id>:<user id>`), with the group
  id, display name and bound compound passed to Rasa as metadata;
- dedup by the platform's event id, persisted, so a retried callback is answered once;
- fast acknowledgement: the webhook answers first, the message is processed in the background;
- replies @-mention the resident in their group, with phone and ID numbers masked; they go
  through the outbox, so a platform outage loses nothing; a delivery loop retries.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import org
from bot.clock import utc_now
from bot.conversations import Resident
from bot.db import shared_engine
from bot.models import ReceivedEvent
from bot.notifier import Sender, deliver_due, notify
from bot.privacy import mask_sensitive

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # larger callbacks are refused with 413
NOT_TEXT_REPLY = "我目前只能看懂文字消息，图片、语音、文件和表情还看不了。请用文字描述一下，比如“7号楼电梯坏了”。"
STALE_PROCESSING = timedelta(minutes=10)  # a claim older than this was lost in a crash: take it again
RETRY_EVERY = 5.0  # seconds between delivery-loop beats

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


@dataclass(frozen=True)
class Incoming:
    """A verified platform message, in the platform-neutral form the core works with."""
    platform: str
    event_id: str
    user_id: str
    text: str  # the bot's own mention already removed; "" for images and the like
    group_id: str | None = None  # None in a one-to-one chat
    display_name: str | None = None
    kind: str = "text"  # text, image, voice, file, sticker, …
    mentioned: bool = False  # the bot was @-mentioned
    context: dict | None = None  # what the platform needs to answer in this conversation

    @property
    def resident(self) -> Resident:
        return Resident(self.platform, self.group_id, self.user_id, self.display_name)


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
class GroupChat:
    """One platform's group-chat behaviour; `send` delivers one outbox row on that platform."""
    platform: str
    send: Sender
    keywords: tuple[str, ...] = ("小助手",)
    _tasks: set = field(default_factory=set, repr=False)

    # trigger ---------------------------------------------------------------------------
    def triggered_text(self, incoming: Incoming) -> str | None:
        """The text for the bot, or None when a group message is not addressed to it."""
        text = incoming.text.strip()
        if incoming.group_id is None or incoming.mentioned:
            return text
        for keyword in self.keywords:
            if text.startswith(keyword):
                return text[len(keyword):].lstrip(" ，,:：")
        return None

    # dedup -----------------------------------------------------------------------------
    def claim(self, event_id: str) -> bool:
        """True the first time an event id is seen (or when an earlier claim died in a crash)."""
        now = utc_now()
        engine = shared_engine()
        try:
            with Session(engine, future=True) as session, session.begin():
                session.add(ReceivedEvent(platform=self.platform, event_id=event_id, received_at=now,
                                          status="processing"))
            return True
        except IntegrityError:
            with Session(engine, future=True) as session, session.begin():
                taken = session.execute(update(ReceivedEvent).where(
                    ReceivedEvent.platform == self.platform, ReceivedEvent.event_id == event_id,
                    ReceivedEvent.status == "processing",
                    ReceivedEvent.received_at < now - STALE_PROCESSING).values(received_at=now))
                return taken.rowcount == 1

    def _finish(self, event_id: str, done: bool) -> None:
        with Session(shared_engine(), future=True) as session, session.begin():
            where = (ReceivedEvent.platform == self.platform, ReceivedEvent.event_id == event_id)
            if done:
                session.execute(update(ReceivedEvent).where(*where).values(status="done"))
            else:  # let the platform's retry process it
                session.execute(delete(ReceivedEvent).where(*where))

    # receiving -------------------------------------------------------------------------
    async def accept(self, incoming: Incoming, on_new_message: OnNewMessage) -> bool:
        """Take a callback in; returns False for a duplicate. Processing goes on in the background."""
        if not self.claim(incoming.event_id):
            log.info("%s: duplicate event %s ignored", self.platform, incoming.event_id)
            return False
        task = asyncio.create_task(self.process(incoming, on_new_message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def process(self, incoming: Incoming, on_new_message: OnNewMessage) -> None:
        try:
            text = self.triggered_text(incoming)
            if text is not None and incoming.kind != "text":
                await self.reply(incoming.resident, NOT_TEXT_REPLY, incoming.context)
            elif text is not None:
                turn = TurnOutput()
                await on_new_message(UserMessage(
                    text, turn, incoming.resident.sender_id, input_channel=self.platform,
                    message_id=incoming.event_id, metadata=self.metadata(incoming)))
                if turn.texts:
                    await self.reply(incoming.resident, "\n\n".join(turn.texts), incoming.context)
        except Exception:
            log.exception("%s: event %s failed; it will be taken again when retried",
                          self.platform, incoming.event_id)
            self._finish(incoming.event_id, done=False)
            raise
        self._finish(incoming.event_id, done=True)

    def metadata(self, incoming: Incoming) -> dict:
        """What the actions may read: the group, the resident's name and the bound compound."""
        compound = None
        if incoming.group_id:
            with Session(shared_engine(), future=True) as session:
                bound = org.compound_for_group(session, self.platform, incoming.group_id)
                compound = bound.name if bound else None
        return {"platform": self.platform, "group_id": incoming.group_id,
                "display_name": incoming.display_name, "compound": compound}

    async def idle(self) -> None:
        """Wait until every message taken in has been processed (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # replying --------------------------------------------------------------------------
    async def reply(self, resident: Resident, text: str, context: dict | None) -> None:
        """Queue a reply to the resident (masked in a group) and try to send it at once."""
        if resident.group_id:
            text = mask_sensitive(text)
        with Session(shared_engine(), future=True) as session, session.begin():
            notify(session, resident.sender_id, text, utc_now(), context=context)
        await deliver_due(shared_engine(), {self.platform: self.send}, utc_now(), recipient=resident.sender_id)

    async def deliver_forever(self) -> None:
        """Retry what could not be sent, and send notifications (new tickets, escalations)."""
        while True:
            try:
                await deliver_due(shared_engine(), {self.platform: self.send}, utc_now())
            except Exception:  # noqa: BLE001 - the database may be restarting: next beat
                log.exception("%s: delivery beat failed", self.platform)
            await asyncio.sleep(RETRY_EVERY)

    def run_delivery_with(self, blueprint: Blueprint) -> None:
        """Start the delivery loop when the Rasa server starts serving this blueprint."""
        @blueprint.listener("after_server_start")
        async def _start(app, _loop) -> None:
            app.add_task(self.deliver_forever())


def rejected(platform: str, status: int, reason: str) -> HTTPResponse:
    """A refused callback: a 4xx and a log line (the reason, never a secret or the body)."""
    log.warning("%s webhook refused with %s: %s", platform, status, reason)
    return response.json({"error": reason}, status=status)


def body_too_large(request: Request) -> bool:
    return len(request.body or b"") > MAX_BODY
