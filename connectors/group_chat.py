"""The group-chat core (群聊公共逻辑): what happens to one message, whichever platform it came
from and whatever bot answers it. No Rasa and no Sanic here: the Rasa side of a turn (the
message to Rasa, undoing a failed turn, the action server) is `connectors/rasa_chat.py`, the
webhook every platform's Rasa channel shares is `connectors/webhook.py`.

A connector module holds only its platform's wire format and crypto: it turns a verified
callback into an `Incoming` and hands it to `GroupChat.accept`, and it sends one outbox row
with its `send` function. Everything else lives here:

- trigger: in a group the bot answers an @-mention or a message starting with a keyword; in a
  one-to-one chat every message;
- one conversation per resident per group (`<platform>:<group id>:<user id>`), with the group
  id and display name passed to the bot as metadata (`rasa_chat`);
- dedup by the platform's event id, persisted, so a retried callback is answered once;
- fast acknowledgement: the webhook answers first, the message is processed in the background;
- replies @-mention the resident in their group, with phone and ID numbers masked; they go
  through the outbox, so a platform outage loses nothing; a delivery loop retries;
- database work runs in threads, so the Rasa server's event loop goes on with other residents'
  messages while a commit waits for the disk;
- outages (故障): while the database cannot be reached a callback is refused with 503, so the
  platform sends it again; a message taken in whose turn meets an outage (`Unavailable`: the
  database, or on the Rasa side the action server or the lock store) is held: the resident hears
  a short apology, and the message is answered, in order per conversation, once the services are
  back.
"""
import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.conversations import Resident
from bot.db import OUTAGES, shared_engine
from bot.media import QUESTIONS as MEDIA_QUESTIONS
from bot.notifier import Sender, deliver_due, notify
from bot.privacy import mask_sensitive
from bot.replies import NO_WORDS
from connectors import inbox, media_queue
from connectors.inbound import MalformedMessage, checked_id, checked_text, clean_name

log = logging.getLogger(__name__)

KEYWORDS = ("小助手",)  # what a group message starts with to reach the bot, unless configured
NOT_TEXT_REPLY = NO_WORDS  # a sticker, a location …: nothing to file; photos and voice are 随手拍's
RETRY_EVERY = 5.0  # seconds between delivery-loop beats
APOLOGY = "抱歉，系统正在恢复中，您的消息已经收到，恢复后会马上处理并回复您。"
HELD_FIRST_WAIT, HELD_LONGEST_WAIT = 1.0, 30.0  # seconds between tries of a held message
ELSEWHERE_POLL = 0.5  # seconds between looks at a message another server is answering

OnNewMessage = Callable[[Any], Awaitable[Any]]  # the bot, taking a message (Rasa's: `rasa_chat`)


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


@dataclass
class GroupChat:
    """One platform's group-chat behaviour; `send` delivers one outbox row on that platform. What
    the bot says is `ask`'s, which the Rasa side gives (`connectors.rasa_chat.RasaGroupChat`)."""
    platform: str
    send: Sender
    keywords: tuple[str, ...] = KEYWORDS
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

    async def keep_inbox(self, on_new_message: OnNewMessage) -> None:
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
                    self._spawn(self.process(incoming, on_new_message))
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
        if self._outage and (reason := await self.services_down()):  # wait here, not half-run in the bot
            raise Unavailable(reason)
        texts = await self.ask(incoming, text, on_new_message, tries)
        self._outage = False
        return texts

    async def ask(self, incoming: Incoming, text: str, on_new_message: OnNewMessage, tries: int) -> list[str]:
        """The bot's replies to `text`, the `tries`-th time it is asked; `Unavailable` when a
        service fails meanwhile. The Rasa side's (`connectors.rasa_chat`)."""
        raise NotImplementedError

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
        """Why the database cannot be used now; None when it answers."""
        try:
            with shared_engine().connect() as connection:
                connection.execute(text("SELECT 1"))
        except OUTAGES as error:
            return f"database: {error.__class__.__name__}"
        return None

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
