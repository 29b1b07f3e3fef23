"""Feishu (飞书 / Lark): a self-built app's event subscription v2, replies through the IM v1 API.

Feishu posts every event to /webhooks/feishu/webhook. With an Encrypt Key set in the app's
加密策略, the body is `{"encrypt": "..."}` (AES-256-CBC, key SHA-256 of the Encrypt Key, the IV
the first 16 bytes of the decoded data, PKCS#7) and the request carries `X-Lark-Signature`:
hex SHA-256 of timestamp + nonce + Encrypt Key + raw body. Every event also names the app's
Verification Token. The one unsigned request is the URL check (`url_verification`), answered
with its challenge once its token is right.

`im.message.receive_v1` brings group (`chat_type` "group") and one-to-one ("p2p") messages;
the bot is @-mentioned when a mention names its open_id (or its name). Replies go to the chat
(`receive_id_type=chat_id`) with an `<at>` of the resident, or to the person (`open_id`).
"""
import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conversations import resident_from
from bot.models import OutboxMessage
from connectors.group_chat import KEYWORDS, Incoming, OnNewMessage
from connectors.inbound import MalformedMessage, Refusal, json_object
from connectors.media_queue import download
from connectors.rasa_chat import RasaGroupChat
from connectors.tokens import CachedToken
from connectors.webhook import WebhookChannel, keywords_in, required

PLATFORM = "feishu"
API_BASE = "https://open.feishu.cn"
MAX_AGE = 3600  # seconds a signed request may be off our clock (older replays are refused)
TOKEN_INVALID = {99991661, 99991663}  # the tenant access token is missing, expired or revoked
KINDS = {"image": "image", "audio": "voice", "file": "file", "sticker": "sticker", "media": "video",
         "post": "post"}  # message_type → what the core calls it; anything but text gets the short reply
MENTION_KEY = re.compile(r"@_user_\d+")
RESOURCE_KEY = re.compile(r"[A-Za-z0-9_-]{1,200}")  # message ids and file keys go into a URL path


# crypto --------------------------------------------------------------------------------
def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """X-Lark-Signature: hex SHA-256 of timestamp + nonce + Encrypt Key + the raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


def decrypt(encrypt_key: str, encrypted: str) -> str:
    """The plaintext of an `encrypt` field; ValueError when it does not decrypt with this key."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (ValueError, TypeError) as error:
        raise ValueError("not base64") from error
    if len(data) < 32 or len(data) % 16:
        raise ValueError("not whole AES blocks after the IV")
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
    padded = decryptor.update(data[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError("not UTF-8") from error


# the wire format -----------------------------------------------------------------------
def incoming_from(event: dict, event_id: str, bot_open_id: str | None, bot_name: str | None) -> Incoming | None:
    """The core's view of an `im.message.receive_v1` event (None when it names no sender)."""
    message = _dict(event.get("message"))
    user_id = _dict(_dict(event.get("sender")).get("sender_id")).get("open_id")
    if not user_id or not isinstance(user_id, str):
        return None
    mentions = message.get("mentions") or []
    if not isinstance(mentions, list):
        raise MalformedMessage("mentions is not a list")
    mentions = [m for m in mentions if isinstance(m, dict)]

    def is_bot(mention: dict) -> bool:
        open_id = _dict(mention.get("id")).get("open_id")
        return bool((bot_open_id and open_id == bot_open_id) or (bot_name and mention.get("name") == bot_name))

    message_type = message.get("message_type")
    if not isinstance(message_type, str):
        raise MalformedMessage("message_type is not text")
    text = ""
    if message_type == "text":  # the bot's own mention goes; other people's read as @name
        spoken = {m["key"]: "" if is_bot(m) else f"@{m.get('name') or ''}" for m in mentions
                  if isinstance(m.get("key"), str)}  # a forged list as key must not break the dict
        text = MENTION_KEY.sub(lambda key: spoken.get(key.group(0), key.group(0)), _text_of(message.get("content")))
    media: tuple = ()
    if message_type in ("image", "audio", "media", "file", "post"):
        text, media = _files_of(message_type, message.get("content"), message.get("message_id"))
    speaker = next((m.get("name") for m in mentions if _dict(m.get("id")).get("open_id") == user_id), None)
    return Incoming(
        platform=PLATFORM, event_id=event_id, user_id=user_id, text=text.strip(),
        group_id=message.get("chat_id") if message.get("chat_type") == "group" else None,
        display_name=speaker if isinstance(speaker, str) else None,
        kind="text" if message_type == "text" or text.strip() else KINDS.get(message_type, message_type),
        mentioned=any(is_bot(m) for m in mentions), media=media)


def _files_of(message_type: str, content: Any, message_id: Any) -> tuple[str, tuple]:
    """(text, media) of a file message or a rich post (富文本: text with photos in it). A file is
    fetched as a resource of its message: `type` image for photos, file for the rest."""
    if not isinstance(content, str) or not isinstance(message_id, str) or not RESOURCE_KEY.fullmatch(message_id):
        return "", ()  # nothing to fetch it by: answered as a sticker is
    body = json_object(content)
    if message_type != "post":
        key = body.get("image_key") if message_type == "image" else body.get("file_key")
        kind = KINDS[message_type]
        return "", _resource(kind, message_id, key, "image" if kind == "image" else "file")
    paragraphs = body.get("content") if isinstance(body.get("content"), list) else []
    elements = [e for line in paragraphs if isinstance(line, list) for e in line if isinstance(e, dict)]
    text = "".join(e["text"] for e in elements if e.get("tag") in ("text", "a") and isinstance(e.get("text"), str))
    photos = [ref for e in elements if e.get("tag") == "img"
              for ref in _resource("image", message_id, e.get("image_key"), "image")]
    return text, tuple(photos)


def _resource(kind: str, message_id: str, key: Any, resource_type: str) -> tuple[dict, ...]:
    if not isinstance(key, str) or not RESOURCE_KEY.fullmatch(key):
        return ()
    return ({"kind": kind, "message_id": message_id, "key": key, "type": resource_type},)


def _text_of(content: Any) -> str:
    """A text message's `content` is itself a JSON string: {"text": "@_user_1 7号楼暖气不热"}."""
    if not isinstance(content, str):
        raise MalformedMessage("content is not a JSON string")
    text = json_object(content).get("text")  # as deep as the event around it may be, no deeper
    if not isinstance(text, str | None):
        raise MalformedMessage("content's text is not text")
    return text or ""


def text_content(text: str, user_id: str | None) -> str:
    """The `content` of a text message, @-mentioning `user_id` when given (in a group)."""
    if user_id:
        text = f'<at user_id="{user_id}"></at> {text}'
    return json.dumps({"text": text}, ensure_ascii=False)


class FeishuInput(WebhookChannel):
    """飞书 self-built app: event subscription v2 in, IM v1 messages out."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> "FeishuInput":
        credentials = required(credentials, PLATFORM, "app_id", "app_secret", "verification_token")
        return cls(credentials["app_id"], credentials["app_secret"], credentials["verification_token"],
                   encrypt_key=credentials.get("encrypt_key") or None,
                   bot_open_id=credentials.get("bot_open_id") or None,
                   bot_name=credentials.get("bot_name") or None,
                   keywords=keywords_in(credentials),
                   api_base=credentials.get("api_base") or API_BASE)

    def __init__(self, app_id: str, app_secret: str, verification_token: str, encrypt_key: str | None = None,
                 bot_open_id: str | None = None, bot_name: str | None = None,
                 keywords: tuple[str, ...] = KEYWORDS, api_base: str = API_BASE) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.verification_token, self.encrypt_key = verification_token, encrypt_key
        self.bot_open_id, self.bot_name = bot_open_id, bot_name
        self.api_base = api_base.rstrip("/")
        self.chat = RasaGroupChat(platform=PLATFORM, send=self.send, keywords=keywords, fetch=self.fetch_media)
        self.token = CachedToken(self._fetch_token)
        self._session: aiohttp.ClientSession | None = None

    # receiving -------------------------------------------------------------------------
    async def take(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse | None:
        """An event, or the URL check (`url_verification`), answered with its challenge."""
        signed = self.check_signature(request.headers, request.body)
        event = self.read_event(request.body)
        header = _dict(event.get("header"))
        self.check_token(header.get("token") if header else event.get("token"))  # v2, or the URL check
        if event.get("type") == "url_verification":
            return response.json({"challenge": event.get("challenge")})
        if self.encrypt_key and not signed:
            raise Refusal(401, "unsigned event")
        if header.get("event_type") == "im.message.receive_v1" and header.get("event_id"):
            incoming = incoming_from(_dict(event.get("event")), header["event_id"], self.bot_open_id, self.bot_name)
            if incoming:
                await self.chat.accept(incoming, on_new_message)
        return None

    def check_signature(self, headers: Any, body: bytes) -> bool:
        """True for a request signed with our Encrypt Key within the last hour; False when it
        carries no signature (only the URL check may); `Refusal` for a wrong or stale one."""
        given = headers.get("X-Lark-Signature")
        if not self.encrypt_key or not given:
            return False
        timestamp, nonce = headers.get("X-Lark-Request-Timestamp", ""), headers.get("X-Lark-Request-Nonce", "")
        expected = signature(timestamp, nonce, self.encrypt_key, body)
        if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            raise Refusal(401, "wrong signature")
        try:
            fresh = abs(time.time() - int(timestamp)) <= MAX_AGE
        except ValueError:
            fresh = False
        if not fresh:
            raise Refusal(401, "timestamp out of window")
        return True

    def read_event(self, body: bytes) -> dict:
        """The event as a dict: parsed, and decrypted when it came encrypted."""
        event = json_object(body)
        if "encrypt" in event:
            if not self.encrypt_key:
                raise Refusal(400, "encrypted event but no encrypt_key configured")
            try:
                plaintext = decrypt(self.encrypt_key, event["encrypt"])
            except (ValueError, TypeError):
                raise Refusal(400, "does not decrypt") from None
            event = json_object(plaintext)
        return event

    def check_token(self, token: Any) -> None:
        if not isinstance(token, str) or not hmac.compare_digest(
                token.encode("utf-8", "surrogatepass"), self.verification_token.encode()):  # JSON may hold a lone one
            raise Refusal(401, "wrong verification token")

    # sending ---------------------------------------------------------------------------
    async def send(self, message: OutboxMessage) -> None:
        """Deliver one outbox row: to the group with an <at> of the resident, or to the person."""
        resident = resident_from(message.recipient)
        if resident.group_id:
            receive_id_type, receive_id = "chat_id", resident.group_id
        else:
            receive_id_type, receive_id = "open_id", resident.user_id
        body = {"receive_id": receive_id, "msg_type": "text",
                "content": text_content(message.text, resident.user_id if resident.group_id else None),
                "uuid": f"outbox-{message.id}"}  # Feishu sends one message per uuid within an hour
        await self._call("/open-apis/im/v1/messages", {"receive_id_type": receive_id_type}, body)

    async def _call(self, path: str, query: dict, body: dict) -> dict:
        """An authorised API call; a token Feishu no longer accepts is fetched again, once."""
        status, answer = await self._post(path, query, body, await self._authorisation())
        if answer.get("code") in TOKEN_INVALID:
            self.token.invalidate()
            status, answer = await self._post(path, query, body, await self._authorisation())
        if status != 200 or answer.get("code") != 0:
            raise RuntimeError(f"feishu {path} answered {status}, code {answer.get('code')}: {answer.get('msg')}")
        return answer

    async def fetch_media(self, ref: dict) -> bytes:
        """A photo, voice message (Opus), video or file of a message: its message resource."""
        return await download(f"{self.api_base}/open-apis/im/v1/messages/{ref['message_id']}/resources/{ref['key']}",
                              ref["kind"], params={"type": ref["type"]}, headers=await self._authorisation())

    async def _authorisation(self) -> dict:
        return {"Authorization": f"Bearer {await self.token.get()}"}

    async def _fetch_token(self) -> tuple[str, int]:
        status, answer = await self._post(
            "/open-apis/auth/v3/tenant_access_token/internal", {},
            {"app_id": self.app_id, "app_secret": self.app_secret}, {})
        if status != 200 or answer.get("code") != 0 or not answer.get("tenant_access_token"):
            raise RuntimeError(f"feishu tenant_access_token answered {status}, code {answer.get('code')}")
        return answer["tenant_access_token"], int(answer.get("expire") or 0)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, query: dict, body: dict, headers: dict) -> tuple[int, dict]:
        """(HTTP status, JSON answer); Feishu explains errors in the JSON, also on a 4xx."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self._session.post(self.api_base + path, params=query, json=body, headers=headers) as answer:
            try:
                parsed = await answer.json(content_type=None)
            except ValueError:
                parsed = None
            return answer.status, parsed if isinstance(parsed, dict) else {}


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}
