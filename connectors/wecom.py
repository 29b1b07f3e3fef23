"""WeCom (企业微信): two Rasa channels and the one sender behind both.

- `WeComInput` ("wecom", /webhooks/wecom/webhook): the self-built application's callback
  (自建应用接收消息): the GET URL check and encrypted XML POSTs. Replies go through the
  application message API: 应用消息 (`message/send`) one-to-one, 群聊会话 (`appchat/send`) in a group.
- `WeComBotInput` ("wecom_bot", /webhooks/wecom_bot/webhook): the 智能机器人 (AI bot) JSON
  callback used in group chats. Replies go to the callback's `response_url`.

Both channels speak for the same WeCom members, groups and staff, so both use the platform
name "wecom": sender ids `wecom:<chat id>:<user id>`, and the org file's `groups` and staff
`ids: {wecom: …}` serve both. One `WeComSender` per process sends every "wecom" outbox row,
whichever channel's delivery loop takes it: to the row's `response_url` when it came from the AI
bot, otherwise through the application.

WeCom's crypto is in `connectors/wecom_crypto.py`; the webhook, the size limit and the refusals
are `connectors/webhook.py`'s; dedup, trigger, masking and the outbox the group-chat core's
(`connectors/group_chat.py`).
"""
import re
import time
from dataclasses import dataclass
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from rasa.core.channels.channel import InputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conversations import Resident, resident_from
from bot.models import OutboxMessage
from connectors.group_chat import KEYWORDS, Incoming
from connectors.inbound import MalformedMessage, Refusal, json_object
from connectors.media_queue import download, media_get
from connectors.rasa_chat import RasaGroupChat
from connectors.tencent_api import TencentApi, TencentError
from connectors.tokens import CachedToken
from connectors.webhook import WebhookChannel, keywords_in, required
from connectors.wecom_crypto import BadCiphertext, BadSignature, WrongReceiveId, WXBizMsgCrypt

PLATFORM = "wecom"
API_BASE = "https://qyapi.weixin.qq.com"
CALLBACK_WINDOW = 300  # seconds a callback's timestamp may be off our clock
LEADING_MENTION = re.compile(r"^\s*@\S+\s*")
MEDIA_KINDS = {"image": "image", "voice": "voice", "video": "video", "file": "file"}  # MsgType → 随手拍's kind


class WeComError(TencentError):
    """WeCom refused a call or could not be reached. Never carries a URL: WeCom's hold tokens."""


# sending ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Application:
    """A self-built application's credentials (自建应用): corp id, secret and agent id."""
    corp_id: str
    secret: str
    agent_id: int
    api_base: str = API_BASE


class WeComSender(TencentApi):
    """Delivers one "wecom" outbox row, raising on any failure so the outbox retries it.

    A row with a `response_url` (an AI-bot conversation) is answered there, as markdown with a
    `<@userid>` mention in a group. Any other row goes through the application, if one is
    configured: `appchat/send` to a group (text cannot carry a structured mention, so it starts
    with `@<user id> `; WeCom's callbacks carry no display names) or `message/send` to one
    member. Without an application such a row cannot be sent and stays in the outbox."""
    error = WeComError

    def __init__(self) -> None:
        super().__init__()
        self._application: Application | None = None

    def use_application(self, application: Application) -> None:
        self._application = application
        self._token = CachedToken(self._fetch_token)

    async def send(self, message: OutboxMessage) -> None:
        resident = resident_from(message.recipient)
        response_url = (message.context or {}).get("response_url")
        if response_url:
            await self._answer_bot(response_url, resident, message.text)
        elif self._application:
            await self._send_by_application(resident, message.text)
        else:
            raise WeComError("no response_url and no application configured to send it")

    async def _answer_bot(self, response_url: str, resident: Resident, text: str) -> None:
        content = f"<@{resident.user_id}> {text}" if resident.group_id else text
        answer = await self._call("POST", response_url, "aibot response",
                                  json={"msgtype": "markdown", "markdown": {"content": content}})
        self._check(answer, "aibot response")

    async def _send_by_application(self, resident: Resident, text: str) -> None:
        app = self._application
        if resident.group_id:
            path = "/cgi-bin/appchat/send"
            body = {"chatid": resident.group_id, "msgtype": "text", "text": {"content": f"@{resident.user_id} {text}"}}
        else:
            path = "/cgi-bin/message/send"
            body = {"touser": resident.user_id, "msgtype": "text", "agentid": app.agent_id, "text": {"content": text}}
        await self.post_with_token(app.api_base + path, path, body)

    async def _fetch_token(self) -> tuple[str, int]:
        app = self._application
        answer = await self._call("GET", app.api_base + "/cgi-bin/gettoken", "gettoken",
                                  params={"corpid": app.corp_id, "corpsecret": app.secret})
        self._check(answer, "gettoken")
        if not answer.get("access_token"):
            raise WeComError("gettoken: no access_token in the answer")
        return answer["access_token"], int(answer.get("expires_in", 7200))


# Both channels send through this one sender, so a row goes out the same way whichever
# channel's delivery loop takes it (an AI-bot-only setup has no application to send with).
SENDER = WeComSender()


# receiving ----------------------------------------------------------------------------------
def decrypted_callback(crypt: WXBizMsgCrypt, request: Request, encrypted: str | None) -> bytes:
    """A callback's decrypted content, after the timestamp window and the signature."""
    msg_signature, timestamp, nonce = (request.args.get(name) for name in ("msg_signature", "timestamp", "nonce"))
    if not (msg_signature and timestamp and nonce):
        raise Refusal(401, "msg_signature, timestamp or nonce missing")
    check_timestamp(timestamp)
    if not encrypted:
        raise Refusal(400, "nothing encrypted in the callback")
    try:
        return crypt.decrypt_message(msg_signature, timestamp, nonce, encrypted)
    except BadSignature:
        raise Refusal(401, "wrong msg_signature") from None
    except WrongReceiveId:
        raise Refusal(403, "encrypted for another receive id") from None
    except BadCiphertext as error:
        raise Refusal(400, f"cannot decrypt: {error}") from None


def check_timestamp(timestamp: str) -> None:
    """A signed callback is taken within `CALLBACK_WINDOW` of its timestamp: an older one is a replay."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > CALLBACK_WINDOW:
        raise Refusal(401, "timestamp outside the accepted window")


def verified_echo(crypt: WXBizMsgCrypt, request: Request) -> HTTPResponse:
    """The GET URL check (验证URL有效性): answer the decrypted echostr as plain text."""
    try:
        return response.text(decrypted_callback(crypt, request, request.args.get("echostr")).decode())
    except UnicodeDecodeError:
        raise Refusal(400, "echostr is not text") from None


def parsed_xml(raw: bytes):
    """XML with no DTD, no entities, no external references (defusedxml refuses them)."""
    try:
        return fromstring(raw, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as error:
        raise Refusal(400, f"unreadable XML ({error.__class__.__name__})") from None


class WeComCallback(WebhookChannel):
    """What Tencent's callbacks share (both WeCom callbacks, and the Official Account and 微信客服,
    which follow WeCom's scheme): the GET URL check, the answer Tencent waits for, one sender."""
    crypt: WXBizMsgCrypt
    sender: TencentApi
    methods = ("GET", "POST")
    answer_later = ""  # WeCom wants an empty answer when the reply comes later

    def verify_url(self, request: Request) -> HTTPResponse:
        return verified_echo(self.crypt, request)

    def received(self) -> HTTPResponse:
        return response.text(self.answer_later)

    async def close(self) -> None:
        await self.sender.close()


class WeComInput(WeComCallback):
    """The self-built application's callback (自建应用): encrypted XML."""

    @classmethod
    def name(cls) -> str:
        return "wecom"

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> InputChannel:
        credentials = required(credentials, cls.name(), "token", "encoding_aes_key", "corp_id", "secret", "agent_id")
        return cls(credentials["token"], credentials["encoding_aes_key"],
                   Application(credentials["corp_id"], credentials["secret"], int(credentials["agent_id"]),
                               credentials.get("api_base", API_BASE).rstrip("/")),
                   keywords_in(credentials))

    def __init__(self, token: str, encoding_aes_key: str, application: Application,
                 keywords: tuple[str, ...] = KEYWORDS, sender: WeComSender | None = None) -> None:
        self.crypt = WXBizMsgCrypt(token, encoding_aes_key, application.corp_id)
        self.sender = sender or SENDER
        self.sender.use_application(application)
        self.chat = RasaGroupChat(platform=PLATFORM, send=self.sender.send, keywords=keywords,
                                  fetch=lambda ref: fetch_media(self.sender, ref))

    def read(self, request: Request) -> Incoming | None:
        envelope = parsed_xml(request.body)
        return self.incoming(parsed_xml(decrypted_callback(self.crypt, request, envelope.findtext("Encrypt"))))

    @staticmethod
    def incoming(message) -> Incoming | None:
        """A decrypted message (XML) as the core's `Incoming`; None for events (enter_agent …)."""
        kind = message.findtext("MsgType") or ""
        if kind == "event":
            return None
        user_id = message.findtext("FromUserName")
        if not user_id or not kind:
            raise Refusal(400, "message without sender or type")
        # MsgId is a message's id; WeCom's advice for anything without one is sender + time
        event_id = message.findtext("MsgId") or f"{user_id}:{message.findtext('CreateTime')}"
        text = (message.findtext("Content") or "") if kind == "text" else ""
        media_id = message.findtext("MediaId")
        return Incoming(platform=PLATFORM, event_id=event_id, user_id=user_id, text=text,
                        group_id=message.findtext("ChatId") or None, kind=kind,
                        media=({"kind": MEDIA_KINDS[kind], "media_id": media_id},)
                        if media_id and kind in MEDIA_KINDS else ())


class WeComBotInput(WeComCallback):
    """The 智能机器人 (AI bot) callback: JSON, the same crypto with an empty receive id.

    WeCom calls it when a member @-mentions the bot in a group or writes to it one-to-one. Its
    `response_url` answers that message once, within an hour; it must lie under `api_base`."""

    @classmethod
    def name(cls) -> str:
        return "wecom_bot"

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> InputChannel:
        credentials = required(credentials, cls.name(), "token", "encoding_aes_key")
        return cls(credentials["token"], credentials["encoding_aes_key"],
                   credentials.get("api_base", API_BASE).rstrip("/"), credentials.get("bot_name"),
                   keywords_in(credentials))

    def __init__(self, token: str, encoding_aes_key: str, api_base: str = API_BASE, bot_name: str | None = None,
                 keywords: tuple[str, ...] = KEYWORDS, sender: WeComSender | None = None) -> None:
        self.crypt = WXBizMsgCrypt(token, encoding_aes_key, "")
        self.api_base, self.bot_name = api_base, bot_name
        self.sender = sender or SENDER
        self.chat = RasaGroupChat(platform=PLATFORM, send=self.sender.send, keywords=keywords,
                                  single_use_replies=True,  # a response_url answers once
                                  fetch=lambda ref: fetch_media(self.sender, ref))
        _AI_BOT["crypt"] = self.crypt

    def read(self, request: Request) -> Incoming | None:
        encrypted = json_object(request.body).get("encrypt")
        if not isinstance(encrypted, str) or not encrypted.isascii():  # base64, and signed as bytes
            raise Refusal(400, "no encrypt field")
        return self.incoming(json_object(decrypted_callback(self.crypt, request, encrypted)))

    def incoming(self, message: dict) -> Incoming | None:
        """A decrypted callback as the core's `Incoming`; None for events and stream refreshes."""
        kind = message.get("msgtype")
        if kind in ("event", "stream"):
            return None
        user_id, msgid = _get(message, "from", "userid"), message.get("msgid")
        if not all(isinstance(value, str) and value for value in (user_id, msgid, kind)):
            raise Refusal(400, "message without id, sender or type")
        response_url = message.get("response_url")
        if response_url is not None and (not isinstance(response_url, str)
                                         or not response_url.startswith(self.api_base + "/")):
            raise Refusal(400, "response_url is not under api_base")
        in_group = message.get("chattype") == "group"
        text = self.without_mention(_text_of(message)) if in_group else _text_of(message)
        return Incoming(platform=PLATFORM, event_id=f"aibot:{msgid}", user_id=user_id, text=text,
                        group_id=(message.get("chatid") or None) if in_group else None,
                        kind="text" if text or kind == "text" else kind,
                        mentioned=in_group,  # WeCom calls the bot from a group only when it is @-mentioned
                        context={"response_url": response_url} if response_url else None,
                        media=_bot_media(message))

    def without_mention(self, text: str) -> str:
        if self.bot_name:
            return text.replace(f"@{self.bot_name}", "", 1).strip()
        return LEADING_MENTION.sub("", text, count=1).strip()


def _get(data: Any, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _text_of(message: dict) -> str:
    """The text of a text message, or the text parts of a mixed (图文混排) one: `content` is a
    string and `msg_item` a list, anything else is malformed."""
    if message.get("msgtype") == "text":
        return _content(message)
    if message.get("msgtype") == "voice":  # WeCom sends the AI bot what was said, as text
        return _content({"text": message.get("voice")})
    if message.get("msgtype") == "mixed":
        items = _get(message, "mixed", "msg_item")
        if not isinstance(items, list):
            raise MalformedMessage("mixed.msg_item is not a list")
        return " ".join(_content(item) for item in items if _get(item, "msgtype") == "text").strip()
    return ""


def _bot_media(message: dict) -> tuple[dict, ...]:
    """The images of an AI-bot message (alone, or in a 图文混排 one): URLs to files encrypted
    with the callback's key. Its voice messages arrive as WeCom's transcript (`_text_of`)."""
    parts = [message] if message.get("msgtype") == "image" else _get(message, "mixed", "msg_item") or []
    urls = [_get(part, "image", "url") for part in parts if _get(part, "msgtype") == "image"]
    return tuple({"kind": "image", "url": url} for url in urls if isinstance(url, str) and url)


_AI_BOT: dict[str, WXBizMsgCrypt] = {}  # the AI bot's key, once its channel is made: its images need it


async def fetch_media(sender: WeComSender, ref: dict) -> bytes:
    """A file a member sent, whichever "wecom" channel's fetch loop takes it (both loops take
    every "wecom" row): by its MediaId through the application (`media/get`), or an AI-bot
    message's image from its URL, decrypted with the AI bot's key."""
    if "media_id" in ref:
        if sender._application is None:
            raise WeComError("a MediaId but no application configured to fetch it")
        return await media_get(sender._application.api_base, await sender._token.get(), ref["media_id"],
                               ref["kind"])
    if "crypt" not in _AI_BOT:
        raise WeComError("an AI-bot file but no AI bot configured to decrypt it")
    try:
        return _AI_BOT["crypt"].decrypt_file(await download(ref["url"], ref["kind"]))
    except BadCiphertext:
        raise WeComError("the AI bot's file does not decrypt with its key") from None


def _content(part: Any) -> str:
    content = _get(part, "text", "content")
    if not isinstance(content, str | None):
        raise MalformedMessage("text.content is not text")
    return content or ""
