"""Personal WeChat: the Official Account (公众号) and 微信客服 channels. Tencent's official sample
vectors through our code, the wire formats, the senders against the fake platform, and both
channels end to end through the real Rasa server (tests/stack/wechat.py holds their credentials):
a report filed and answered once however often WeChat retries, its satisfaction question on the
same channel, the welcome, voice, and every bad callback a 4xx."""
import hashlib
import time
import uuid
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import tickets
from bot.clock import utc_now
from bot.models import OutboxMessage, SyncCursor, Ticket
from bot.replies import WELCOME
from connectors import wecom
from connectors.group_chat import NOT_TEXT_REPLY
from connectors.inbound import Refusal
from connectors.wechat_kf import VOICE_AS_TEXT, WeChatKfInput, WeChatKfSender, incoming_from
from connectors.wechat_mp import VOICE_NOT_TRANSCRIBED, OfficialAccountApi, OfficialAccountError, WeChatMpInput
from connectors.wecom import Application, WeComError, parsed_xml
from connectors.wecom_crypto import WXBizMsgCrypt, signature
from stack.wechat import KF, MP

# -- Tencent's official samples ----------------------------------------------------------------
# The Official Account's WXBizMsgCrypt sample (公众号消息加解密 Sample.py): the AppID is the receive id
MP_SAMPLE = {"token": "spamtest", "key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "app_id": "wx2c2769f8efd9abc2",
             "timestamp": "1409735669", "nonce": "1320562132", "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
             "encrypt": "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
                        "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
                        "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
                        "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
                        "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="}
# WeCom's (加解密方案说明), which 微信客服's callback uses with the corp id as receive id
WECOM_SAMPLE = {"token": "QDG6eK", "key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "corp_id": "wx5823bf96d3bd56c7",
                "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
                "nonce": "263014780",
                "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="}


def plain_signature(token: str, timestamp: str, nonce: str) -> str:
    """The Official Account's `signature`, computed as its documentation says (not with our code)."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def request(args: dict, body: bytes = b"") -> SimpleNamespace:
    return SimpleNamespace(args=args, body=body)


def at(monkeypatch, timestamp: str) -> None:
    monkeypatch.setattr(wecom.time, "time", lambda: int(timestamp))


def test_the_official_account_sample_is_verified_and_decrypted_by_the_channel(monkeypatch):
    at(monkeypatch, MP_SAMPLE["timestamp"])
    s = MP_SAMPLE
    channel = WeChatMpInput(s["app_id"], "secret", s["token"], s["key"])
    query = {"signature": plain_signature(s["token"], s["timestamp"], s["nonce"]), "timestamp": s["timestamp"],
             "nonce": s["nonce"], "encrypt_type": "aes", "msg_signature": s["msg_signature"],
             "openid": "oyORnuP8q7ou2gfYjqLzSIWZf0rs"}
    body = (f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
            f"<Encrypt><![CDATA[{s['encrypt']}]]></Encrypt></xml>").encode()
    incoming = channel.read(request(query, body))
    assert (incoming.platform, incoming.user_id, incoming.text, incoming.event_id, incoming.kind) == (
        "wechat_mp", "oyORnuP8q7ou2gfYjqLzSIWZf0rs", "abcdteT", "6054768590064713728", "text")
    assert incoming.resident.sender_id == "wechat_mp:dm:oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    with pytest.raises(Refusal) as elsewhere:  # encrypted for another Official Account
        WeChatMpInput("wxSomeoneElse", "secret", s["token"], s["key"]).read(request(query, body))
    assert elsewhere.value.status == 403
    with pytest.raises(Refusal) as forged:
        channel.read(request({**query, "msg_signature": "0" * 40}, body))
    assert forged.value.status == 401
    assert plain_signature("t", "1", "2") == signature("t", "1", "2", "")  # ours agrees with the documentation


def test_the_official_wecom_sample_passes_the_wechat_kf_callback(monkeypatch):
    at(monkeypatch, WECOM_SAMPLE["timestamp"])
    s = WECOM_SAMPLE
    channel = WeChatKfInput(s["token"], s["key"], Application(s["corp_id"], "secret", 0))
    args = {name: s[name] for name in ("msg_signature", "timestamp", "nonce", "echostr")}
    assert channel.verify_url(request(args)).body == b"1616140317555161061"
    with pytest.raises(Refusal) as forged:
        channel.verify_url(request({**args, "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4"}))
    assert forged.value.status == 401


def test_the_url_check_of_the_official_account_is_plain_even_in_safe_mode(monkeypatch):
    now = str(int(time.time()))
    channel = WeChatMpInput(MP["app_id"], "s", MP["token"], MP["encoding_aes_key"])
    good = {"signature": plain_signature(MP["token"], now, "42"), "timestamp": now, "nonce": "42", "echostr": "e1"}
    assert channel.verify_url(request(good)).body == b"e1"
    for bad in ({**good, "signature": "0" * 40}, {**good, "timestamp": "1409735669"}, {"echostr": "e1"}):
        with pytest.raises(Refusal) as refused:
            channel.verify_url(request(bad))
        assert refused.value.status == 401


# -- the Official Account's messages -----------------------------------------------------------
def mp_xml(**fields) -> bytes:
    fields = {"ToUserName": "gh_test", "FromUserName": "oResident", "CreateTime": "1700000000", "MsgType": "text",
              "Content": "7号楼暖气不热", "MsgId": "6054768590064713728", **fields}
    return ("<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items() if v is not None)
            + "</xml>").encode()


def test_official_account_text_voice_image_and_events():
    read = WeChatMpInput.incoming
    assert read(parsed_xml(mp_xml())).text == "7号楼暖气不热"
    spoken = read(parsed_xml(mp_xml(MsgType="voice", Content=None, MediaId="m", Format="amr",
                                    Recognition="三号楼电梯坏了")))
    assert (spoken.kind, spoken.text) == ("text", "三号楼电梯坏了")
    unheard = read(parsed_xml(mp_xml(MsgType="voice", Content=None, MediaId="m", Recognition="")))
    assert (unheard.kind, unheard.text) == ("voice", "")
    assert read(parsed_xml(mp_xml(MsgType="image", Content=None, PicUrl="u"))).kind == "image"
    welcome = read(parsed_xml(mp_xml(MsgType="event", Event="subscribe", Content=None, MsgId=None)))
    assert (welcome.kind, welcome.event_id) == ("welcome", "oResident:1700000000")
    for event in ("unsubscribe", "CLICK", "VIEW", "LOCATION"):
        assert read(parsed_xml(mp_xml(MsgType="event", Event=event, Content=None, MsgId=None))) is None
    with pytest.raises(Refusal):
        read(parsed_xml(mp_xml(FromUserName=None)))


# -- 微信客服's stream -----------------------------------------------------------------------------
def kf_message(**fields) -> dict:
    return {"msgid": "from-customer-1", "open_kfid": "wkOffice", "external_userid": "wmResident",
            "send_time": int(time.time()), "origin": 3, "msgtype": "text", "text": {"content": "楼道灯坏了"}, **fields}


def test_wechat_kf_messages_welcomes_and_what_is_left_alone():
    now = time.time()
    text = incoming_from(kf_message(), now)
    assert (text.user_id, text.text, text.context, text.resident.sender_id) == (
        "wmResident", "楼道灯坏了", {"open_kfid": "wkOffice"}, "wechat_kf:dm:wmResident")
    assert incoming_from(kf_message(msgtype="voice", voice={"media_id": "m"}, text=None), now).kind == "voice"
    entered = incoming_from({"msgid": "ev1", "origin": 4, "msgtype": "event", "send_time": int(now), "event": {
        "event_type": "enter_session", "open_kfid": "wkOffice", "external_userid": "wmResident",
        "scene": "grid_group", "welcome_code": "WELCOMECODE"}}, now)
    assert (entered.kind, entered.context) == ("welcome", {"open_kfid": "wkOffice", "welcome_code": "WELCOMECODE"})
    assert incoming_from(kf_message(origin=5), now) is None  # staff writing in the WeCom client
    assert incoming_from(kf_message(send_time=int(now) - 3 * 86400), now) is None  # past the reply window
    assert incoming_from({"msgid": "ev2", "origin": 4, "msgtype": "event", "event": {
        "event_type": "session_status_change"}}, now) is None
    for broken in ([], kf_message(msgid=None), kf_message(text={"content": ["x"]}), kf_message(open_kfid=7)):
        with pytest.raises(ValueError):
            incoming_from(broken, now)


# -- the senders, against the fake platform ----------------------------------------------------
@pytest.fixture
def api(fake_platform):
    """Fresh Official Account and WeCom APIs at the fake platform: tokens handed out, sends `ok`."""
    base = f"/wechat-{uuid.uuid4().hex[:8]}"
    tokens = iter(f"token-{n}" for n in range(100))
    for path in ("/cgi-bin/token", "/cgi-bin/gettoken"):
        fake_platform.routes[base + path] = lambda *_: (200, {"access_token": next(tokens), "expires_in": 7200})
    for path in ("/cgi-bin/message/custom/send", "/cgi-bin/kf/send_msg", "/cgi-bin/kf/send_msg_on_event"):
        fake_platform.routes[base + path] = lambda *_: (200, {"errcode": 0, "errmsg": "ok"})
    return base


def outbox(recipient: str, text: str, context: dict | None = None) -> OutboxMessage:
    return OutboxMessage(recipient=recipient, text=text, context=context)


async def test_the_official_account_sends_customer_service_messages_with_one_cached_token(fake_platform, api):
    sender = OfficialAccountApi("wxapp", "secret", fake_platform.base_url + api)
    await sender.send(outbox("wechat_mp:dm:oResident", "已登记"))
    await sender.send(outbox("wechat_mp:dm:oOther", "您好"))
    [fetch] = fake_platform.sent(api + "/cgi-bin/token")
    assert fetch.query == {"grant_type": "client_credential", "appid": "wxapp", "secret": "secret"}
    first, second = fake_platform.sent(api + "/cgi-bin/message/custom/send")
    assert first.query == {"access_token": "token-0"} and second.query == {"access_token": "token-0"}
    assert first.body == {"touser": "oResident", "msgtype": "text", "text": {"content": "已登记"}}
    answers = iter([(200, {"errcode": 40001, "errmsg": "invalid credential"}), (200, {"errcode": 0})])
    fake_platform.routes[api + "/cgi-bin/message/custom/send"] = lambda *_: next(answers)
    await sender.send(outbox("wechat_mp:dm:oResident", "再试"))
    assert fake_platform.sent(api + "/cgi-bin/message/custom/send")[-1].query == {"access_token": "token-1"}
    fake_platform.routes[api + "/cgi-bin/message/custom/send"] = lambda *_: (200, {"errcode": 48001})
    with pytest.raises(OfficialAccountError, match="unverified subscription account") as failed:
        await sender.send(outbox("wechat_mp:dm:oResident", "您好"))
    assert "secret" not in str(failed.value) and "token-" not in str(failed.value)
    await sender.close()


def replies(fake_platform, prefix: str) -> list:
    """kf/send_msg calls (not kf/send_msg_on_event)."""
    return [c for c in fake_platform.sent(prefix + "/cgi-bin/kf/send_msg") if c.path.endswith("/kf/send_msg")]


async def test_wechat_kf_replies_welcomes_and_reads_with_the_cursor(fake_platform, api):
    sender = WeChatKfSender()
    sender.use_application(Application("wwcorp", "kfsecret", 0, fake_platform.base_url + api))
    await sender.send(outbox("wechat_kf:dm:wmResident", "已登记", {"open_kfid": "wkOffice"}))
    [reply] = replies(fake_platform, api)
    assert reply.body == {"touser": "wmResident", "open_kfid": "wkOffice", "msgtype": "text", "text": {"content": "已登记"}}
    await sender.send(outbox("wechat_kf:dm:wmResident", WELCOME, {"open_kfid": "wkOffice", "welcome_code": "C1"}))
    [welcome] = fake_platform.sent(api + "/cgi-bin/kf/send_msg_on_event")
    assert welcome.body == {"code": "C1", "msgtype": "text", "text": {"content": WELCOME}}
    # a spent code: the welcome goes as a plain reply, and where that is refused too it is dropped
    fake_platform.routes[api + "/cgi-bin/kf/send_msg_on_event"] = lambda *_: (200, {"errcode": 95018})
    await sender.send(outbox("wechat_kf:dm:wmResident", WELCOME, {"open_kfid": "wkOffice", "welcome_code": "C2"}))
    assert len(replies(fake_platform, api)) == 2
    fake_platform.routes[api + "/cgi-bin/kf/send_msg"] = lambda *_: (200, {"errcode": 95001})
    await sender.send(outbox("wechat_kf:dm:wmResident", WELCOME, {"open_kfid": "wkOffice", "welcome_code": "C3"}))
    with pytest.raises(WeComError, match="95001"):  # anything but a welcome is retried by the outbox
        await sender.send(outbox("wechat_kf:dm:wmResident", "已登记", {"open_kfid": "wkOffice"}))
    fake_platform.routes[api + "/cgi-bin/kf/sync_msg"] = lambda *_: (200, {"errcode": 0, "next_cursor": "c2",
                                                                           "has_more": 0, "msg_list": []})
    await sender.sync("wkOffice", "c1", "TOKEN")
    assert fake_platform.sent(api + "/cgi-bin/kf/sync_msg")[-1].body == {"open_kfid": "wkOffice", "limit": 1000,
                                                                         "cursor": "c1", "token": "TOKEN"}
    await sender.close()


# -- end to end: the real Rasa server, signed (and encrypted) callbacks -------------------------
MP_PATH, KF_PATH = "/webhooks/wechat_mp/webhook", "/webhooks/wechat_kf/webhook"
MP_CRYPT = WXBizMsgCrypt(MP["token"], MP["encoding_aes_key"], MP["app_id"])
KF_CRYPT = WXBizMsgCrypt(KF["token"], KF["encoding_aes_key"], KF["corp_id"])


def fresh(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class WeChat:
    """WeChat's side of both channels: builds callbacks as WeChat and WeCom do, serves 微信客服's
    message stream, and reads what the bot sent."""

    def __init__(self, stack, fake) -> None:
        self.stack, self.fake = stack, fake
        self.streams: dict[str, list[dict]] = {}  # open_kfid → every message of its stream

    def sync_msg(self, _method, _path, _query, body) -> tuple[int, dict]:
        stream = self.streams.get(body.get("open_kfid"), [])
        start = int(body.get("cursor") or 0)
        return 200, {"errcode": 0, "errmsg": "ok", "next_cursor": str(len(stream)), "has_more": 0,
                     "msg_list": stream[start:]}

    # the Official Account ------------------------------------------------------------------
    def mp_query(self, encrypted: str | None = None, token: str = MP["token"], timestamp: int | None = None) -> str:
        timestamp, nonce = str(int(time.time()) if timestamp is None else timestamp), fresh("")
        query = {"signature": plain_signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        if encrypted is not None:
            query.update(encrypt_type="aes", msg_signature=signature(token, timestamp, nonce, encrypted))
        return "?" + urlencode(query)

    def mp_body(self, openid: str, **fields) -> tuple[bytes, str]:
        inner = mp_xml(**{"FromUserName": openid, "CreateTime": str(int(time.time())),
                          "MsgId": str(uuid.uuid4().int % 10 ** 18), **fields})
        encrypted = MP_CRYPT.encrypt(inner)
        return f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode(), encrypted

    def mp(self, openid: str, **fields) -> tuple[int, bytes]:
        body, encrypted = self.mp_body(openid, **fields)
        return self.stack.post(MP_PATH, body, {"Content-Type": "text/xml"}, self.mp_query(encrypted))

    def mp_replies(self, openid: str) -> list[str]:
        return [c.body["text"]["content"] for c in self.fake.sent("/wechat_mp/cgi-bin/message/custom/send")
                if c.body.get("touser") == openid]

    # 微信客服 -------------------------------------------------------------------------------
    def kf_callback(self, open_kfid: str) -> tuple[bytes, str]:
        inner = (f"<xml><ToUserName><![CDATA[{KF['corp_id']}]]></ToUserName><CreateTime>{int(time.time())}</CreateTime>"
                 f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
                 f"<Token><![CDATA[{fresh('T')}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>").encode()
        encrypted = KF_CRYPT.encrypt(inner)
        return f"<xml><ToUserName><![CDATA[{KF['corp_id']}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode(), encrypted

    def kf_request(self, open_kfid: str, token: str = KF["token"]) -> tuple[str, bytes, dict, str]:
        """A signed 微信客服 callback: path, body, headers and query."""
        body, encrypted = self.kf_callback(open_kfid)
        timestamp, nonce = str(int(time.time())), fresh("")
        query = "?" + urlencode({"msg_signature": signature(token, timestamp, nonce, encrypted), "timestamp": timestamp,
                                 "nonce": nonce})
        return KF_PATH, body, {"Content-Type": "text/xml"}, query

    def kf(self, open_kfid: str, token: str = KF["token"]) -> tuple[int, bytes]:
        return self.stack.post(*self.kf_request(open_kfid, token))

    def kf_says(self, open_kfid: str, user: str, text: str | None = None, kind: str = "text") -> None:
        message = {"msgid": fresh("msg"), "open_kfid": open_kfid, "external_userid": user, "send_time": int(time.time()),
                   "origin": 3, "msgtype": kind}
        message.update({"text": {"content": text}} if kind == "text" else {kind: {"media_id": "MEDIA"}})
        self.streams.setdefault(open_kfid, []).append(message)

    def kf_enters(self, open_kfid: str, user: str) -> str:
        code = fresh("welcome")
        self.streams.setdefault(open_kfid, []).append({
            "msgid": fresh("ev"), "send_time": int(time.time()), "origin": 4, "msgtype": "event", "event": {
                "event_type": "enter_session", "open_kfid": open_kfid, "external_userid": user, "scene": "grid_group",
                "welcome_code": code}})
        return code

    def kf_replies(self, user: str) -> list[str]:
        return [c.body["text"]["content"] for c in replies(self.fake, "/wechat_kf") if c.body.get("touser") == user]

    def kf_welcomes(self, code: str) -> list[str]:
        return [c.body["text"]["content"] for c in self.fake.sent("/wechat_kf/cgi-bin/kf/send_msg_on_event")
                if c.body.get("code") == code]

    def wait_for(self, *ready, seconds: float = 60) -> None:
        self.fake.wait_for(lambda _: all(check() for check in ready), seconds)

    def tickets_of(self, user: str) -> list[tuple]:
        return [t for t in self.stack.tickets() if user in t[3]]


@pytest.fixture(scope="module")
def wechat(stack, fake_platform) -> WeChat:
    channels = WeChat(stack, fake_platform)
    fake_platform.routes["/wechat_mp/cgi-bin/token"] = lambda *_: (200, {"access_token": "MP", "expires_in": 7200})
    fake_platform.routes["/wechat_kf/cgi-bin/gettoken"] = lambda *_: (200, {"errcode": 0, "access_token": "KF",
                                                                            "expires_in": 7200})
    for path in ("/wechat_mp/cgi-bin/message/custom/send", "/wechat_kf/cgi-bin/kf/send_msg",
                 "/wechat_kf/cgi-bin/kf/send_msg_on_event"):
        fake_platform.routes[path] = lambda *_: (200, {"errcode": 0, "errmsg": "ok"})
    fake_platform.routes["/wechat_kf/cgi-bin/kf/sync_msg"] = channels.sync_msg
    return channels


def test_the_official_account_url_is_verified(wechat):
    assert wechat.stack.get(MP_PATH + wechat.mp_query() + "&echostr=4242", authenticated=False) == (200, b"4242")
    assert wechat.stack.get(MP_PATH + wechat.mp_query(token="wrong") + "&echostr=4242", authenticated=False)[0] == 401


def test_a_follower_is_welcomed_named_compound_is_kept_and_the_satisfaction_question_comes_back(wechat):
    openid = fresh("o")
    body, encrypted = wechat.mp_body(openid, MsgType="event", Event="subscribe", Content=None, MsgId=None)
    for _ in range(3):  # WeChat asks again when it thinks it was not answered
        assert wechat.stack.post(MP_PATH, body, {}, wechat.mp_query(encrypted)) == (200, b"success")
    wechat.wait_for(lambda: wechat.mp_replies(openid))
    assert wechat.mp(openid, Content="金御城")[0] == 200
    wechat.wait_for(lambda: len(wechat.mp_replies(openid)) >= 2)
    body, encrypted = wechat.mp_body(openid, Content="7号楼暖气不热")
    for _ in range(3):
        assert wechat.stack.post(MP_PATH, body, {}, wechat.mp_query(encrypted)) == (200, b"success")
    wechat.wait_for(lambda: len(wechat.mp_replies(openid)) >= 3)
    time.sleep(3)
    welcome, _noted, receipt = wechat.mp_replies(openid)
    assert welcome == WELCOME and "供暖" in receipt and "金御城" in receipt
    [(ticket_id, category, compound, _)] = wechat.tickets_of(openid)
    assert (category, compound) == ("heating", "金御城")
    with Session(wechat.stack.engine, future=True) as session, session.begin():
        tickets.resolve(session, session.get(Ticket, ticket_id), utc_now(), "已修好", "测试")
    wechat.wait_for(lambda: len(wechat.mp_replies(openid)) == 4)
    assert "满意" in wechat.mp_replies(openid)[-1]  # on the channel the resident reported from


def test_official_account_voice_is_read_from_its_transcript_or_answered_that_the_bot_reads_text(wechat):
    spoken, unheard = fresh("o"), fresh("o")
    assert wechat.mp(spoken, MsgType="voice", Content=None, MediaId="m", Format="amr", Recognition="金御城7号楼电梯坏了")[0] == 200
    assert wechat.mp(unheard, MsgType="voice", Content=None, MediaId="m", Format="amr")[0] == 200
    assert wechat.mp(fresh("o"), MsgType="image", Content=None, PicUrl="http://example.invalid/p.jpg")[0] == 200
    wechat.wait_for(lambda: wechat.mp_replies(spoken), lambda: wechat.mp_replies(unheard))
    assert "金御城" in wechat.mp_replies(spoken)[0] and wechat.tickets_of(spoken)
    assert wechat.mp_replies(unheard) == [VOICE_NOT_TRANSCRIBED]


def test_bad_official_account_callbacks_are_refused_and_the_server_keeps_working(wechat):
    openid = fresh("o")
    body, encrypted = wechat.mp_body(openid, Content="你好")
    elsewhere = WXBizMsgCrypt(MP["token"], MP["encoding_aes_key"], "wxAnotherAccount").encrypt(MP_CRYPT.decrypt(encrypted))
    bomb = (b"<!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
            b"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><xml><Encrypt>&c;</Encrypt></xml>")
    external = b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><xml><Content>&e;</Content></xml>"
    post = wechat.stack.post
    plain = mp_xml(FromUserName=openid)
    refused = {
        "wrong signature": post(MP_PATH, body, {}, wechat.mp_query(encrypted, token="not-the-token")),
        "stale timestamp": post(MP_PATH, body, {}, wechat.mp_query(encrypted, timestamp=int(time.time()) - 3600)),
        "no signature": post(MP_PATH, body, {}, ""),
        "forged msg_signature": post(MP_PATH, body, {}, wechat.mp_query(encrypted).replace("msg_signature=",
                                                                                          "msg_signature=0")),
        "another account": post(MP_PATH, body.replace(encrypted.encode(), elsewhere.encode()), {},
                                wechat.mp_query(elsewhere)),
        "entity expansion": post(MP_PATH, bomb, {}, wechat.mp_query()),
        "external entity": post(MP_PATH, external, {}, wechat.mp_query()),
        "malformed xml": post(MP_PATH, b"<xml><Content>", {}, wechat.mp_query()),
        "too large": post(MP_PATH, plain + b" " * (257 * 1024), {}, wechat.mp_query()),
        "kf wrong signature": wechat.kf(fresh("wk"), token="not-the-token"),
    }
    assert {name: status for name, (status, _) in refused.items()} == {
        "wrong signature": 401, "stale timestamp": 401, "no signature": 401, "forged msg_signature": 401,
        "another account": 403, "entity expansion": 400, "external entity": 400, "malformed xml": 400,
        "too large": 413, "kf wrong signature": 401}
    log = wechat.stack.log_text()
    assert all(secret not in log for secret in (MP["app_secret"], MP["token"], MP["encoding_aes_key"],
                                                 KF["secret"], KF["token"], KF["encoding_aes_key"]))
    assert post(MP_PATH, plain, {}, wechat.mp_query()) == (200, b"success")  # 明文模式 works beside safe mode
    wechat.wait_for(lambda: wechat.mp_replies(openid))


def test_wechat_kf_welcomes_reads_its_stream_once_and_answers_once(wechat):
    open_kfid, user, talker = fresh("wk"), fresh("wm"), fresh("wm")
    code = wechat.kf_enters(open_kfid, user)
    wechat.kf_says(open_kfid, user, "金御城5号楼楼道灯不亮了")
    wechat.kf_says(open_kfid, talker, kind="voice")
    for _ in range(3):  # WeCom's retries, and callbacks while a read is under way
        assert wechat.kf(open_kfid) == (200, b"")
    wechat.wait_for(lambda: wechat.kf_welcomes(code), lambda: wechat.kf_replies(user),
                    lambda: wechat.kf_replies(talker))
    with Session(wechat.stack.engine, future=True) as session:  # the cursor is kept: a restart reads on from it
        assert session.scalar(select(SyncCursor.cursor).where(SyncCursor.account == open_kfid)) == "3"
        session.execute(SyncCursor.__table__.delete().where(SyncCursor.account == open_kfid))
        session.commit()
    assert wechat.kf(open_kfid) == (200, b"")  # the whole stream again: the inbox knows every message
    time.sleep(4)
    assert wechat.kf_welcomes(code) == [WELCOME]
    [receipt] = wechat.kf_replies(user)
    assert "金御城" in receipt and wechat.tickets_of(user)
    assert wechat.kf_replies(talker) == [VOICE_AS_TEXT]
