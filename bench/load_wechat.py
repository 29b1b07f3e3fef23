"""The load benchmark on the Official Account (公众号, `--platform wechat_mp`): WeChat's side.

The same residents and messages as on DingTalk (bench/load_plan.py), each writing one-to-one to
the Official Account (`wechat_mp:dm:<openid>`, the openid being the plan's user id), who told the
bot their compound before (the plan's group's compound, kept as their 常住小区 in
`resident_compounds`, as a group is bound to its compound on DingTalk). Callbacks come signed and
encrypted (安全模式, tests/stack/wechat.py's account), the replies are 客服消息 recorded by the fake
platform. WeChat asks again when it does not hear back within 5 seconds (three tries in all), so a
share of the callbacks is sent again, the same message (the same MsgId and ciphertext) with a
fresh signature, to the next server: 5 and 10 seconds later, or, for half of them, at once and 5
seconds later (the first answer lost on the way, the retry racing the first on another server).

A 客服消息 names its follower, not the message it answers: a resident's answers are matched to
their messages in the order both came (Rasa answers a conversation's messages in turn). Who got
fewer answers than they sent lost messages; more, was answered twice.
"""
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from load_plan import Message
from load_stack import ROOT

from bot.clock import utc_now
from bot.models import Compound, ResidentCompound
from connectors.group_chat import APOLOGY
from connectors.wecom_crypto import WXBizMsgCrypt, signature

sys.path.insert(0, str(ROOT / "tests"))
from stack.wechat import MP  # noqa: E402

CRYPT = WXBizMsgCrypt(MP["token"], MP["encoding_aes_key"], MP["app_id"])
SEND_PATH = "/wechat_mp/cgi-bin/message/custom/send"
RETRIES = ((5.0, 10.0), (0.2, 5.0))  # when WeChat asks again, after the first try
TAGS = {"warm": 7, "load": 8}  # a MsgId's first digit: the warm-up's apart from the load's


class OfficialAccount:
    """The Official Account's callbacks, its fake 客服消息 API, and the replies matched to messages."""
    name = "wechat_mp"
    webhook = "/webhooks/wechat_mp/webhook"
    description = "the Official Account (公众号) in safe mode, one-to-one"
    quiet = 12.0  # seconds to wait for a duplicate after the last answer: the last retries come 10 s late

    def __init__(self, resend_share: float, seed: int = 22) -> None:
        self.resend_share, self.seed = resend_share, seed
        self.received: dict[str, list[tuple[float, str]]] = {}  # openid → (when, text) of each 客服消息
        self.order: dict[str, list[str]] = {}  # openid → the MsgIds they sent, in the order sent

    def prepare(self, stack, replies, platform, groups: dict[str, str], messages: list[Message]) -> None:
        """The fake Official Account API, and each resident's compound remembered (常住小区)."""
        platform.routes["/wechat_mp/cgi-bin/token"] = lambda *_: (200, {"access_token": "bench", "expires_in": 7200})
        platform.routes[SEND_PATH] = self._receive
        residents = {message.user: groups[message.group] for message in messages}
        with Session(stack.engine, future=True) as session, session.begin():
            ids = dict(session.execute(select(Compound.name, Compound.id)
                                       .where(Compound.name.in_(set(residents.values())))).all())
            session.add_all(ResidentCompound(platform=self.name, user_id=user, compound_id=ids[compound],
                                             confirmed_at=utc_now()) for user, compound in residents.items())

    def _receive(self, _method: str, _path: str, _query: dict, body: dict) -> tuple[int, dict]:
        content = (body.get("text") or {}).get("content", "")
        self.received.setdefault(body.get("touser", ""), []).append((time.perf_counter(), content))
        return 200, {"errcode": 0, "errmsg": "ok"}

    def message_id(self, tag: str, message: Message) -> str:
        return f"{TAGS[tag]}{message.index:08d}"

    def callback(self, message: Message, message_id: str, _platform_url: str):
        """The encrypted callback of `message` (the same bytes on every try) and how to sign a try."""
        self.order.setdefault(message.user, []).append(message_id)
        inner = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{message.user}]]>"
                 f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                 f"<Content><![CDATA[{message.text}]]></Content><MsgId>{message_id}</MsgId></xml>")
        encrypted = CRYPT.encrypt(inner.encode())
        body = f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"

        def signed() -> tuple[str, dict]:
            timestamp, nonce = str(int(time.time())), uuid4().hex[:10]
            query = {"signature": signature(MP["token"], timestamp, nonce, ""), "timestamp": timestamp, "nonce": nonce,
                     "openid": message.user, "encrypt_type": "aes",
                     "msg_signature": signature(MP["token"], timestamp, nonce, encrypted)}
            return "?" + urlencode(query), {"Content-Type": "text/xml"}
        return body.encode(), signed

    def resends(self, message: Message) -> tuple[float, ...]:
        """When WeChat sends this message's callback again (seconds after the first try), if it does."""
        draw = random.Random(self.seed * 1_000_003 + message.index)
        return RETRIES[message.index % 2] if draw.random() < self.resend_share else ()

    def arrived(self) -> dict[str, list[tuple[float, str]]]:
        """MsgId → the replies that went to it: each resident's answers to their messages in turn (an
        apology to the message it was waiting for), any answer beyond them to their last message."""
        arrived: dict[str, list[tuple[float, str]]] = {}
        for openid, sent in self.order.items():
            answered = 0
            for reply in sorted(list(self.received.get(openid, []))):
                arrived.setdefault(sent[min(answered, len(sent) - 1)], []).append(reply)
                answered += APOLOGY not in reply[1]
        return arrived
