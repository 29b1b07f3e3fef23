"""OneBot v11: QQ groups through NapCat, Lagrange or go-cqhttp, and the bridges that speak it.

The OneBot implementation POSTs every event to /webhooks/onebot/webhook (its HTTP POST
reporting, 上报). With a `secret` set on both sides the request carries
`X-Signature: sha1=<hex HMAC-SHA1(secret, body)>`; `X-Self-ID` names the bot's own QQ number.
`post_type: message` brings group (`message_type` "group") and private messages; the message
is an array of segments or a string with CQ codes (`[CQ:at,qq=10001]`, `&#91;` for `[` …).
The bot is addressed by an `at` segment naming it. Replies go through the implementation's HTTP
API (`send_group_msg` with an `at` of the resident, `send_private_msg`), with a Bearer
`access_token` when one is set.

The webhook, its size limit and its refusals are `connectors/webhook.py`'s; dedup, trigger,
masking and the outbox the group-chat core's (`connectors/group_chat.py`).
"""
import asyncio
import hashlib
import hmac
import re
from typing import Any

import aiohttp
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conversations import resident_from
from bot.models import OutboxMessage
from connectors.group_chat import KEYWORDS, Incoming
from connectors.inbound import MalformedMessage, Refusal, json_object
from connectors.media_queue import download
from connectors.rasa_chat import RasaGroupChat
from connectors.webhook import WebhookChannel, keywords_in, required

PLATFORM = "onebot"
TIMEOUT = aiohttp.ClientTimeout(total=10)
CQ_CODE = re.compile(r"\[CQ:([A-Za-z0-9_.-]+)((?:,[A-Za-z0-9_.-]+=[^,\]]*)*),?\]")
KINDS = {"image": "image", "record": "voice", "video": "video", "file": "file", "face": "sticker",
         "mface": "sticker", "dice": "sticker", "rps": "sticker"}  # segment type → what the core calls it
QUIET = {"reply", "forward", "json", "xml"}  # segments that carry no text of their own
ACCEPTED = {("ok", 0), ("async", 1)}  # an API answer's (status, retcode) that means "sent"


class OneBotError(Exception):
    """The OneBot API refused a call or could not be reached (never carries the access token)."""


# CQ codes --------------------------------------------------------------------------------
def unescape(text: str) -> str:
    """CQ-code escaping undone: &#44; , &#91; [ &#93; ] and, last, &amp; &."""
    return text.replace("&#44;", ",").replace("&#91;", "[").replace("&#93;", "]").replace("&amp;", "&")


def parsed_cq(message: str) -> list[dict]:
    """A CQ-code string as the segment array it stands for."""
    segments, start = [], 0
    for code in CQ_CODE.finditer(message):
        if code.start() > start:
            segments.append({"type": "text", "data": {"text": unescape(message[start:code.start()])}})
        data = dict(pair.split("=", 1) for pair in code.group(2).split(",") if pair)
        segments.append({"type": code.group(1), "data": {key: unescape(value) for key, value in data.items()}})
        start = code.end()
    if start < len(message):
        segments.append({"type": "text", "data": {"text": unescape(message[start:])}})
    return segments


def segments_of(message: Any) -> list[dict]:
    """The message's segments, whichever of the two formats it came in."""
    if isinstance(message, str):
        return parsed_cq(message)
    if not isinstance(message, list):
        raise Refusal(400, "message is neither a segment array nor a string")
    return [{"type": str(s.get("type")), "data": s.get("data") if isinstance(s.get("data"), dict) else {}}
            for s in message if isinstance(s, dict)]


# the wire format -------------------------------------------------------------------------
def incoming_from(event: dict, self_id: str) -> Incoming | None:
    """The core's view of a `post_type: message` event (None for notices, requests, heartbeats)."""
    if event.get("post_type") != "message":
        return None
    message_type, user_id, message_id = event.get("message_type"), _id(event, "user_id"), _id(event, "message_id")
    if message_type not in ("group", "private") or user_id is None or message_id is None:
        raise Refusal(400, "message without message_type, user_id or message_id")
    group_id = _id(event, "group_id") if message_type == "group" else None
    if message_type == "group" and group_id is None:
        raise Refusal(400, "group message without group_id")
    segments = segments_of(event.get("message"))
    text, kinds, media, mentioned = [], [], [], False
    for segment in segments:
        kind, data = segment["type"], segment["data"]
        if kind == "text":
            text.append(_text(data))
        elif kind == "at" and str(data.get("qq")) == self_id:
            mentioned = True
        elif kind == "at":  # someone else: kept as residents read it
            text.append("@全体成员" if data.get("qq") == "all" else f"@{data.get('name') or data.get('qq')}")
        elif kind not in QUIET:
            kinds.append(KINDS.get(kind, kind))
            if kind in ("image", "record", "video") and isinstance(data.get("url"), str) and data["url"]:
                media.append({"kind": KINDS[kind], "url": data["url"]})  # the implementation's copy, served over HTTP
    spoken = "".join(text).strip()
    sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
    return Incoming(platform=PLATFORM, event_id=f"{self_id}:{message_id}", user_id=user_id, text=spoken,
                    group_id=group_id, display_name=sender.get("card") or sender.get("nickname") or None,
                    kind="text" if spoken or not kinds else kinds[0], mentioned=mentioned, media=tuple(media))


def _id(event: dict, key: str) -> str | None:
    """An id as text: OneBot's are integers, a bridge's may be strings; anything else (true, a
    list, a number with a fraction) is malformed. None when absent."""
    value = event.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise MalformedMessage(f"{key} is neither a number nor text")


def _text(data: dict) -> str:
    """A text segment's text, which must be text."""
    text = data.get("text", "")
    if not isinstance(text, str):
        raise MalformedMessage("a text segment's text is not text")
    return text


def signature(secret: str, body: bytes) -> str:
    """X-Signature: `sha1=` and the hex HMAC-SHA1 of the raw body under the shared secret."""
    return "sha1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def _number(qq: str) -> int | str:
    """QQ numbers are integers in the API; a bridge's non-numeric id is passed through as is."""
    return int(qq) if qq.isdigit() else qq


class OneBotInput(WebhookChannel):
    """OneBot v11: HTTP POST reporting in, the HTTP API out."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> "OneBotInput":
        credentials = required(credentials, PLATFORM, "api_base")  # the OneBot HTTP API, e.g. http://127.0.0.1:3000
        return cls(credentials["api_base"], access_token=credentials.get("access_token") or None,
                   secret=credentials.get("secret") or None,
                   self_id=str(credentials["self_id"]) if credentials.get("self_id") else None,
                   keywords=keywords_in(credentials))

    def __init__(self, api_base: str, access_token: str | None = None, secret: str | None = None,
                 self_id: str | None = None, keywords: tuple[str, ...] = KEYWORDS) -> None:
        self.api_base, self.access_token = api_base.rstrip("/"), access_token
        self.secret, self.self_id = secret, self_id
        self.chat = RasaGroupChat(platform=PLATFORM, send=self.send, keywords=keywords,
                                  fetch=lambda ref: download(ref["url"], ref["kind"]))
        self._session: aiohttp.ClientSession | None = None

    # receiving -------------------------------------------------------------------------
    def read(self, request: Request) -> Incoming | None:
        self.check_signature(request.headers.get("X-Signature"), request.body)
        event = json_object(request.body)
        return incoming_from(event, self.reporting_bot(request.headers.get("X-Self-ID"), event))

    def received(self) -> HTTPResponse:
        return response.empty()  # 204: no quick operation, the reply goes through the API

    def check_signature(self, given: str | None, body: bytes) -> None:
        """With a secret set, the body must come signed with it."""
        if not self.secret:
            return
        if not given:
            raise Refusal(401, "unsigned event")
        if not hmac.compare_digest(signature(self.secret, body).encode(), given.encode("utf-8", "replace")):
            raise Refusal(401, "wrong signature")

    def reporting_bot(self, header: str | None, event: dict) -> str:
        """The QQ number of the bot that reported the event: X-Self-ID, which the body must agree with."""
        self_id = str(header or event.get("self_id") or "")
        if not self_id or str(event.get("self_id", self_id)) != self_id:
            raise Refusal(400, "X-Self-ID missing or not the event's self_id")
        if self.self_id and self_id != self.self_id:
            raise Refusal(403, "an event of another bot account")
        return self_id

    # sending ---------------------------------------------------------------------------
    async def send(self, message: OutboxMessage) -> None:
        """Deliver one outbox row: to the group @-mentioning the resident, or to the person."""
        resident = resident_from(message.recipient)
        if resident.group_id:
            await self._call("send_group_msg", {"group_id": _number(resident.group_id), "message": [
                {"type": "at", "data": {"qq": resident.user_id}},
                {"type": "text", "data": {"text": " " + message.text}}]})
        else:
            await self._call("send_private_msg", {"user_id": _number(resident.user_id), "message": [
                {"type": "text", "data": {"text": message.text}}]})

    async def _call(self, action: str, body: dict) -> dict:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        headers = {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}
        try:
            async with self._session.post(f"{self.api_base}/{action}", json=body, headers=headers) as answer:
                if answer.status != 200:
                    raise OneBotError(f"{action}: HTTP {answer.status}")
                result = await answer.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise OneBotError(f"{action}: {error.__class__.__name__}") from None
        if not isinstance(result, dict) or (result.get("status"), result.get("retcode")) not in ACCEPTED:
            outcome = result if not isinstance(result, dict) else (result.get("retcode"), result.get("wording")
                                                                   or result.get("msg"))
            raise OneBotError(f"{action}: refused {outcome}")
        return result

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
