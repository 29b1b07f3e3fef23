"""Matrix: for communities that run their own chat server (Synapse, Conduit, Dendrite …).

There is no webhook. The bot logs in as a Matrix user and follows the client-server sync API
(`/sync`, long polling) from the moment the Rasa server starts until it stops. It accepts every
invitation to a room; a room bound to a compound in the org file is that compound's group. It
answers a message that mentions it (`m.mentions`, or its display name or user id in the text)
or starts with a keyword; in a direct chat (`m.direct`) every message. History from before the
bot started is never answered: the first sync only sets the starting point, and a room joined
later shows its older messages, which are skipped by their timestamp.

Replies are `m.notice` messages (what the spec asks of bots; they never answer one another's)
that mention the resident: their display name, a matrix.to link in the HTML and `m.mentions`.
Notifications to staff go to a direct chat with them, opened when there is none yet.
"""
import asyncio
import html
import logging
import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conversations import resident_from
from bot.models import OutboxMessage
from connectors.group_chat import KEYWORDS, Incoming, OnNewMessage
from connectors.inbound import MalformedMessage, clean_name
from connectors.media_queue import MediaUnavailable, download
from connectors.rasa_chat import RasaGroupChat
from connectors.webhook import keywords_in, required

log = logging.getLogger(__name__)

PLATFORM = "matrix"
CLIENT_API = "/_matrix/client/v3"
POLL_MS = 30_000  # how long one /sync waits for news
RETRY_SECONDS = (1, 2, 5, 10, 30)  # between failed syncs, the last one repeated
KINDS = {"m.text": "text", "m.emote": "text", "m.image": "image", "m.audio": "voice", "m.video": "video",
         "m.file": "file", "m.location": "location"}
FIRST_SYNC = '{"room":{"timeline":{"limit":1}}}'  # only the starting point: history is not answered
LATER_SYNCS = '{"room":{"timeline":{"limit":100}}}'  # a busy group's messages between two syncs
REPLY_FALLBACK = re.compile(r"\A(?:> .*\n)+\n?")  # the quoted lines a reply's body starts with
MEDIA_KINDS = ("image", "voice", "video", "file")
MXC = re.compile(r"mxc://([A-Za-z0-9.:\[\]-]+)/([A-Za-z0-9_-]+)")
# Authenticated media (Matrix 1.11) first; older homeservers serve only the unauthenticated path.
MEDIA_PATHS = ("/_matrix/client/v1/media/download/{server}/{media_id}",
               "/_matrix/media/v3/download/{server}/{media_id}")


class MatrixError(Exception):
    """The homeserver refused a call or could not be reached (never carries a token)."""

    def __init__(self, what: str, status: int = 0, errcode: str = "") -> None:
        super().__init__(f"{what}: HTTP {status} {errcode}".strip())
        self.status, self.errcode = status, errcode


# the wire format -------------------------------------------------------------------------
def addressed_text(content: dict, bot_user_id: str, bot_names: Iterable[str]) -> tuple[str, bool]:
    """A message's text without the reply fallback and without the bot's name, and whether it
    mentioned the bot (by `m.mentions`, a matrix.to link, its name or its user id)."""
    body = REPLY_FALLBACK.sub("", str(content.get("body") or ""))
    names = sorted({bot_user_id, *(name for name in bot_names if name)}, key=len, reverse=True)
    mentions = content.get("m.mentions") if isinstance(content.get("m.mentions"), dict) else {}
    user_ids = mentions.get("user_ids") if isinstance(mentions.get("user_ids"), list) else []
    mentioned = (bot_user_id in user_ids
                 or f"matrix.to/#/{bot_user_id}" in str(content.get("formatted_body") or "")
                 or any(name in body for name in names))
    for name in names:
        body = re.sub(rf"@?{re.escape(name)}\s*[:：,，]?\s*", " ", body)
    return re.sub(r"\s+", " ", body).strip(), mentioned


def incoming_from(room_id: str, event: dict, bot: "MatrixInput") -> Incoming | None:
    """The core's view of a room event; None for anything that is not a resident's new message."""
    content = event.get("content") if isinstance(event.get("content"), dict) else {}
    relation = content.get("m.relates_to") if isinstance(content.get("m.relates_to"), dict) else {}
    sender, event_id = event.get("sender"), event.get("event_id")
    if (event.get("type") not in ("m.room.message", "m.sticker") or not isinstance(sender, str)
            or not isinstance(event_id, str) or sender == bot.user_id or relation.get("rel_type") == "m.replace"
            or content.get("msgtype") == "m.notice"):  # edits, and other bots' notices
        return None
    kind = "sticker" if event["type"] == "m.sticker" else KINDS.get(str(content.get("msgtype")), "other")
    text, mentioned = addressed_text(content, bot.user_id, bot.names) if kind == "text" else ("", False)
    direct = room_id in bot.direct_rooms
    url = content.get("url")  # an encrypted room's file (content.file) needs keys the bot does not keep
    media = ({"kind": kind, "mxc": url},) if kind in MEDIA_KINDS and isinstance(url, str) and MXC.fullmatch(url) else ()
    return Incoming(platform=PLATFORM, event_id=event_id, user_id=sender, text=text,
                    group_id=None if direct else room_id, display_name=bot.display_names.get((room_id, sender)),
                    kind=kind, mentioned=mentioned, context={"room_id": room_id} if direct else None, media=media)


def mentioning(user_id: str, name: str | None, text: str) -> dict:
    """An `m.notice` to `user_id` in a room: their name first, a pill in the HTML, `m.mentions`."""
    name = name or user_id
    pill = f'<a href="https://matrix.to/#/{html.escape(user_id)}">{html.escape(name)}</a>'
    return {"msgtype": "m.notice", "body": f"{name}: {text}", "format": "org.matrix.custom.html",
            "formatted_body": f"{pill}: " + html.escape(text).replace("\n", "<br>"),
            "m.mentions": {"user_ids": [user_id]}}


def plain(text: str) -> dict:
    return {"msgtype": "m.notice", "body": text, "m.mentions": {}}


def _events(section: Any) -> list[dict]:
    events = section.get("events") if isinstance(section, dict) else None
    return [event for event in events or [] if isinstance(event, dict)]


def _timestamp(event: dict) -> int:
    stamp = event.get("origin_server_ts")
    return stamp if isinstance(stamp, int) else 0


class MatrixInput(InputChannel):
    """A Matrix account as a Rasa channel: the sync loop in, the client-server API out."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> "MatrixInput":
        credentials = required(credentials, PLATFORM, "homeserver", "user_id")
        if not (credentials.get("password") or credentials.get("access_token")):
            raise ValueError("matrix: credentials.yml needs password or access_token")
        return cls(credentials["homeserver"], credentials["user_id"], password=credentials.get("password"),
                   access_token=credentials.get("access_token"),
                   device_id=credentials.get("device_id") or "COMMUNITY_ASSISTANT",
                   display_name=credentials.get("display_name"),
                   keywords=keywords_in(credentials))

    def __init__(self, homeserver: str, user_id: str, password: str | None = None, access_token: str | None = None,
                 device_id: str = "COMMUNITY_ASSISTANT", display_name: str | None = None,
                 keywords: tuple[str, ...] = KEYWORDS) -> None:
        self.homeserver, self.user_id = homeserver.rstrip("/"), user_id
        self.password, self.access_token, self.device_id = password, access_token, device_id
        self.display_name = display_name
        self.chat = RasaGroupChat(platform=PLATFORM, send=self.send, keywords=keywords, fetch=self.fetch_media)
        self.direct: dict[str, list[str]] = {}  # m.direct: user id → their direct rooms with the bot
        self.display_names: dict[tuple[str, str], str] = {}  # (room, user) → display name there
        self._session: aiohttp.ClientSession | None = None
        self._loop_task: asyncio.Task | None = None

    @property
    def names(self) -> set[str]:
        """What residents may call the bot: its display name and its localpart."""
        return {name for name in (self.display_name, self.user_id.split(":")[0].lstrip("@")) if name}

    @property
    def direct_rooms(self) -> set[str]:
        return {room for rooms in self.direct.values() for room in rooms}

    # the sync loop ---------------------------------------------------------------------
    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        matrix = Blueprint("matrix_sync", __name__)
        self.chat.start_with(matrix)

        @matrix.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "stopped" if self.stopped else "ok"}, status=503 if self.stopped else 200)

        @matrix.listener("after_server_start")
        async def start(_app, _loop) -> None:
            self.start(on_new_message)

        @matrix.listener("before_server_stop")
        async def stop(_app, _loop) -> None:
            await self.stop()

        return matrix

    def start(self, on_new_message: OnNewMessage) -> None:
        """Start following the homeserver (in the running event loop)."""
        self._loop_task = asyncio.create_task(self.follow(on_new_message))

    @property
    def stopped(self) -> bool:
        return self._loop_task is None or self._loop_task.done()

    async def follow(self, on_new_message: OnNewMessage) -> None:
        """Sync until cancelled; a failed sync is tried again after a pause, never given up."""
        started_ms, since, failures = int(time.time() * 1000), None, 0
        while True:
            try:
                if not self.access_token:
                    await self.log_in()
                if since is None:
                    await self.introduce()
                answer = await self.sync(since)
                await self.take(answer, on_new_message, None if since is None else started_ms)
                since, failures = answer["next_batch"], 0
            except Exception as error:  # noqa: BLE001 - the homeserver may be restarting: try again
                if isinstance(error, MatrixError) and error.errcode == "M_UNKNOWN_TOKEN" and self.password:
                    self.access_token = None  # logged out elsewhere: log in again
                pause = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                log.warning("matrix: sync failed (%s); again in %s s", error.__class__.__name__, pause)
                failures += 1
                await asyncio.sleep(pause)

    async def stop(self) -> None:
        """Stop syncing (waiting for the loop to end) and close the HTTP session."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def log_in(self) -> None:
        answer = await self._call("POST", "/login", "login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": self.user_id},
            "password": self.password, "device_id": self.device_id,
            "initial_device_display_name": self.display_name or "社区小助手"})
        self.access_token = answer["access_token"]

    async def introduce(self) -> None:
        """Set the configured display name, or learn the one the account has (residents mention it)."""
        path = f"/profile/{quote(self.user_id)}/displayname"
        if self.display_name:
            await self._call("PUT", path, "displayname", {"displayname": self.display_name})
        else:
            self.display_name = (await self._call("GET", path, "displayname")).get("displayname")

    async def sync(self, since: str | None) -> dict:
        """One /sync: the first one returns at once and starts from now; later ones long-poll."""
        query = {"timeout": "0", "filter": FIRST_SYNC} if since is None else {
            "timeout": str(POLL_MS), "since": since, "filter": LATER_SYNCS}
        answer = await self._call("GET", "/sync", "sync", query=query, seconds=POLL_MS / 1000 + 30)
        if not isinstance(answer.get("next_batch"), str):
            raise MatrixError("sync: no next_batch")
        return answer

    async def take(self, answer: dict, on_new_message: OnNewMessage, history_before_ms: int | None) -> None:
        """Act on one sync answer: remember m.direct and names, join invited rooms, and hand new
        messages to the core (none from the first sync; none older than `history_before_ms`)."""
        for event in _events(answer.get("account_data")):
            if event.get("type") == "m.direct" and isinstance(event.get("content"), dict):
                self.direct = {user: list(rooms) for user, rooms in event["content"].items() if isinstance(rooms, list)}
        rooms = answer.get("rooms") if isinstance(answer.get("rooms"), dict) else {}
        for room_id, invited in (rooms.get("invite") or {}).items():
            await self.accept_invitation(room_id, _events(invited.get("invite_state")))
        for room_id, joined in (rooms.get("join") or {}).items():
            timeline = _events(joined.get("timeline"))
            self.remember_names(room_id, _events(joined.get("state")) + timeline)
            if history_before_ms is None:
                continue
            for event in timeline:
                try:
                    incoming = incoming_from(room_id, event, self)
                except MalformedMessage as malformed:  # skipped: refusing it would stop the whole sync
                    log.warning("matrix: a room event refused: %s", malformed)
                    continue
                if incoming and _timestamp(event) >= history_before_ms:
                    await self.chat.accept(incoming, on_new_message)

    def remember_names(self, room_id: str, events: list[dict]) -> None:
        for event in events:
            content = event.get("content") if isinstance(event.get("content"), dict) else {}
            if event.get("type") == "m.room.member" and content.get("displayname"):
                name = clean_name(str(content["displayname"]))  # it goes out in replies' mentions
                self.display_names[(room_id, str(event.get("state_key")))] = name

    async def accept_invitation(self, room_id: str, invite_state: list[dict]) -> None:
        """Join a room the bot was invited to; an invitation to a direct chat is noted in m.direct."""
        try:
            await self._call("POST", f"/join/{quote(room_id)}", "join", {})
        except MatrixError as error:  # withdrawn meanwhile, or the server refuses: the next sync tells
            log.warning("matrix: could not join a room: %s", error)
            return
        mine = [e for e in invite_state if e.get("type") == "m.room.member" and e.get("state_key") == self.user_id]
        if mine and isinstance(mine[0].get("content"), dict) and mine[0]["content"].get("is_direct"):
            await self.note_direct(str(mine[0].get("sender")), room_id)
        log.info("matrix: joined a room on invitation")

    async def note_direct(self, user_id: str, room_id: str) -> None:
        self.direct.setdefault(user_id, []).append(room_id)
        await self._call("PUT", f"/user/{quote(self.user_id)}/account_data/m.direct", "m.direct", self.direct)

    async def fetch_media(self, ref: dict) -> bytes:
        """A file a resident posted, by its `mxc://` URI, from the bot's homeserver."""
        server, media_id = MXC.fullmatch(ref["mxc"]).groups()
        unavailable = None
        for path in MEDIA_PATHS:
            try:
                return await download(self.homeserver + path.format(server=server, media_id=media_id), ref["kind"],
                                      headers={"Authorization": f"Bearer {self.access_token}"})
            except MediaUnavailable as error:
                unavailable = error
        raise unavailable

    # sending ---------------------------------------------------------------------------
    async def send(self, message: OutboxMessage) -> None:
        """Deliver one outbox row: into the group mentioning the resident, or to a direct chat."""
        resident = resident_from(message.recipient)
        if resident.group_id:
            room = resident.group_id
            content = mentioning(resident.user_id, self.display_names.get((room, resident.user_id)), message.text)
        else:
            room = (message.context or {}).get("room_id") or await self.direct_room(resident.user_id)
            content = plain(message.text)
        # one transaction id per outbox row: a retried send is not shown twice
        await self._call("PUT", f"/rooms/{quote(room)}/send/m.room.message/outbox-{message.id}", "send", content)

    async def direct_room(self, user_id: str) -> str:
        """The bot's direct chat with someone, opened (and noted in m.direct) when there is none."""
        if self.direct.get(user_id):
            return self.direct[user_id][-1]
        created = await self._call("POST", "/createRoom", "createRoom", {
            "preset": "trusted_private_chat", "is_direct": True, "invite": [user_id]})
        await self.note_direct(user_id, created["room_id"])
        return created["room_id"]

    async def _call(self, method: str, path: str, what: str, body: dict | None = None, query: dict | None = None,
                    seconds: float = 30) -> dict:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        headers = {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}
        try:
            async with self._session.request(method, self.homeserver + CLIENT_API + path, json=body, params=query,
                                             headers=headers, timeout=aiohttp.ClientTimeout(total=seconds)) as answer:
                result = await answer.json(content_type=None)
                status = answer.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise MatrixError(f"{what}: {error.__class__.__name__}") from None
        if not isinstance(result, dict):
            raise MatrixError(what, status, "not a JSON object")
        if status != 200:
            raise MatrixError(what, status, str(result.get("errcode") or ""))
        return result
