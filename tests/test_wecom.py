"""WeCom (企业微信): the WXBizMsgCrypt scheme against WeCom's official sample vectors and against
wechatpy, the sender against the fake platform, and both callbacks end to end through the real
Rasa server (tests/stack/wecom.py holds the stack's WeCom credentials)."""
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.media import QUESTIONS
from bot.models import OutboxMessage
from connectors.inbound import Refusal
from connectors.wecom import Application, WeComBotInput, WeComError, WeComInput, WeComSender, parsed_xml
from connectors.wecom_crypto import BadCiphertext, BadSignature, WrongReceiveId, WXBizMsgCrypt, signature
from stack.wecom import APP, BOT

# -- WeCom's official sample vectors -----------------------------------------------------------
# 加解密方案说明 (developer.work.weixin.qq.com/document/path/90968) and the C#/PHP samples
OFFICIAL = {"token": "QDG6eK", "corp_id": "wx5823bf96d3bd56c7",
            "key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}
VERIFY = {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
          "nonce": "263014780",
          "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="}
MESSAGE = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813", "nonce": "1372623149",
    "encrypt": "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
               "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+"
               "HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJ"
               "B3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3f"
               "VKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==",
    "plain": "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
             "<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n"
             "<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n"
             "<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>",
}
# sbzhu/weworkapi_python callback/Sample.py: a second configuration, with a Chinese message
SAMPLE = {"token": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "corp_id": "ww1436e0e65a779aee",
          "key": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"}
SAMPLE_VERIFY = ("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683",
                 "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==")
SAMPLE_MESSAGE = (
    "0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914",
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkY"
    "cD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka"
    "7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49H"
    "KYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+")


def official() -> WXBizMsgCrypt:
    return WXBizMsgCrypt(OFFICIAL["token"], OFFICIAL["key"], OFFICIAL["corp_id"])


def test_the_official_signatures_are_reproduced():
    assert (signature(OFFICIAL["token"], VERIFY["timestamp"], VERIFY["nonce"], VERIFY["echostr"])
            == VERIFY["msg_signature"])
    assert (signature(OFFICIAL["token"], MESSAGE["timestamp"], MESSAGE["nonce"], MESSAGE["encrypt"])
            == MESSAGE["msg_signature"])


def test_the_official_url_verification_echostr_decrypts():
    crypt = official()
    assert crypt.verify_url(VERIFY["msg_signature"], VERIFY["timestamp"], VERIFY["nonce"],
                            VERIFY["echostr"]) == "1616140317555161061"
    sample = WXBizMsgCrypt(SAMPLE["token"], SAMPLE["key"], SAMPLE["corp_id"])
    assert sample.verify_url(*SAMPLE_VERIFY) == "1288432023552776189"


def test_the_official_message_decrypts():
    plain = official().decrypt_message(MESSAGE["msg_signature"], MESSAGE["timestamp"], MESSAGE["nonce"],
                                       MESSAGE["encrypt"])
    assert plain.decode() == MESSAGE["plain"]
    sample = WXBizMsgCrypt(SAMPLE["token"], SAMPLE["key"], SAMPLE["corp_id"])
    message = parsed_xml(sample.decrypt_message(*SAMPLE_MESSAGE))
    assert (message.findtext("FromUserName"), message.findtext("Content")) == ("ChenJiaShun", "你好")


def test_encryption_reproduces_the_official_ciphertexts_byte_for_byte():
    # the 16 "random" bytes the official ciphertexts were made with
    crypt = official()
    assert crypt.encrypt(MESSAGE["plain"].encode(), random_prefix=b"0960688932c47ef1") == MESSAGE["encrypt"]
    assert crypt.encrypt(b"1616140317555161061", random_prefix=b"c41b64491c2468d0") == VERIFY["echostr"]
    sample = WXBizMsgCrypt(SAMPLE["token"], SAMPLE["key"], SAMPLE["corp_id"])
    chinese = sample.decrypt(SAMPLE_MESSAGE[3])
    assert sample.encrypt(chinese, random_prefix=b"694ce5a83ae07fe3") == SAMPLE_MESSAGE[3]


def test_tampering_is_refused():
    crypt = official()
    with pytest.raises(BadSignature):
        crypt.decrypt_message("0" * 40, MESSAGE["timestamp"], MESSAGE["nonce"], MESSAGE["encrypt"])
    with pytest.raises(BadSignature):  # the timestamp is signed too
        crypt.decrypt_message(MESSAGE["msg_signature"], "1409659814", MESSAGE["nonce"], MESSAGE["encrypt"])
    with pytest.raises(WrongReceiveId):
        WXBizMsgCrypt(OFFICIAL["token"], OFFICIAL["key"], "wwSomeoneElse").decrypt(MESSAGE["encrypt"])
    with pytest.raises(WrongReceiveId):  # the AI bot's empty receive id is checked as well
        WXBizMsgCrypt(OFFICIAL["token"], OFFICIAL["key"], "").decrypt(MESSAGE["encrypt"])
    for broken in (MESSAGE["encrypt"][:-8], "not base64 at all!", ""):
        with pytest.raises(BadCiphertext):
            crypt.decrypt(broken)
    with pytest.raises(ValueError):
        WXBizMsgCrypt("t", "tooShort", "")


# -- cross-check against wechatpy (an independent implementation) ------------------------------
ENVELOPE = "<xml><ToUserName><![CDATA[{to}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"


@pytest.mark.parametrize("receive_id", [OFFICIAL["corp_id"], ""], ids=["application", "ai-bot"])
def test_ours_and_wechatpys_read_each_other(receive_id):
    ours = WXBizMsgCrypt(OFFICIAL["token"], OFFICIAL["key"], receive_id)
    theirs = WeChatCrypto(OFFICIAL["token"], OFFICIAL["key"], receive_id)
    for length in range(0, 70):  # every padding length, a whole padding block included
        message = ("7号楼暖气不热" * 10)[:length]
        encrypted = ours.encrypt(message.encode())
        sig = signature(OFFICIAL["token"], "1700000000", "4242", encrypted)
        assert theirs.decrypt_message(ENVELOPE.format(to=receive_id, encrypt=encrypted), sig,
                                      "1700000000", "4242") == message
        answer = parsed_xml(theirs.encrypt_message(message, "4242", "1700000000").encode())
        assert ours.decrypt_message(answer.findtext("MsgSignature"), answer.findtext("TimeStamp"),
                                    answer.findtext("Nonce"), answer.findtext("Encrypt")).decode() == message
    assert theirs.check_signature(sig, "1700000000", "4242", encrypted) == message


# -- the callbacks' wire format (no server) ----------------------------------------------------
def app_channel() -> WeComInput:
    return WeComInput(APP["token"], APP["encoding_aes_key"], Application(APP["corp_id"], "s", 1), sender=WeComSender())


def bot_channel(bot_name: str | None = BOT["bot_name"]) -> WeComBotInput:
    return WeComBotInput(BOT["token"], BOT["encoding_aes_key"], "https://qyapi.weixin.qq.com", bot_name,
                         sender=WeComSender())


def bot_message(**fields) -> dict:
    return {"msgid": "m1", "aibotid": "AIBOT", "chattype": "group", "chatid": "wrGroup", "from": {"userid": "zhang"},
            "response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC",
            "msgtype": "text", "text": {"content": "@社区小助手 7号楼暖气不热"}, **fields}


def test_an_ai_bot_group_message_is_read_without_the_mention():
    incoming = bot_channel().incoming(bot_message())
    assert (incoming.text, incoming.group_id, incoming.user_id, incoming.mentioned, incoming.kind) == (
        "7号楼暖气不热", "wrGroup", "zhang", True, "text")
    assert incoming.event_id == "aibot:m1" and incoming.platform == "wecom"
    assert incoming.context == {"response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC"}
    assert bot_channel(None).incoming(bot_message()).text == "7号楼暖气不热"  # unnamed: the leading mention goes


def test_ai_bot_single_chats_images_mixed_and_events():
    single = bot_channel().incoming(bot_message(chattype="single", chatid=None, text={"content": "电梯坏了"}))
    assert (single.group_id, single.text, single.mentioned) == (None, "电梯坏了", False)
    image = bot_channel().incoming(bot_message(chattype="single", msgtype="image", image={"url": "u"}))
    assert (image.kind, image.text) == ("image", "")
    mixed = bot_channel().incoming(bot_message(msgtype="mixed", mixed={"msg_item": [
        {"msgtype": "text", "text": {"content": "@社区小助手 楼道灯坏了"}}, {"msgtype": "image", "image": {"url": "u"}}]}))
    assert (mixed.kind, mixed.text) == ("text", "楼道灯坏了")
    assert bot_channel().incoming(bot_message(msgtype="event", event={"eventtype": "enter_chat"})) is None
    with pytest.raises(Refusal) as elsewhere:
        bot_channel().incoming(bot_message(response_url="https://evil.example/steal"))
    assert elsewhere.value.status == 400
    with pytest.raises(Refusal):
        bot_channel().incoming(bot_message(**{"from": {}}))


def app_xml(**fields) -> bytes:
    fields = {"ToUserName": APP["corp_id"], "FromUserName": "zhang", "CreateTime": "1700000000", "MsgType": "text",
              "Content": "7号楼暖气不热", "MsgId": "123456", "AgentID": "1000002", **fields}
    return ("<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items() if v is not None)
            + "</xml>").encode()


def test_application_messages_one_to_one_in_a_group_and_events():
    one = app_channel().incoming(parsed_xml(app_xml()))
    assert (one.user_id, one.text, one.group_id, one.event_id, one.kind) == ("zhang", "7号楼暖气不热", None, "123456", "text")
    group = app_channel().incoming(parsed_xml(app_xml(ChatId="wrOgQhDgAAJinYuCheng01")))
    assert (group.group_id, group.mentioned) == ("wrOgQhDgAAJinYuCheng01", False)
    image = app_channel().incoming(parsed_xml(app_xml(MsgType="image", Content=None, PicUrl="u", MediaId="m")))
    assert (image.kind, image.text) == ("image", "")
    assert app_channel().incoming(parsed_xml(app_xml(MsgType="event", Event="enter_agent", MsgId=None))) is None


@pytest.mark.parametrize("hostile", [
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
    b"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><xml><Encrypt>&c;</Encrypt></xml>",
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><xml><Encrypt>&e;</Encrypt></xml>",
    b"<!DOCTYPE xml SYSTEM 'http://127.0.0.1:1/x.dtd'><xml><Encrypt>x</Encrypt></xml>",
    b"<xml><Encrypt>never closed",
], ids=["entity-expansion", "external-entity", "external-dtd", "malformed"])
def test_hostile_or_broken_xml_is_refused(hostile):
    with pytest.raises(Refusal) as refused:
        parsed_xml(hostile)
    assert refused.value.status == 400


# -- the sender, against the fake platform -----------------------------------------------------
@pytest.fixture
def wecom_api(fake_platform):
    """A fresh WeCom API at the fake platform: tokens handed out, sends answered `ok`."""
    base = f"/wecom-{uuid.uuid4().hex[:8]}"
    tokens = iter(f"token-{n}" for n in range(100))
    fake_platform.routes[base + "/cgi-bin/gettoken"] = lambda *_: (200, {"errcode": 0, "access_token": next(tokens),
                                                                          "expires_in": 7200})
    for path in ("/cgi-bin/message/send", "/cgi-bin/appchat/send", "/cgi-bin/aibot/response"):
        fake_platform.routes[base + path] = lambda *_: (200, {"errcode": 0, "errmsg": "ok"})
    return base


def outbox(recipient: str, text: str, context: dict | None = None) -> OutboxMessage:
    return OutboxMessage(recipient=recipient, text=text, context=context)


async def test_the_application_sends_one_to_one_and_to_groups_with_one_cached_token(fake_platform, wecom_api):
    sender = WeComSender()
    sender.use_application(Application("wwcorp", "secret", 1000002, fake_platform.base_url + wecom_api))
    await sender.send(outbox("wecom:dm:zhang", "您好"))
    await sender.send(outbox("wecom:wrOgQhDgAAJinYuCheng01:li", "已登记"))
    await sender.close()
    assert len(fake_platform.sent(wecom_api + "/cgi-bin/gettoken")) == 1
    [direct] = fake_platform.sent(wecom_api + "/cgi-bin/message/send")
    assert direct.query == {"access_token": "token-0"}
    assert direct.body == {"touser": "zhang", "msgtype": "text", "agentid": 1000002, "text": {"content": "您好"}}
    [group] = fake_platform.sent(wecom_api + "/cgi-bin/appchat/send")
    assert group.body == {"chatid": "wrOgQhDgAAJinYuCheng01", "msgtype": "text", "text": {"content": "@li 已登记"}}


async def test_an_expired_token_is_fetched_again(fake_platform, wecom_api):
    answers = iter([(200, {"errcode": 42001, "errmsg": "access_token expired"}), (200, {"errcode": 0})])
    fake_platform.routes[wecom_api + "/cgi-bin/message/send"] = lambda *_: next(answers)
    sender = WeComSender()
    sender.use_application(Application("wwcorp", "secret", 1, fake_platform.base_url + wecom_api))
    await sender.send(outbox("wecom:dm:zhang", "您好"))
    await sender.close()
    assert [c.query["access_token"] for c in fake_platform.sent(wecom_api + "/cgi-bin/message/send")] == [
        "token-0", "token-1"]


async def test_failures_raise_so_the_outbox_retries(fake_platform, wecom_api):
    sender = WeComSender()
    with pytest.raises(WeComError):  # an AI-bot-only setup cannot send without a response_url
        await sender.send(outbox("wecom:dm:zhang", "工单已办结"))
    sender.use_application(Application("wwcorp", "secret", 1, fake_platform.base_url + wecom_api))
    fake_platform.routes[wecom_api + "/cgi-bin/message/send"] = lambda *_: (200, {"errcode": 81013, "errmsg": "x"})
    with pytest.raises(WeComError, match="81013"):
        await sender.send(outbox("wecom:dm:zhang", "您好"))
    fake_platform.routes[wecom_api + "/cgi-bin/message/send"] = lambda *_: (502, {})
    with pytest.raises(WeComError) as failed:
        await sender.send(outbox("wecom:dm:zhang", "您好"))
    assert "secret" not in str(failed.value) and "token" not in str(failed.value)
    await sender.close()


async def test_an_ai_bot_conversation_is_answered_at_its_response_url(fake_platform, wecom_api):
    url = f"{fake_platform.base_url}{wecom_api}/cgi-bin/aibot/response?response_code=RC1"
    sender = WeComSender()
    await sender.send(outbox("wecom:wrGroup:zhang", "已登记", {"response_url": url}))
    await sender.send(outbox("wecom:dm:li", "您好", {"response_url": url.replace("RC1", "RC2")}))
    await sender.close()
    group, single = fake_platform.sent(wecom_api + "/cgi-bin/aibot/response")
    assert group.query == {"response_code": "RC1"}
    assert group.body == {"msgtype": "markdown", "markdown": {"content": "<@zhang> 已登记"}}
    assert single.body == {"msgtype": "markdown", "markdown": {"content": "您好"}}


# -- end to end: the real Rasa server, signed and encrypted callbacks --------------------------
APP_PATH, BOT_PATH = "/webhooks/wecom/webhook", "/webhooks/wecom_bot/webhook"
JIN_YU_CHENG, CUI_LIU_YUAN = "wrOgQhDgAAJinYuCheng01", "wrOgQhDgAACuiLiuYuan01"  # bound in org/sample_site.yml
APP_CRYPT = WXBizMsgCrypt(APP["token"], APP["encoding_aes_key"], APP["corp_id"])
BOT_CRYPT = WXBizMsgCrypt(BOT["token"], BOT["encoding_aes_key"], "")


def fresh(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def signed_query(token: str, encrypted: str, timestamp: int | None = None, **extra) -> str:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = str(uuid.uuid4().int % 10 ** 10)
    return "?" + urlencode({"msg_signature": signature(token, timestamp, nonce, encrypted),
                            "timestamp": timestamp, "nonce": nonce, **extra})


@dataclass
class WeCom:
    """WeCom's side of the callbacks: builds them as WeCom would and reads what the bot sent."""
    stack: Any
    fake: Any

    def app_body(self, user: str, text: str = "", chat: str | None = None, kind: str = "text") -> tuple[bytes, str]:
        """An application callback as WeCom POSTs it, and its encrypted part."""
        inner = app_xml(FromUserName=user, CreateTime=str(int(time.time())), MsgType=kind,
                        Content=text if kind == "text" else None, MediaId=None if kind == "text" else "MEDIA",
                        MsgId=str(uuid.uuid4().int % 10 ** 18), ChatId=chat)
        encrypted = APP_CRYPT.encrypt(inner)
        return (f"<xml><ToUserName><![CDATA[{APP['corp_id']}]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>").encode(), encrypted

    def app(self, user: str, text: str = "", chat: str | None = None, kind: str = "text") -> int:
        body, encrypted = self.app_body(user, text, chat, kind)
        return self.stack.post(APP_PATH, body, {"Content-Type": "text/xml"}, signed_query(APP["token"], encrypted))[0]

    def bot_body(self, user: str, text: str = "", chat: str | None = None, kind: str = "text") -> tuple[bytes, str, str]:
        """An AI-bot callback as WeCom POSTs it, its encrypted part and its response_code."""
        code = fresh("rc")
        message = {"msgid": fresh("CAIQ"), "aibotid": "AIBOTID", "chattype": "group" if chat else "single",
                   "from": {"userid": user}, "msgtype": kind,
                   "response_url": f"{self.fake.base_url}/wecom/cgi-bin/aibot/response?response_code={code}"}
        if chat:
            message["chatid"] = chat
        message.update({"text": {"content": text}} if kind == "text" else {kind: {"url": "https://example.invalid/x"}})
        encrypted = BOT_CRYPT.encrypt(json.dumps(message, ensure_ascii=False).encode())
        return json.dumps({"encrypt": encrypted}).encode(), encrypted, code

    def bot(self, user: str, text: str = "", chat: str | None = None, kind: str = "text") -> tuple[int, str]:
        body, encrypted, code = self.bot_body(user, text, chat, kind)
        return self.stack.post(BOT_PATH, body, {}, signed_query(BOT["token"], encrypted))[0], code

    def group_replies(self, chat: str, user: str) -> list[str]:
        return [c.body["text"]["content"] for c in self.fake.sent("/wecom/cgi-bin/appchat/send")
                if c.body.get("chatid") == chat and c.body["text"]["content"].startswith(f"@{user} ")]

    def direct_replies(self, user: str) -> list[str]:
        return [c.body["text"]["content"] for c in self.fake.sent("/wecom/cgi-bin/message/send")
                if c.body.get("touser") == user]

    def bot_replies(self, code: str) -> list[str]:
        return [c.body["markdown"]["content"] for c in self.fake.sent("/wecom/cgi-bin/aibot/response")
                if c.query.get("response_code") == code]

    def wait_for(self, *ready: Callable[[], list], seconds: float = 60) -> None:
        self.fake.wait_for(lambda _: all(check() for check in ready), seconds)

    def tickets_of(self, user: str) -> list[tuple]:
        return [t for t in self.stack.tickets() if user in t[3]]


@pytest.fixture(scope="module")
def wecom(stack, fake_platform) -> WeCom:
    fake_platform.routes["/wecom/cgi-bin/gettoken"] = lambda *_: (200, {"errcode": 0, "access_token": "ACCESS",
                                                                        "expires_in": 7200})
    for path in ("/cgi-bin/message/send", "/cgi-bin/appchat/send", "/cgi-bin/aibot/response"):
        fake_platform.routes["/wecom" + path] = lambda *_: (200, {"errcode": 0, "errmsg": "ok"})
    return WeCom(stack, fake_platform)


def test_both_callback_urls_are_verified(wecom):
    for path, crypt, token in ((APP_PATH, APP_CRYPT, APP["token"]), (BOT_PATH, BOT_CRYPT, BOT["token"])):
        echo = fresh("echo")
        encrypted = crypt.encrypt(echo.encode())
        assert wecom.stack.get(path + signed_query(token, encrypted, echostr=encrypted)) == (200, echo.encode())
        assert wecom.stack.get(path + signed_query("wrong", encrypted, echostr=encrypted))[0] == 401


def test_an_application_group_report_retried_three_times_is_filed_and_answered_once(wecom):
    user = fresh("app")
    body, encrypted = wecom.app_body(user, "小助手 7号楼暖气不热", JIN_YU_CHENG)
    query = signed_query(APP["token"], encrypted)
    for _ in range(3):  # WeCom retries a callback it thinks was not answered
        assert wecom.stack.post(APP_PATH, body, {"Content-Type": "text/xml"}, query) == (200, b"")
    wecom.wait_for(lambda: wecom.group_replies(JIN_YU_CHENG, user))
    time.sleep(3)
    [reply] = wecom.group_replies(JIN_YU_CHENG, user)
    assert "供暖" in reply and "金御城" in reply
    [(_, category, compound, _)] = wecom.tickets_of(user)
    assert (category, compound) == ("heating", "金御城")


def test_an_ai_bot_group_report_retried_three_times_is_filed_and_answered_once(wecom):
    user = fresh("bot")
    body, encrypted, code = wecom.bot_body(user, "@社区小助手 3号楼暖气不热", CUI_LIU_YUAN)
    query = signed_query(BOT["token"], encrypted)
    for _ in range(3):
        assert wecom.stack.post(BOT_PATH, body, {}, query) == (200, b"")
    wecom.wait_for(lambda: wecom.bot_replies(code))
    time.sleep(3)
    [reply] = wecom.bot_replies(code)  # a response_url answers once
    assert reply.startswith(f"<@{user}> ") and "供暖" in reply and "翠柳苑" in reply
    [(_, category, compound, _)] = wecom.tickets_of(user)
    assert (category, compound) == ("heating", "翠柳苑")


def test_residents_reporting_at_once_each_get_their_own_answer(wecom):
    app_user, bot_user, other = fresh("app"), fresh("bot"), fresh("bot")
    answers = {}

    def report(user, text):
        answers[user] = wecom.bot(user, text, CUI_LIU_YUAN)

    def report_in_the_app(user, text):
        answers[user] = wecom.app(user, text, JIN_YU_CHENG), None

    threads = [threading.Thread(target=report_in_the_app, args=(app_user, "小助手 12号楼楼道灯不亮了")),
               threading.Thread(target=report, args=(bot_user, "@社区小助手 2号楼楼道灯不亮了")),
               threading.Thread(target=report, args=(other, "@社区小助手 4号楼门口垃圾没人清"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers.values()] == [200, 200, 200]
    wecom.wait_for(lambda: wecom.group_replies(JIN_YU_CHENG, app_user),
                   lambda: wecom.bot_replies(answers[bot_user][1]), lambda: wecom.bot_replies(answers[other][1]))
    assert wecom.bot_replies(answers[bot_user][1])[0].startswith(f"<@{bot_user}> ")
    assert wecom.bot_replies(answers[other][1])[0].startswith(f"<@{other}> ")
    for user in (app_user, bot_user, other):
        assert wecom.tickets_of(user), user




def test_an_urgent_ai_bot_report_is_answered_through_its_single_use_response_url(wecom):
    user = fresh("bot")
    status, code = wecom.bot(user, "@社区小助手 3号楼电梯困人了 里面有个老太太 按铃没人理", CUI_LIU_YUAN)
    assert status == 200
    wecom.wait_for(lambda: wecom.bot_replies(code))
    time.sleep(3)
    [reply] = wecom.bot_replies(code)  # WeCom refuses a second POST to the same response_url
    assert "119" in reply and "街道" in reply


def test_images_are_asked_about(wecom):
    app_user, bot_user = fresh("app"), fresh("bot")
    assert wecom.app(app_user, kind="image") == 200
    status, code = wecom.bot(bot_user, kind="image")
    assert status == 200
    wecom.wait_for(lambda: wecom.direct_replies(app_user), lambda: wecom.bot_replies(code))
    assert wecom.direct_replies(app_user) == [QUESTIONS["image"]]  # 随手拍
    assert wecom.bot_replies(code) == [QUESTIONS["image"]]


def encrypted_for_another_corp(encrypted: str) -> str:
    plain = APP_CRYPT.decrypt(encrypted)
    return WXBizMsgCrypt(APP["token"], APP["encoding_aes_key"], "wwAnotherCorp").encrypt(plain)


def test_bad_callbacks_are_refused_and_the_server_keeps_working(wecom):
    user = fresh("app")
    body, encrypted = wecom.app_body(user, "你好")
    elsewhere = encrypted_for_another_corp(encrypted)
    bomb = (b"<!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
            b"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><xml><Encrypt>&c;</Encrypt></xml>")
    external = b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><xml><Encrypt>&e;</Encrypt></xml>"
    bot_body = json.dumps({"encrypt": encrypted}).encode()
    post = wecom.stack.post
    refused = {
        "wrong signature": post(APP_PATH, body, {}, signed_query("not-the-token", encrypted)),
        "stale timestamp": post(APP_PATH, body, {}, signed_query(APP["token"], encrypted, int(time.time()) - 3600)),
        "no signature": post(APP_PATH, body, {}, ""),
        "malformed xml": post(APP_PATH, b"<xml><Encrypt>", {}, signed_query(APP["token"], "x")),
        "entity expansion": post(APP_PATH, bomb, {}, signed_query(APP["token"], "a" * 1000)),
        "external entity": post(APP_PATH, external, {}, signed_query(APP["token"], "x")),
        "too large": post(APP_PATH, body + b" " * (257 * 1024), {}, signed_query(APP["token"], encrypted)),
        "another corp": post(APP_PATH, body.replace(encrypted.encode(), elsewhere.encode()), {},
                             signed_query(APP["token"], elsewhere)),
        "bot wrong signature": post(BOT_PATH, bot_body, {}, signed_query("not-the-token", encrypted)),
        "bot stale timestamp": post(BOT_PATH, bot_body, {}, signed_query(BOT["token"], encrypted, 1409659813)),
        "bot malformed json": post(BOT_PATH, b'{"encrypt": ', {}, signed_query(BOT["token"], "x")),
        "bot too large": post(BOT_PATH, json.dumps({"encrypt": "A" * 270_000}).encode(), {},
                              signed_query(BOT["token"], "A" * 270_000)),
    }
    assert {name: status for name, (status, _) in refused.items()} == {
        "wrong signature": 401, "stale timestamp": 401, "no signature": 401, "malformed xml": 400,
        "entity expansion": 400, "external entity": 400, "too large": 413, "another corp": 403,
        "bot wrong signature": 401, "bot stale timestamp": 401, "bot malformed json": 400, "bot too large": 413}
    log = wecom.stack.log_text()
    assert all(secret not in log for secret in (APP["secret"], APP["token"], APP["encoding_aes_key"],
                                                 BOT["token"], BOT["encoding_aes_key"]))
    assert wecom.app(user, "你好") == 200  # and the server still answers
    wecom.wait_for(lambda: wecom.direct_replies(user))


def test_the_limit_is_on_the_text_not_on_what_encryption_makes_of_it(wecom):
    """60 KB of text is about 80 KB once encrypted and in base64: taken; a text over 64 KB is not."""
    user, longest = fresh("app"), "7号楼暖气不热，" * 3000
    taken, encrypted = wecom.app_body(user, longest[:60 * 1024 // 3])  # 3 bytes a character in UTF-8
    assert len(taken) > 64 * 1024
    assert wecom.stack.post(APP_PATH, taken, {"Content-Type": "text/xml"}, signed_query(APP["token"], encrypted)) == (
        200, b"")
    wecom.wait_for(lambda: wecom.direct_replies(user))
    too_long, encrypted = wecom.app_body(fresh("app"), longest[:70 * 1024 // 3])
    assert wecom.stack.post(APP_PATH, too_long, {"Content-Type": "text/xml"},
                            signed_query(APP["token"], encrypted))[0] == 413
    assert "refused with 413: text over 64 KB" in wecom.stack.log_text()


def test_nothing_is_lost_while_wecom_is_down(wecom):
    app_user, bot_user = fresh("app"), fresh("bot")
    wecom.fake.down = True
    try:
        assert wecom.app(app_user, "你好") == 200
        status, code = wecom.bot(bot_user, "@社区小助手 你好", CUI_LIU_YUAN)
        assert status == 200
        time.sleep(8)  # answered, tried and failed meanwhile
        assert not wecom.direct_replies(app_user) and not wecom.bot_replies(code)
    finally:
        wecom.fake.down = False
    # the delivery loop retries every 5 s, the outbox's backoff starts at 5 s
    wecom.wait_for(lambda: wecom.direct_replies(app_user), lambda: wecom.bot_replies(code), seconds=90)
