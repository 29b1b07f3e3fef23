"""The group-chat core (群聊公共逻辑), written once and called by every platform connector.

A connector module holds only its platform's wire format and crypto: it turns a verified
callback into an `Incoming` and hands it to `GroupChat.accept`, and it sends one outbox row
with its `send` function. Everything else lives here:

- trigger: in a group the bot answers an @-mention or a message starting with a keyword; in a
  one-to-one chat every message;
- one conversation per resident per group (`<platform>:<group id>:<user id>`), with the group
  id and display name passed to Rasa as metadata;
- dedup by the platform's event id, persisted, so a retried callback is answered once;
- fast acknowledgement: the webhook answers first, the message is processed in the background;
- replies @-mention the resident in their group, with phone and ID numbers masked; they go
  through the outbox, so a platform outage loses nothing; a delivery loop retries;
- database work runs in threads, so the Rasa server's event loop goes on with other residents'
  messages while a commit waits for the disk;
- outages (故障): while the database cannot be reached a callback is refused with 503, so the
  platform sends it again; a message taken in whose turn meets an outage (database, action
  server, lock store) is held: the resident hears a short apology, and the message is answered,
  in order per conversation, once the services are back.
"""
import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.lock_store import LockError
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUtteranceReverted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import delete, text, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot import handoff
from bot.clock import utc_now
from bot.conversations import Resident
from bot.db import shared_engine
from bot.models import ReceivedEvent
from bot.notifier import Sender, deliver_due, notify
from bot.privacy import mask_sensitive
from connectors.action_results import check_action_results_with_one_validator

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # larger callbacks are refused with 413
NOT_TEXT_REPLY = "我目前只能看懂文字消息，图片、语音、文件和表情还看不了。请用文字描述一下，比如“7号楼电梯坏了”。"
STALE_PROCESSING = timedelta(minutes=10)  # a claim older than this was lost in a crash: take it again
RETRY_EVERY = 5.0  # seconds between delivery-loop beats
APOLOGY = "抱歉，系统正在恢复中，您的消息已经收到，恢复后会马上处理并回复您。"
HELD_FIRST_WAIT, HELD_LONGEST_WAIT = 1.0, 30.0  # seconds between tries of a held message
SILENT_TRIES = 3  # a turn without a reply while every service answers is tried this often
# Turns in Rasa at once, per channel: more wait their turn without taking the event loop, which
# so stays free to answer webhooks within the platforms' deadlines (WeCom 5 s, Feishu 3 s).
TURNS_AT_ONCE = 8
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2)
# What an outage looks like from here: the database or the lock store cannot be reached, or
# the lock store cannot give a conversation's lock in time (under overload a message may wait
# out the lock's lifetime: Rasa's LockError).
OUTAGES = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError, LockError)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class Unavailable(Exception):
    """A service the bot needs cannot be reached now; what met it is tried again later."""


class MalformedMessage(ValueError):
    """A callback whose fields have the wrong types (forged or broken): answered 400."""


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

    def __post_init__(self) -> None:
        """Refuse what a platform parser let through with the wrong types, whichever platform."""
        for name in ("platform", "event_id", "user_id", "text", "kind", "group_id", "display_name"):
            value = getattr(self, name)
            if not (isinstance(value, str) or (value is None and name in ("group_id", "display_name"))):
                raise MalformedMessage(f"{name} is not text")

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
    single_use_replies: bool = False  # a message can be answered once (no apology: the answer needs it)
    _tasks: set = field(default_factory=set, repr=False)
    _in_line: dict = field(default_factory=dict, repr=False)  # conversation → (lock, messages waiting)
    _outage: bool = field(default=False, repr=False)  # the last turn met one: probe before the next
    _server: Any = field(default=None, repr=False)  # the Rasa server's Sanic app, once serving
    _turns: asyncio.Semaphore | None = field(default=None, repr=False)  # made in the serving loop

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

    def _finish(self, incoming: Incoming, reply: str | None) -> None:
        """Queue the reply (if any) and mark the event done, in one transaction: whatever
        happens, a message is answered once."""
        with Session(shared_engine(), future=True) as session, session.begin():
            if reply:
                self._queue(session, incoming.resident, reply, incoming.context)
            session.execute(update(ReceivedEvent).where(
                ReceivedEvent.platform == self.platform, ReceivedEvent.event_id == incoming.event_id)
                .values(status="done"))

    def _release(self, event_id: str) -> None:
        """Forget a claim, so that the platform's retry is processed."""
        with Session(shared_engine(), future=True) as session, session.begin():
            session.execute(delete(ReceivedEvent).where(
                ReceivedEvent.platform == self.platform, ReceivedEvent.event_id == event_id))

    # receiving -------------------------------------------------------------------------
    async def accept(self, incoming: Incoming, on_new_message: OnNewMessage) -> bool:
        """Take a callback in; returns False for a duplicate. Processing goes on in the background.
        Raises `Unavailable` (answered 503, so the platform retries) when the database is down."""
        try:
            claimed = await asyncio.to_thread(self.claim, incoming.event_id)
        except OUTAGES as error:
            raise Unavailable(f"database: {error.__class__.__name__}") from None
        if not claimed:
            log.info("%s: duplicate event %s ignored", self.platform, incoming.event_id)
            return False
        task = asyncio.create_task(self.process(incoming, on_new_message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def process(self, incoming: Incoming, on_new_message: OnNewMessage) -> None:
        """Answer one message taken in, after the ones before it in the same conversation."""
        async with self._in_order(incoming.resident.sender_id):
            try:
                texts = await self.answer(incoming, on_new_message)
            except Exception:
                log.exception("%s: event %s failed; it will be taken again when retried",
                              self.platform, incoming.event_id)
                await _until_done(self._release, incoming.event_id)
                raise
            reply = "\n\n".join(texts)
            try:  # at once, not in a thread: the conversation's next message, which another server
                self._finish(incoming, reply)  # may be answering already, must be queued after this
            except OUTAGES:
                await _until_done(self._finish, incoming, reply)
            if texts:
                await self.send_now(incoming.resident)

    async def answer(self, incoming: Incoming, on_new_message: OnNewMessage) -> list[str]:
        """The bot's replies to a message. A turn that meets an outage is held: the resident hears
        one apology, and the turn is tried again, with growing pauses, until it goes through."""
        apologised, tries = False, 0
        while True:
            try:
                return await self.turn(incoming, on_new_message, tries)
            except Unavailable as outage:
                self._outage, tries = True, tries + 1
                log.warning("%s: event %s held, try %s: %s", self.platform, incoming.event_id, tries, outage)
                apologised = apologised or self.single_use_replies or await self._apologise(incoming)
                await asyncio.sleep(held_wait(tries))

    async def turn(self, incoming: Incoming, on_new_message: OnNewMessage, tries: int = 0) -> list[str]:
        """One try at the bot's replies: none for a group message not addressed to the bot."""
        text = self.triggered_text(incoming)
        if text is None:
            return []
        if incoming.kind != "text":
            return [NOT_TEXT_REPLY]
        if self._outage and (reason := await self.services_down()):  # wait here, not half-run in Rasa
            raise Unavailable(reason)
        turn = TurnOutput()
        self._turns = self._turns or asyncio.Semaphore(TURNS_AT_ONCE)
        try:
            async with self._turns:
                # at once: Rasa's lock store lines the conversation's messages up when each asks
                # for the lock, so nothing may hold this one back
                await on_new_message(UserMessage(
                    text, turn, incoming.resident.sender_id, input_channel=self.platform,
                    message_id=incoming.event_id, metadata=self.metadata(incoming)))
        except OUTAGES as error:
            raise Unavailable(f"{error.__class__.__name__} during the turn") from None
        if not turn.texts and not self.with_staff(incoming.resident.sender_id):
            # Rasa logs and swallows a failed custom action: the turn is silent
            reason = await self.services_down()
            if reason or tries + 1 < SILENT_TRIES:
                await self.forget_turn(incoming.resident.sender_id)
                raise Unavailable(reason or "a silent turn: a custom action may have failed")
        self._outage = False
        return turn.texts

    async def services_down(self) -> str | None:
        """Why the database or the action server cannot be used now; None when both answer."""
        try:
            with shared_engine().connect() as connection:
                connection.execute(text("SELECT 1"))
        except OUTAGES as error:
            return f"database: {error.__class__.__name__}"
        url = action_server_health(self._server)
        if url:
            try:
                async with aiohttp.ClientSession(timeout=PROBE_TIMEOUT) as http, http.get(url) as answer:
                    return None if answer.status == 200 else f"the action server answers {answer.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError):
                return "the action server does not answer"
        return None

    @staticmethod
    def with_staff(sender_id: str) -> bool:
        """Whether staff have the conversation (转人工): then a silent turn is the bot leaving a
        message to them (`bot.turn`), not a failed action."""
        try:
            with Session(shared_engine(), future=True) as session:
                return handoff.open_handoff(session, sender_id) is not None
        except OUTAGES:  # not known now: the outage itself is found next, and the turn held
            return False

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
        except OUTAGES as error:  # the next try meets the breaker, is silent again and comes back here
            log.warning("%s: could not undo a failed turn (%s)", self.platform, error.__class__.__name__)

    async def _apologise(self, incoming: Incoming) -> bool:
        """Tell the resident their message waits; False when even that cannot be queued yet."""
        try:
            await self.reply(incoming.resident, APOLOGY, incoming.context)
        except OUTAGES:
            return False
        return True

    @contextlib.asynccontextmanager
    async def _in_order(self, conversation: str):
        """One message of a conversation at a time, in the order they came in (held ones too)."""
        lock, waiting = self._in_line.get(conversation, (asyncio.Lock(), 0))
        self._in_line[conversation] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._in_line[conversation]
            if waiting == 1:
                del self._in_line[conversation]
            else:
                self._in_line[conversation] = (lock, waiting - 1)

    def metadata(self, incoming: Incoming) -> dict:
        """What the actions may read: the group and the resident's name. The actions find the
        group's compound themselves, when they need it (a report, a question)."""
        return {"platform": self.platform, "group_id": incoming.group_id, "display_name": incoming.display_name}

    async def idle(self) -> None:
        """Wait until every message taken in has been processed (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # replying --------------------------------------------------------------------------
    async def reply(self, resident: Resident, text: str, context: dict | None) -> None:
        """Queue a reply to the resident (masked in a group) and try to send it at once."""
        await asyncio.to_thread(self.queue_reply, resident, text, context)
        await self.send_now(resident)

    def queue_reply(self, resident: Resident, text: str, context: dict | None) -> None:
        """Write the reply to the outbox."""
        with Session(shared_engine(), future=True) as session, session.begin():
            self._queue(session, resident, text, context)

    @staticmethod
    def _queue(session: Session, resident: Resident, text: str, context: dict | None) -> None:
        """An outbox row for the resident, phone and ID numbers masked in a group."""
        notify(session, resident.sender_id, mask_sensitive(text) if resident.group_id else text, utc_now(),
               context=context)

    async def send_now(self, resident: Resident) -> None:
        """Send what the resident is owed now; what cannot go now, the delivery loop sends later."""
        try:
            await deliver_due(shared_engine(), {self.platform: self.send}, utc_now(), recipient=resident.sender_id)
        except OUTAGES as error:
            log.warning("%s: sending now failed (%s); the delivery loop will", self.platform,
                        error.__class__.__name__)

    async def deliver_forever(self) -> None:
        """Retry what could not be sent, and send notifications (new tickets, escalations)."""
        while True:
            try:
                await deliver_due(shared_engine(), {self.platform: self.send}, utc_now())
            except Exception:  # noqa: BLE001 - the database may be restarting: next beat
                log.exception("%s: delivery beat failed", self.platform)
            await asyncio.sleep(RETRY_EVERY)

    def webhook_blueprint(self, name: str, close: Callable[[], Awaitable[None]]) -> Blueprint:
        """A channel's blueprint with what every webhook channel has: a health check at `/`, the
        delivery loop and the error answers (`run_delivery_with`), and `close` (its HTTP session)
        once the server stops. The channel adds its `/webhook` route."""
        blueprint = Blueprint(name, __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.listener("after_server_stop")
        async def _close(_app, _loop) -> None:
            await close()

        self.run_delivery_with(blueprint)
        return blueprint

    def run_delivery_with(self, blueprint: Blueprint) -> None:
        """Start the delivery loop when the Rasa server starts serving this blueprint; answer a
        callback that meets a database outage with 503, which platforms retry, and a malformed
        one with 400."""
        @blueprint.listener("after_server_start")
        async def _start(app, _loop) -> None:
            self._server = app
            check_action_results_with_one_validator()
            outages_of_the_tracker_store_are_errors(app)
            app.add_task(self.deliver_forever())

        @blueprint.exception(Unavailable)
        async def _unavailable(_request: Request, error: Unavailable) -> HTTPResponse:
            return rejected(self.platform, 503, f"try again later ({error})")

        @blueprint.exception(MalformedMessage)
        async def _malformed(_request: Request, error: MalformedMessage) -> HTTPResponse:
            return rejected(self.platform, 400, f"malformed message: {error}")


def outages_of_the_tracker_store_are_errors(app: Any) -> None:
    """Rasa answers a tracker store that cannot be reached from memory (a conversation without its
    past, a message never stored); an outage is raised instead, and the turn held."""
    store = getattr(getattr(app.ctx, "agent", None), "tracker_store", None)
    if isinstance(store, FailSafeTrackerStore):
        store._on_tracker_store_error = _raise_outages


def _raise_outages(error: Exception) -> None:
    if isinstance(error, OUTAGES):
        raise error
    log.error("the tracker store failed (%s); Rasa goes on with one in memory", error.__class__.__name__)


def action_server_health(app: Any) -> str | None:
    """The action server's health URL, from the Rasa server's action endpoint (None without one)."""
    endpoint = getattr(getattr(getattr(app, "ctx", None), "agent", None), "action_endpoint", None)
    if endpoint is None or not endpoint.url:
        return None
    return endpoint.url.rsplit("/", 1)[0] + "/health"


def held_wait(tries: int) -> float:
    """1 s, 2 s, 4 s … up to 30 s between tries through an outage."""
    return min(HELD_FIRST_WAIT * 2 ** (tries - 1), HELD_LONGEST_WAIT)


async def _until_done(step: Callable[..., Any], *args: Any) -> None:
    """Run a database step (in a thread: the event loop goes on meanwhile), again and again
    through an outage: what it records must not be lost."""
    for tries in itertools.count(1):
        try:
            await asyncio.to_thread(step, *args)
            return
        except OUTAGES as error:
            log.warning("%s failed (%s), try %s; trying again", step.__name__, error.__class__.__name__, tries)
            await asyncio.sleep(held_wait(tries))


def rejected(platform: str, status: int, reason: str) -> HTTPResponse:
    """A refused callback: a 4xx and a log line (the reason, never a secret or the body)."""
    log.warning("%s webhook refused with %s: %s", platform, status, reason)
    return response.json({"error": reason}, status=status)


def required(credentials: dict | None, platform: str, *names: str) -> dict:
    """A channel's credentials from credentials.yml, refused clearly when one of `names` is missing."""
    credentials = credentials or {}
    for name in names:
        if not credentials.get(name):
            raise ValueError(f"{platform}: credentials.yml needs {name}")
    return credentials


def body_too_large(request: Request) -> bool:
    return len(request.body or b"") > MAX_BODY
