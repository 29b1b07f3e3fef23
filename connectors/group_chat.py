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
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.lock_store import LockError
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUtteranceReverted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot import handoff
from bot.clock import utc_now
from bot.conversations import Resident
from bot.db import shared_engine
from bot.media import QUESTIONS as MEDIA_QUESTIONS
from bot.notifier import Sender, deliver_due, notify
from bot.privacy import mask_sensitive
from bot.replies import NO_WORDS
from connectors import inbox, media_queue
from connectors.inbound import MalformedMessage, checked_id, checked_text, clean_name
from connectors.rasa_patches import check_action_results_with_one_validator, outages_of_the_tracker_store_are_errors

log = logging.getLogger(__name__)

# Larger callbacks are refused with 413. What a resident may write is limited on the text itself
# (`connectors.inbound.MAX_TEXT`, 64 KB): escaped, encrypted and in base64 a body carrying the
# longest text allowed is up to about 3 times as long.
MAX_BODY = 256 * 1024
NOT_TEXT_REPLY = NO_WORDS  # a sticker, a location …: nothing to file; photos and voice are 随手拍's
RETRY_EVERY = 5.0  # seconds between delivery-loop beats
APOLOGY = "抱歉，系统正在恢复中，您的消息已经收到，恢复后会马上处理并回复您。"
HELD_FIRST_WAIT, HELD_LONGEST_WAIT = 1.0, 30.0  # seconds between tries of a held message
ELSEWHERE_POLL = 0.5  # seconds between looks at a message another server is answering
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
    media: tuple = ()  # files it carries, each {"kind": …, platform handle} (connectors/media_queue.py)

    def __post_init__(self) -> None:
        """Refuse what a platform parser let through with the wrong types or unusable ids, and
        clean what a resident wrote, whichever platform (`connectors.inbound`)."""
        for name in ("platform", "event_id", "user_id", "kind"):
            checked_id(getattr(self, name), name)
        if self.group_id is not None:
            checked_id(self.group_id, "group_id")
        if not isinstance(self.text, str) or not isinstance(self.display_name, str | None):
            raise MalformedMessage("text or display_name is not text")
        object.__setattr__(self, "text", checked_text(self.text))  # frozen: cleaned once, here
        if self.display_name is not None:
            object.__setattr__(self, "display_name", clean_name(self.display_name) or None)
        object.__setattr__(self, "media", media_queue.checked_refs(self.media))

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
    fetch: media_queue.Fetch | None = None  # downloads one file a resident sent (随手拍)
    # kind → what a message of that kind hears instead of NOT_TEXT_REPLY, or of 随手拍's question
    # about its file (an untranscribed voice message, the welcome of a subscribe event): answered
    # here, deduplicated like any message
    not_text_replies: dict = field(default_factory=dict)
    _tasks: set = field(default_factory=set, repr=False)
    _in_hand: set = field(default_factory=set, repr=False)  # event ids this server is answering
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

    # the inbox ---------------------------------------------------------------------------
    def claim(self, incoming: Incoming) -> bool:
        """Record a callback; True when this server is to answer it (`connectors.inbox.record`)."""
        return inbox.record(shared_engine(), self.platform, incoming.event_id, asdict(incoming), utc_now())

    def _finish(self, incoming: Incoming, reply: str | None) -> None:
        """Queue the reply (if any) and mark the event done, in one transaction: whatever
        happens, a message is answered once."""
        with Session(shared_engine(), future=True) as session, session.begin():
            if reply:
                self._queue(session, incoming.resident, reply, incoming.context)
            inbox.finish(session, self.platform, incoming.event_id)

    def _release(self, event_id: str) -> None:
        """Forget a claim, so that the platform's retry is processed."""
        inbox.forget(shared_engine(), self.platform, event_id)

    # receiving -------------------------------------------------------------------------
    async def accept(self, incoming: Incoming, on_new_message: OnNewMessage) -> bool:
        """Take a callback in; returns False for a duplicate. Raises `Unavailable` (answered 503,
        so the platform retries) when it cannot be recorded.

        The record is begun, and the message's place in its conversation's line taken, before
        anything is awaited; both go on if the platform hangs up meanwhile (the handler is then
        cancelled, not the work): a recorded message is always answered, in the order it came."""
        recorded = asyncio.ensure_future(asyncio.to_thread(self.claim, incoming))
        recorded.add_done_callback(lambda done: self._in_hand_once(done, incoming.event_id))
        self._spawn(self._answer_once_recorded(recorded, incoming, on_new_message))
        try:
            claimed = await asyncio.shield(recorded)
        except OUTAGES as error:
            raise Unavailable(f"database: {error.__class__.__name__}") from None
        if not claimed:
            log.info("%s: duplicate event %s ignored", self.platform, incoming.event_id)
        return claimed

    def _in_hand_once(self, recorded: asyncio.Future, event_id: str) -> None:
        """From its record on, the message's lease is kept (while it waits its turn too)."""
        if not recorded.cancelled() and recorded.exception() is None and recorded.result():
            self._in_hand.add(event_id)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_once_recorded(self, recorded: asyncio.Future, incoming: Incoming,
                                    on_new_message: OnNewMessage) -> None:
        async with self._in_order(incoming.resident.sender_id):
            try:
                claimed = await recorded
            except Exception:  # noqa: BLE001 - not recorded: answered 503, the platform brings it again
                return
            if claimed:
                await self._handle(incoming, on_new_message)
            else:
                await self._while_answered_elsewhere(incoming.event_id)

    async def _while_answered_elsewhere(self, event_id: str) -> None:
        """Keep the conversation's line while another server answers a message this one got too
        (a platform's retry that reached both): the resident's next message, which came here
        after it, is answered after it. Ends when that answer is in, or its lease runs out (the
        sweep takes the message then, on whichever server)."""
        deadline = asyncio.get_running_loop().time() + 2 * inbox.LEASE.total_seconds()
        while asyncio.get_running_loop().time() < deadline:
            try:
                if not await asyncio.to_thread(inbox.held_elsewhere, shared_engine(), self.platform, event_id,
                                               utc_now()):
                    return
            except OUTAGES:
                pass  # the database is away: wait on, as the other server must
            await asyncio.sleep(ELSEWHERE_POLL)

    async def process(self, incoming: Incoming, on_new_message: OnNewMessage) -> None:
        """Answer one message taken in, after the ones before it in the same conversation."""
        async with self._in_order(incoming.resident.sender_id):
            await self._handle(incoming, on_new_message)

    async def _handle(self, incoming: Incoming, on_new_message: OnNewMessage) -> None:
        self._in_hand.add(incoming.event_id)
        try:
            try:
                texts = await self.answer(incoming, on_new_message)
            except Exception:
                log.exception("%s: event %s failed; it will be taken again when retried",
                              self.platform, incoming.event_id)
                await _until_done(self._release, incoming.event_id)
                return
            reply = "\n\n".join(texts)
            try:  # at once, not in a thread: the conversation's next message, which another server
                self._finish(incoming, reply)  # may be answering already, must be queued after this
            except OUTAGES:
                await _until_done(self._finish, incoming, reply)
        finally:
            self._in_hand.discard(incoming.event_id)
        if texts:
            await self.send_now(incoming.resident)

    async def keep_inbox(self) -> None:
        """Renew the leases of the messages in hand, and take the ones nobody has any more (a
        server that died, a request cut off before its handler ran), oldest first."""
        while True:
            try:
                now = utc_now()
                await asyncio.to_thread(inbox.renew, shared_engine(), self.platform, sorted(self._in_hand), now)
                for event_id, payload in await asyncio.to_thread(inbox.orphans, shared_engine(), self.platform, now):
                    if event_id in self._in_hand:
                        continue
                    self._in_hand.add(event_id)
                    try:
                        incoming = Incoming(**payload)
                    except (TypeError, ValueError):
                        log.error("%s: event %s cannot be read back; dropped", self.platform, event_id)
                        await asyncio.to_thread(self._release, event_id)
                        continue
                    log.info("%s: event %s taken from the inbox", self.platform, event_id)
                    self._spawn(self.process(incoming, self._server.ctx.agent.handle_message))
            except Exception:  # noqa: BLE001 - the database may be down: the next beat tries again
                log.exception("%s: inbox beat failed", self.platform)
            await asyncio.sleep(inbox.RENEW_EVERY)

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
        if incoming.media:  # noted whether addressed or not: a report of its sender may follow
            said = await self.take_media(incoming, addressed=text is not None, with_text=bool(text))
            if not text:
                return [said] if said else []
        if text is None:
            return []
        if incoming.kind != "text":
            return [self.not_text_replies.get(incoming.kind, NOT_TEXT_REPLY)]
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

    async def take_media(self, incoming: Incoming, addressed: bool, with_text: bool) -> str | None:
        """Note the files a message carries (`bot.media.received`) and start their download,
        which the conversation does not wait for."""
        try:
            said = await asyncio.to_thread(media_queue.note, incoming, addressed, with_text)
        except OUTAGES as error:
            raise Unavailable(f"{error.__class__.__name__} noting media") from None
        self._spawn(media_queue.fetch_due(self.platform, self.fetch))
        if said == MEDIA_QUESTIONS.get(incoming.kind) and incoming.kind in self.not_text_replies:
            return self.not_text_replies[incoming.kind]  # the channel's own words: the file waits all the same
        return said

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
            app.add_task(self.keep_inbox())
            app.add_task(media_queue.fetch_forever(self.platform, self.fetch, RETRY_EVERY))

        @blueprint.exception(Unavailable)
        async def _unavailable(_request: Request, error: Unavailable) -> HTTPResponse:
            return rejected(self.platform, 503, f"try again later ({error})")

        @blueprint.exception(MalformedMessage)
        async def _malformed(_request: Request, error: MalformedMessage) -> HTTPResponse:
            return rejected(self.platform, 400, f"malformed message: {error}")


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
    """Over `MAX_BODY`: refused before anything is parsed or decrypted."""
    return len(request.body or b"") > MAX_BODY
