"""微信公众号 (Official Account): the server configuration's callback (服务器配置), replies through
the customer-service message API (客服消息).

WeChat calls /webhooks/wechat_mp/webhook: a GET to check the URL (`signature`, `timestamp`,
`nonce`, `echostr`: answered with the echostr), then a POST per message or event, as XML. Every
request carries `signature`, SHA1 of the sorted token, timestamp and nonce. In 安全模式 the body's
`Encrypt` is WeCom's callback scheme (`msg_signature`, AES, `connectors/wecom_crypto.py`) with
the AppID as the receive id; in 明文模式 the body is the message itself.

WeChat waits 5 seconds for an answer and asks again twice: the callback is answered `success` at
once, and the replies go out through `message/custom/send` with a cached access token (a turn in
Rasa may take longer than WeChat waits). A voice message brings WeChat's own transcript
(`Recognition`, with 接收语音识别结果 on), read as the text. Photos and voice messages are
随手拍's (`connectors/media_queue.py`): fetched by their MediaId with `media/get` (WeCom's, with
this account's token), a photo from its PicUrl when that fails. A follower (subscribe event) is
welcomed and asked for their compound. Everyone writes one-to-one: `wechat_mp:dm:<openid>`.

Dedup by `MsgId` (events: FromUserName + CreateTime), trigger, the outbox and its retries are
the group-chat core's (`connectors/group_chat.py`), the webhook WeCom's (`WeComCallback`).
"""
from rasa.core.channels.channel import InputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conversations import resident_from
from bot.models import OutboxMessage
from bot.replies import WELCOME
from connectors.group_chat import Incoming
from connectors.inbound import Refusal
from connectors.media_queue import MediaUnavailable, download, media_get
from connectors.rasa_chat import RasaGroupChat
from connectors.tencent_api import TencentApi, TencentError
from connectors.webhook import required
from connectors.wecom import WeComCallback, check_timestamp, decrypted_callback, parsed_xml
from connectors.wecom_crypto import WXBizMsgCrypt, signature_matches

PLATFORM = "wechat_mp"
API_BASE = "https://api.weixin.qq.com"
# No transcript: 接收语音识别结果 is off, or WeChat could not make the words out.
VOICE_NOT_TRANSCRIBED = ("抱歉，这条语音没能转成文字，我只能看懂文字。请再说一遍（慢一点、清楚一点），"
                         "或者直接打字告诉我，比如“7号楼电梯坏了”。")
NO_PERMISSION = 48001  # api unauthorized: an account without 客服消息 (an unverified subscription account)


class OfficialAccountError(TencentError):
    """The Official Account API refused a call or could not be reached."""


class OfficialAccountApi(TencentApi):
    """Sends one "wechat_mp" outbox row as a 客服消息 to the follower's openid."""
    error = OfficialAccountError
    token_expired = frozenset({40001, 40014, 42001})  # invalid credential / token, token expired

    def __init__(self, app_id: str, app_secret: str, api_base: str = API_BASE) -> None:
        super().__init__()
        self.app_id, self._secret, self.api_base = app_id, app_secret, api_base

    async def send(self, message: OutboxMessage) -> None:
        body = {"touser": resident_from(message.recipient).user_id, "msgtype": "text",
                "text": {"content": message.text}}
        try:
            await self.post_with_token(self.api_base + "/cgi-bin/message/custom/send", "message/custom/send", body)
        except OfficialAccountError as error:
            if error.errcode == NO_PERMISSION:  # say in the log what to do about it
                raise OfficialAccountError("message/custom/send: this account has no 客服消息 permission "
                                           "(an unverified subscription account?), see docs/platforms/wechat.md") from None
            raise

    async def _fetch_token(self) -> tuple[str, int]:
        answer = await self._call("GET", self.api_base + "/cgi-bin/token", "token", params={
            "grant_type": "client_credential", "appid": self.app_id, "secret": self._secret})
        self._check(answer, "token")
        if not answer.get("access_token"):
            raise OfficialAccountError("token: no access_token in the answer")
        return answer["access_token"], int(answer.get("expires_in", 7200))

    async def fetch(self, ref: dict) -> bytes:
        """A file a follower sent: by its MediaId from `media/get`, or a photo from its PicUrl
        when there is no MediaId or `media/get` does not hand it over."""
        if "media_id" in ref:
            try:
                return await media_get(self.api_base, await self._token.get(), ref["media_id"], ref["kind"])
            except MediaUnavailable:
                if "url" not in ref:
                    raise
        return await download(ref["url"], ref["kind"])


class WeChatMpInput(WeComCallback):
    """The Official Account's server configuration (服务器配置): plain or safe-mode XML."""
    answer_later = "success"  # WeChat's "received, the reply comes later": no 该公众号暂时无法提供服务

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> InputChannel:
        credentials = required(credentials, PLATFORM, "app_id", "app_secret", "token")
        return cls(credentials["app_id"], credentials["app_secret"], credentials["token"],
                   credentials.get("encoding_aes_key") or None, credentials.get("api_base", API_BASE).rstrip("/"))

    def __init__(self, app_id: str, app_secret: str, token: str, encoding_aes_key: str | None = None,
                 api_base: str = API_BASE, sender: OfficialAccountApi | None = None) -> None:
        self.token = token
        # without a key only 明文模式 can be read; an encrypted callback is then refused
        self.crypt = WXBizMsgCrypt(token, encoding_aes_key, app_id) if encoding_aes_key else None
        self.sender = sender or OfficialAccountApi(app_id, app_secret, api_base)
        self.chat = RasaGroupChat(platform=PLATFORM, send=self.sender.send,
                                  not_text_replies={"voice": VOICE_NOT_TRANSCRIBED, "welcome": WELCOME},
                                  fetch=self.sender.fetch)

    def check_signature(self, request: Request) -> None:
        """`signature` over the token, timestamp and nonce, on every request (safe mode too)."""
        given, timestamp, nonce = (request.args.get(name) for name in ("signature", "timestamp", "nonce"))
        if not (given and timestamp and nonce):
            raise Refusal(401, "signature, timestamp or nonce missing")
        check_timestamp(timestamp)
        if not signature_matches(given, self.token, timestamp, nonce):
            raise Refusal(401, "wrong signature")

    def verify_url(self, request: Request) -> HTTPResponse:
        """The URL check when 服务器配置 is submitted: the echostr back, as it came."""
        self.check_signature(request)
        echostr = request.args.get("echostr")
        if not echostr:
            raise Refusal(400, "no echostr")
        return response.text(echostr)

    def read(self, request: Request) -> Incoming | None:
        self.check_signature(request)
        envelope = parsed_xml(request.body)
        if request.args.get("encrypt_type", "raw") == "raw":
            return self.incoming(envelope)
        if self.crypt is None:
            raise Refusal(400, "an encrypted callback, and no encoding_aes_key to read it")
        return self.incoming(parsed_xml(decrypted_callback(self.crypt, request, envelope.findtext("Encrypt"))))

    @staticmethod
    def incoming(message) -> Incoming | None:
        """A message (XML) as the core's `Incoming`: a subscribe event as a "welcome", a voice
        message as its transcript with its file, a photo as its file (随手拍); None for other
        events (menu clicks, unsubscribe …)."""
        kind, openid = message.findtext("MsgType") or "", message.findtext("FromUserName")
        if not openid or not kind:
            raise Refusal(400, "message without sender or type")
        # MsgId is a message's id; WeChat's advice for events, which have none, is sender + time
        event_id = message.findtext("MsgId") or f"{openid}:{message.findtext('CreateTime')}"
        if kind == "event":
            if (message.findtext("Event") or "").lower() != "subscribe":
                return None
            return Incoming(platform=PLATFORM, event_id=event_id, user_id=openid, text="", kind="welcome")
        if kind == "voice":
            text = (message.findtext("Recognition") or "").strip()
            return Incoming(platform=PLATFORM, event_id=event_id, user_id=openid, text=text,
                            kind="text" if text else "voice", media=_media(message, "voice"))
        text = (message.findtext("Content") or "") if kind == "text" else ""
        return Incoming(platform=PLATFORM, event_id=event_id, user_id=openid, text=text, kind=kind,
                        media=_media(message, "image") if kind == "image" else ())


def _media(message, kind: str) -> tuple[dict, ...]:
    """A photo's or voice message's handle for 随手拍: its MediaId, and a photo's PicUrl."""
    handle = {"media_id": message.findtext("MediaId"), "url": message.findtext("PicUrl") if kind == "image" else None}
    handle = {name: value for name, value in handle.items() if value}
    return ({"kind": kind, **handle},) if handle else ()
