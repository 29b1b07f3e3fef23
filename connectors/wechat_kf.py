"""微信客服 (WeChat customer service, through WeCom's API): a link or QR code a street office posts
in its WeChat groups opens a one-to-one chat with the office, in personal WeChat.

WeCom calls /webhooks/wechat_kf/webhook with WeCom's callback crypto (the corp id as receive id,
`connectors/wecom_crypto.py`). The callback brings no message, only `kf_msg_or_event` with a
`Token` and the 客服账号 (`OpenKfId`): the messages are then read with `kf/sync_msg` from a cursor
kept in the database (`connectors.inbox.cursor`), which moves on once they are recorded, so a
restart reads on from there and the inbox's dedup by `msgid` keeps anything read twice from being
answered twice. Replies go out with `kf/send_msg`; the welcome of `enter_session` (which asks for
the compound) with `kf/send_msg_on_event` and the event's `welcome_code`. Photos, voice messages,
videos and files are 随手拍's (`connectors/media_queue.py`), fetched by their `media_id` with
WeCom's `media/get` and the 微信客服 access token. Every customer writes one-to-one:
`wechat_kf:dm:<external_userid>`.
"""
import asyncio
import logging
import time
from datetime import timedelta

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint
from sanic.request import Request
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.conversations import resident_from
from bot.db import OUTAGES, shared_engine
from bot.models import OutboxMessage
from bot.notifier import last_context
from bot.replies import WELCOME
from connectors import inbox
from connectors.group_chat import Incoming, OnNewMessage
from connectors.inbound import MalformedMessage, Refusal, checked_id
from connectors.rasa_chat import RasaGroupChat
from connectors.webhook import required
from connectors.wecom import (API_BASE, MEDIA_KINDS, Application, WeComCallback, WeComError, WeComSender,
                              decrypted_callback, fetch_media, parsed_xml)
from connectors.wecom_crypto import WXBizMsgCrypt

log = logging.getLogger(__name__)

PLATFORM = "wechat_kf"
FROM_CUSTOMER, SYSTEM_EVENT = 3, 4  # a message's `origin` in kf/sync_msg (5: staff in the WeCom client)
# 微信客服 takes replies within 48 hours of the customer's message: older ones (the first read
# without a cursor goes 3 days back) are not answered.
REPLY_WINDOW = timedelta(hours=48)
BATCH = 1000  # messages per kf/sync_msg call, the most it gives
# WeChat's voice button turns speech into text before sending (按住说话, then 转文字); 微信客服
# brings voice messages as audio only (kept for staff, `connectors/media_queue.py`).
VOICE_AS_TEXT = ("抱歉，我只能看懂文字，语音还听不了。请打字告诉我；不方便打字的话，按住“按住说话”说完，"
                 "手指移到“转文字”，文字出来后再发送给我。")
KINDS = {"voice": "voice", "image": "image", "video": "video", "file": "file", "location": "location",
         "link": "link", "business_card": "card", "miniprogram": "miniprogram", "channels": "video"}


class WeChatKfSender(WeComSender):
    """Sends one "wechat_kf" outbox row, and reads the message stream. The 客服账号 comes with the
    row (`open_kfid`); a ticket's news, queued elsewhere, goes to the one the resident wrote to last."""

    async def send(self, message: OutboxMessage) -> None:
        context = message.context or await asyncio.to_thread(_last_context, message.recipient) or {}
        open_kfid = context.get("open_kfid")
        if not open_kfid:
            raise WeComError("no 客服账号 (open_kfid) known for this customer")
        text = {"msgtype": "text", "text": {"content": message.text}}
        if context.get("welcome_code"):
            if await self._welcome(context["welcome_code"], text):
                return
        base = self._application.api_base
        try:
            await self.post_with_token(base + "/cgi-bin/kf/send_msg", "kf/send_msg",
                                       {"touser": resident_from(message.recipient).user_id, "open_kfid": open_kfid,
                                        **text})
        except WeComError as error:
            if context.get("welcome_code") and error.errcode is not None:
                log.warning("wechat_kf: a welcome could not be sent (%s); dropped", error)
                return  # a welcome late is no welcome: never hold the customer's answers behind it
            raise

    async def _welcome(self, code: str, text: dict) -> bool:
        """The welcome through the event's code (one use, 20 seconds); False once the code is spent."""
        try:
            await self.post_with_token(self._application.api_base + "/cgi-bin/kf/send_msg_on_event",
                                       "kf/send_msg_on_event", {"code": code, **text})
        except WeComError as error:
            if error.errcode is None:
                raise  # WeCom not reached: tried again
            return False
        return True

    async def sync(self, open_kfid: str, cursor: str | None, token: str | None) -> dict:
        body = {"open_kfid": open_kfid, "limit": BATCH, **({"cursor": cursor} if cursor else {}),
                **({"token": token} if token else {})}
        return await self.post_with_token(self._application.api_base + "/cgi-bin/kf/sync_msg", "kf/sync_msg", body)


def _last_context(recipient: str) -> dict | None:
    with Session(shared_engine(), future=True) as session:
        return last_context(session, recipient)


class WeChatKfInput(WeComCallback):
    """The 微信客服 callback: a signal to read the 客服账号's messages."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> InputChannel:
        credentials = required(credentials, PLATFORM, "corp_id", "secret", "token", "encoding_aes_key")
        return cls(credentials["token"], credentials["encoding_aes_key"],
                   Application(credentials["corp_id"], credentials["secret"], 0,
                               credentials.get("api_base", API_BASE).rstrip("/")))

    def __init__(self, token: str, encoding_aes_key: str, application: Application,
                 sender: WeChatKfSender | None = None) -> None:
        self.crypt = WXBizMsgCrypt(token, encoding_aes_key, application.corp_id)
        self.sender = sender or WeChatKfSender()
        self.sender.use_application(application)
        self.chat = RasaGroupChat(platform=PLATFORM, send=self.sender.send,
                                  not_text_replies={"voice": VOICE_AS_TEXT, "welcome": WELCOME},
                                  fetch=lambda ref: fetch_media(self.sender, ref))
        self._reading: dict[str, asyncio.Task] = {}  # 客服账号 → its stream being read now
        self._again: dict[str, str | None] = {}  # 客服账号 → the token of a callback that came meanwhile

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(on_new_message)

        @webhook.listener("after_server_start")
        async def _read_on(_app, _loop) -> None:
            """What came while the server was down is read from the kept cursors."""
            try:
                for open_kfid in await asyncio.to_thread(inbox.accounts, shared_engine(), PLATFORM):
                    self.read_stream(open_kfid, None, on_new_message)
            except OUTAGES as error:  # the next callback reads on
                log.warning("wechat_kf: cannot read the cursors at start (%s)", error.__class__.__name__)

        return webhook

    async def take(self, request: Request, on_new_message: OnNewMessage) -> None:
        event = parsed_xml(decrypted_callback(self.crypt, request, parsed_xml(request.body).findtext("Encrypt")))
        if event.findtext("Event") != "kf_msg_or_event":
            return
        open_kfid = event.findtext("OpenKfId")
        if not open_kfid or len(open_kfid) > 128:
            raise Refusal(400, "kf_msg_or_event without a usable OpenKfId")
        self.read_stream(open_kfid, event.findtext("Token") or None, on_new_message)

    def read_stream(self, open_kfid: str, token: str | None, on_new_message: OnNewMessage) -> None:
        """Read the 客服账号's new messages, in the background (WeCom waits 5 seconds for the callback's
        answer); one read at a time per account, and one more after it when a callback came meanwhile."""
        if open_kfid in self._reading:
            self._again[open_kfid] = token
            return
        self._reading[open_kfid] = asyncio.ensure_future(self._read(open_kfid, token, on_new_message))

    async def _read(self, open_kfid: str, token: str | None, on_new_message: OnNewMessage) -> None:
        try:
            while True:
                await self._read_once(open_kfid, token, on_new_message)
                if open_kfid not in self._again:
                    return
                token = self._again.pop(open_kfid)
        finally:
            del self._reading[open_kfid]

    async def _read_once(self, open_kfid: str, token: str | None, on_new_message: OnNewMessage) -> None:
        engine = shared_engine()
        try:
            cursor = await asyncio.to_thread(inbox.cursor, engine, PLATFORM, open_kfid)
            while True:
                answer = await self.sender.sync(open_kfid, cursor, token)
                for message in answer.get("msg_list") or []:
                    await self._take_message(message, on_new_message)
                next_cursor = answer.get("next_cursor")
                if isinstance(next_cursor, str) and next_cursor and next_cursor != cursor:
                    cursor = next_cursor
                    await asyncio.to_thread(inbox.move_cursor, engine, PLATFORM, open_kfid, cursor, utc_now())
                if not answer.get("has_more"):
                    return
        except WeComError as error:  # the cursor stays: the next callback reads on from it
            log.warning("wechat_kf: reading %s stopped: %s", open_kfid, error)
        except Exception as error:  # noqa: BLE001 - the database is away: the cursor stays, as above
            log.warning("wechat_kf: reading %s stopped (%s)", open_kfid, error.__class__.__name__)

    async def _take_message(self, message: object, on_new_message: OnNewMessage) -> None:
        try:
            incoming = incoming_from(message, time.time())
        except MalformedMessage as error:  # one bad message never stops the stream
            log.warning("wechat_kf: a message of the stream skipped: %s", error)
            return
        if incoming is not None:
            await self.chat.accept(incoming, on_new_message)


def incoming_from(message: object, now: float) -> Incoming | None:
    """A message of kf/sync_msg as the core's `Incoming`: a customer's message, or the welcome of
    `enter_session`; None for anything else (staff's own messages, other events, old messages)."""
    if not isinstance(message, dict):
        raise MalformedMessage("a message of the stream is not an object")
    kind, origin, msgid = message.get("msgtype"), message.get("origin"), message.get("msgid")
    if origin == SYSTEM_EVENT and kind == "event":
        event = message.get("event") if isinstance(message.get("event"), dict) else {}
        if event.get("event_type") != "enter_session" or not event.get("welcome_code"):
            return None
        return Incoming(platform=PLATFORM, event_id=msgid, user_id=event.get("external_userid"), text="",
                        kind="welcome", context={"open_kfid": checked_id(event.get("open_kfid"), "open_kfid"),
                                                 "welcome_code": checked_id(event["welcome_code"], "welcome_code")})
    send_time = message.get("send_time")
    if origin != FROM_CUSTOMER or not isinstance(send_time, int) or now - send_time > REPLY_WINDOW.total_seconds():
        return None
    text = message.get("text") if isinstance(message.get("text"), dict) else {}
    content = text.get("content", "") if kind == "text" else ""
    if not isinstance(content, str):
        raise MalformedMessage("text.content is not text")
    return Incoming(platform=PLATFORM, event_id=msgid, user_id=message.get("external_userid"), text=content,
                    kind="text" if kind == "text" else KINDS.get(kind, "other") if isinstance(kind, str) else "other",
                    context={"open_kfid": checked_id(message.get("open_kfid"), "open_kfid")},
                    media=_media(message, kind))


def _media(message: dict, kind: object) -> tuple[dict, ...]:
    """A photo's, voice message's, video's or file's handle for 随手拍: its `media_id` (one that is
    not text is refused by the core as malformed)."""
    if not (isinstance(kind, str) and kind in MEDIA_KINDS and isinstance(message.get(kind), dict)):
        return ()
    media_id = message[kind].get("media_id")
    return ({"kind": MEDIA_KINDS[kind], "media_id": media_id},) if media_id else ()
