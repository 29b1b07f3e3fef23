"""DingTalk (钉钉): the enterprise internal robot's outgoing callback (企业内部机器人 HTTP 回调).

DingTalk POSTs every one-to-one message and every group message that @-mentions the robot to
`/webhooks/dingtalk/webhook`, as JSON with `timestamp` and `sign` headers. Replies go to the
message's `sessionWebhook` while it lives (about 90 minutes), @-mentioning the resident with
`at.atUserIds`; later replies and notifications to staff go through the robot OpenAPI
(`oToMessages/batchSend` one-to-one, `groupMessages/send` in a group) with an access token.

DingTalk signs only the timestamp, not the body, so a session webhook is trusted only on
DingTalk's own host (`oapi_base`): a replayed header pair cannot make the bot post elsewhere.
"""
import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic.request import Request

from bot.conversations import resident_from
from bot.models import OutboxMessage
from connectors.group_chat import KEYWORDS, Incoming
from connectors.inbound import MalformedMessage, Refusal, clean_name, json_object
from connectors.media_queue import download
from connectors.rasa_chat import RasaGroupChat
from connectors.tokens import CachedToken
from connectors.webhook import WebhookChannel, keywords_in, required

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
API_BASE = "https://api.dingtalk.com"  # the robot OpenAPI (access token, batchSend, groupMessages)
OAPI_BASE = "https://oapi.dingtalk.com"  # where session webhooks live
MAX_SKEW_MS = 60 * 60 * 1000  # DingTalk: a timestamp more than an hour off is not ours
WEBHOOK_MARGIN_MS = 60 * 1000  # a session webhook this close to its expiry counts as expired
GROUP_CHAT = "2"  # conversationType: "1" one-to-one, "2" group
KINDS = {"text": "text", "richText": "text", "picture": "image", "audio": "voice", "video": "video",
         "file": "file"}


class DingTalkError(Exception):
    """DingTalk refused or failed a call; the outbox tries again later."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def signature(timestamp: str, app_secret: str) -> str:
    """base64(HmacSHA256(key=appSecret, msg=timestamp + "\\n" + appSecret)), as DingTalk signs callbacks."""
    digest = hmac.new(app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_signature(timestamp: str, sign: str, app_secret: str, now_ms: int) -> None:
    """Refuse (401) a callback whose headers are not DingTalk's."""
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Refusal(401, "timestamp header missing or not a number")
    if abs(now_ms - int(timestamp)) > MAX_SKEW_MS:
        raise Refusal(401, "timestamp more than an hour off")
    if not hmac.compare_digest(signature(timestamp, app_secret).encode(), sign.encode()):
        raise Refusal(401, "wrong sign")


def now_ms() -> int:
    return int(time.time() * 1000)


def message_text(body: dict) -> tuple[str, str]:
    """(kind, text) of a callback: the text parts of a rich text count as text; the leading space
    DingTalk leaves where the @robot mention was is stripped."""
    msgtype = _text(body, "msgtype") or ""
    if msgtype == "text":
        return "text", _text(body["text"], "content").strip()
    if msgtype == "richText":
        parts = body.get("content", {}).get("richText") or []
        text = "".join(_text(part, "text") for part in parts if isinstance(part, dict) and "text" in part)
        text = text.strip()
        return ("text", text) if text else ("image", "")
    heard = body.get("content", {}).get("recognition") if msgtype == "audio" else None
    if isinstance(heard, str) and heard.strip():  # DingTalk's transcript of a voice message
        return "text", heard.strip()
    return KINDS.get(msgtype, msgtype or "unknown"), ""


def files_of(body: dict) -> tuple[dict, ...]:
    """The photos, voice message, video or file a callback carries, each by its download code
    (a rich text's photos too)."""
    content = body.get("content") if isinstance(body.get("content"), dict) else {}
    msgtype = body.get("msgtype")
    if msgtype == "richText":
        parts = content.get("richText") if isinstance(content.get("richText"), list) else []
        codes = [("image", p.get("downloadCode")) for p in parts if isinstance(p, dict) and p.get("type") == "picture"]
    elif msgtype in ("picture", "audio", "video", "file"):
        codes = [(KINDS[msgtype], content.get("downloadCode") or content.get("pictureDownloadCode"))]
    else:
        codes = []
    return tuple({"kind": kind, "code": code} for kind, code in codes if isinstance(code, str) and code)


def _text(data: dict, key: str) -> str | None:
    """A field DingTalk documents as a string: None when absent, MalformedMessage when not text."""
    value = data.get(key)
    if not isinstance(value, str | None):
        raise MalformedMessage(f"{key} is not text")
    return value


def incoming_from(body: Any, webhook_prefix: str) -> Incoming:
    """The platform-neutral message of a verified callback; MalformedMessage when it is malformed."""
    if not isinstance(body, dict):
        raise MalformedMessage("callback body is not a JSON object")
    try:
        kind, text = message_text(body)
    except (KeyError, TypeError, AttributeError) as error:
        raise MalformedMessage("message content malformed") from error
    staff_id, sender_id = _text(body, "senderStaffId"), _text(body, "senderId")
    user_id, msg_id = staff_id or sender_id, _text(body, "msgId")
    if not msg_id or not user_id:
        raise MalformedMessage("msgId or sender missing")
    in_group = _text(body, "conversationType") == GROUP_CHAT
    group_id, nick = _text(body, "conversationId"), _text(body, "senderNick")
    if in_group and not group_id:
        raise MalformedMessage("conversationId missing in a group message")
    # someone outside the organisation has no staff id: they are @-mentioned by their DingTalk id
    context: dict = {"at": {"atUserIds": [user_id]} if staff_id else {"atDingtalkIds": [user_id]},
                     "senderNick": clean_name(nick) if nick else None}  # it goes out in a mention
    webhook, expires = body.get("sessionWebhook"), body.get("sessionWebhookExpiredTime")
    on_dingtalk = isinstance(webhook, str) and webhook.startswith(webhook_prefix + "?")
    if on_dingtalk and isinstance(expires, int):
        context.update(sessionWebhook=webhook, sessionWebhookExpiredTime=expires)
    elif webhook:
        log.warning("%s: session webhook not on DingTalk's host or without expiry; replying via the OpenAPI",
                    PLATFORM)
    return Incoming(platform=PLATFORM, event_id=msg_id, user_id=user_id, text=text,
                    group_id=group_id if in_group else None, display_name=nick, kind=kind,
                    mentioned=in_group,  # in a group DingTalk only delivers messages that @ the robot
                    context=context, media=files_of(body))


class DingTalkInput(WebhookChannel):
    """The robot's callback webhook and its sender."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> InputChannel:
        credentials = required(credentials, PLATFORM, "app_key", "app_secret")
        return cls(app_key=credentials["app_key"], app_secret=credentials["app_secret"],
                   robot_code=credentials.get("robot_code") or credentials["app_key"],
                   api_base=credentials.get("api_base") or API_BASE,
                   oapi_base=credentials.get("oapi_base") or OAPI_BASE,
                   keywords=keywords_in(credentials))

    def __init__(self, app_key: str, app_secret: str, robot_code: str, api_base: str = API_BASE,
                 oapi_base: str = OAPI_BASE, keywords: tuple[str, ...] = KEYWORDS) -> None:
        self.app_key, self.app_secret, self.robot_code = app_key, app_secret, robot_code
        self.api_base = api_base.rstrip("/")
        self.webhook_prefix = oapi_base.rstrip("/") + "/robot/sendBySession"
        self.chat = RasaGroupChat(platform=PLATFORM, send=self.send, keywords=keywords, fetch=self.fetch_media)
        self.token = CachedToken(self._fetch_token)
        self._http: aiohttp.ClientSession | None = None

    async def fetch_media(self, ref: dict) -> bytes:
        """A file of a message: its download code exchanged for a short-lived URL, then downloaded."""
        answer = await self._call_api("/v1.0/robot/messageFiles/download",
                                      {"downloadCode": ref["code"], "robotCode": self.robot_code})
        if not isinstance(answer.get("downloadUrl"), str):
            raise DingTalkError("messageFiles/download answered without a downloadUrl")
        return await download(answer["downloadUrl"], ref["kind"])

    # receiving -------------------------------------------------------------------------
    def read(self, request: Request) -> Incoming:
        check_signature(request.headers.get("timestamp", ""), request.headers.get("sign", ""), self.app_secret,
                        now_ms())
        return incoming_from(json_object(request.body), self.webhook_prefix)

    # sending ---------------------------------------------------------------------------
    async def send(self, message: OutboxMessage) -> None:
        """Deliver one outbox row: through the live session webhook when there is one, else the OpenAPI."""
        resident = resident_from(message.recipient)
        context = message.context or {}
        if self._session_webhook_alive(context):
            await self._send_by_session(context, message.text, in_group=resident.group_id is not None)
        elif resident.group_id:
            mention = context.get("senderNick") or resident.user_id  # this API cannot @ anyone for real
            await self._call_api("/v1.0/robot/groupMessages/send", {
                "openConversationId": resident.group_id, **self._sample_text(f"@{mention} {message.text}")})
        else:
            answer = await self._call_api("/v1.0/robot/oToMessages/batchSend", {
                "userIds": [resident.user_id], **self._sample_text(message.text)})
            if answer.get("invalidStaffIdList") or answer.get("flowControlledStaffIdList"):
                raise DingTalkError("batchSend refused the recipient (invalid or flow-controlled)")

    def _sample_text(self, content: str) -> dict:
        return {"robotCode": self.robot_code, "msgKey": "sampleText",
                "msgParam": json.dumps({"content": content}, ensure_ascii=False)}

    @staticmethod
    def _session_webhook_alive(context: dict) -> bool:
        expires = context.get("sessionWebhookExpiredTime") or 0
        return bool(context.get("sessionWebhook")) and expires - WEBHOOK_MARGIN_MS > now_ms()

    async def _send_by_session(self, context: dict, text: str, in_group: bool) -> None:
        payload: dict = {"msgtype": "text", "text": {"content": text}}
        if in_group:
            at = context.get("at") or {}
            at_id = next(iter(at.get("atUserIds") or at.get("atDingtalkIds") or []), None)
            if at_id:
                payload = {"msgtype": "text", "text": {"content": f"@{at_id} {text}"}, "at": at}
        answer = await self._post(context["sessionWebhook"], payload)
        if answer.get("errcode", 0) != 0:
            raise DingTalkError(f"session webhook errcode {answer.get('errcode')}")

    async def _call_api(self, path: str, payload: dict) -> dict:
        token = await self.token.get()
        try:
            return await self._post(self.api_base + path, payload, {"x-acs-dingtalk-access-token": token})
        except DingTalkError as error:
            if error.status in (401, 403):  # the token was revoked or expired early: fetch a new one
                self.token.invalidate()
            raise

    async def _fetch_token(self) -> tuple[str, int]:
        answer = await self._post(f"{self.api_base}/v1.0/oauth2/accessToken",
                                  {"appKey": self.app_key, "appSecret": self.app_secret})
        if not answer.get("accessToken"):
            raise DingTalkError("no accessToken in DingTalk's answer")
        return str(answer["accessToken"]), int(answer.get("expireIn") or 7200)

    async def _post(self, url: str, payload: dict, headers: dict | None = None) -> dict:
        """POST JSON and return the JSON answer; DingTalkError on an HTTP error (never the body in logs)."""
        async with self._session().post(url, json=payload, headers=headers) as answer:
            try:
                data = await answer.json(content_type=None)
            except ValueError:
                data = None
            if answer.status >= 300 or not isinstance(data, dict):
                code = data.get("code") if isinstance(data, dict) else None
                where = url.split("?")[0]  # a session webhook's query is its credential
                raise DingTalkError(f"HTTP {answer.status} from {where}" + (f" ({code})" if code else ""),
                                    answer.status)
            return data

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
