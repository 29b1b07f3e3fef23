"""Property-based fuzzing (hypothesis) of every connector's parser and signature check and of
the location extractor.

Two layers: the parsing and signature functions directly, many cases each; then every webhook
of the real Rasa server (tests/stack/) with random bodies, with correctly signed and encrypted
but mutated messages, and with hostile ids, texts and nesting (lone surrogates, control and
bidirectional characters, huge values, wrong types, JSON nested thousands deep), Rasa's REST
channel included. The properties: a callback gets a 2xx or a 4xx, never a 5xx; nothing that is
not a refusal escapes a parser; the server logs no traceback and still answers.
"""
import base64
import copy
import json
import os
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.core.actions.action import RemoteAction

from bot.locations import FIELDS, LocationExtractor
from connectors import dingtalk, feishu, matrix, onebot, wechat_kf, wecom
from connectors.inbound import MalformedMessage, Refusal
from connectors.rasa_patches import check_action_results_with_one_validator
from connectors.wechat_mp import WeChatMpInput
from connectors.wecom_crypto import CryptoError, WXBizMsgCrypt
from connectors.wecom_crypto import signature as wecom_signature
from multi_stack import answer_like_dingtalk
from stack.dingtalk import APP_SECRET
from stack.feishu import ENCRYPT_KEY, VERIFICATION_TOKEN
from stack.onebot import SECRET as ONEBOT_SECRET
from stack.onebot import SELF_ID
from stack.wecom import APP, BOT
from test_dingtalk import body as dingtalk_body
from test_dingtalk import deliver as dingtalk_deliver
from test_feishu import encrypt as feishu_encrypt
from test_feishu import encrypted as feishu_encrypted
from test_feishu import message_event, signed_headers
from test_matrix import channel as matrix_channel
from test_matrix import message as matrix_message
from test_onebot import message_event as onebot_event
from test_onebot import signed as onebot_signed
from test_onebot import signed_raw as onebot_signed_raw
from test_wechat import KF_PATH, MP_CRYPT, MP_PATH, WeChat, kf_message, mp_xml
from test_wecom import APP_CRYPT, APP_PATH, BOT_CRYPT, BOT_PATH, app_xml, signed_query

# In CI the same cases every run (a failure there is this change's, not a new draw's); random
# cases elsewhere, which is how the crashes docs/testing.md names were found.
FAST = settings(max_examples=300, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow])
THROUGH_THE_SERVER = settings(max_examples=60, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# JSON of any shape; texts mix Chinese, ASCII and the characters the parsers care about
TEXTS = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("@<>&;\"'{}[]]]>号楼栋单元室-#"), max_size=40)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4),
                    max_leaves=12)


def _places(value: Any, found: list) -> list:
    """Every (container, key) inside a JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in list(items):
        found.append((value, key))
        _places(inner, found)
    return found


@st.composite
def mutated(draw, message: dict) -> dict:
    """`message` with one to three fields replaced by random JSON or removed."""
    message = copy.deepcopy(message)
    for _ in range(draw(st.integers(1, 3))):
        places = _places(message, [])
        if not places:
            break
        container, key = draw(st.sampled_from(places))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(JSON)
    return message


# -- the parsers and signature checks, directly -----------------------------------------------
@FAST
@given(JSON)
def test_a_dingtalk_callback_parses_or_is_refused_with_400(body):
    try:
        incoming = dingtalk.incoming_from(body, "https://oapi.dingtalk.com/robot/sendBySession")
    except Refusal as refused:
        assert refused.status == 400
        return
    assert isinstance(incoming.event_id, str) and isinstance(incoming.user_id, str)


@FAST
@given(st.text(max_size=20), st.text(max_size=60))
def test_a_dingtalk_sign_is_accepted_only_when_it_is_the_right_one(timestamp, sign):
    now = int(time.time() * 1000)
    try:
        dingtalk.check_signature(timestamp, sign, APP_SECRET, now)
    except Refusal as refused:
        assert refused.status == 401
    else:
        assert sign == dingtalk.signature(timestamp, APP_SECRET)
    fresh = str(now)
    dingtalk.check_signature(fresh, dingtalk.signature(fresh, APP_SECRET), APP_SECRET, now)


@FAST
@given(JSON, st.text(max_size=30))
def test_a_feishu_event_parses_or_is_nothing(event, event_id):
    try:
        incoming = feishu.incoming_from(event if isinstance(event, dict) else {"event": event}, event_id,
                                        "ou_bot", "社区小助手")
    except MalformedMessage as refused:
        assert refused.status == 400
        return
    assert incoming is None or isinstance(incoming.user_id, str)


@FAST
@given(st.binary(max_size=300), st.text(max_size=20), st.text(max_size=20), st.text(max_size=80))
def test_a_feishu_signature_is_accepted_only_when_it_is_the_right_one(body, timestamp, nonce, given_signature):
    channel = feishu.FeishuInput("cli_x", "secret", VERIFICATION_TOKEN, encrypt_key=ENCRYPT_KEY)
    headers = {"X-Lark-Signature": given_signature, "X-Lark-Request-Timestamp": timestamp,
               "X-Lark-Request-Nonce": nonce}
    try:
        signed = channel.check_signature(headers, body)
    except Refusal as refused:
        assert refused.status == 401
        return
    assert not given_signature or given_signature == feishu.signature(timestamp, nonce, ENCRYPT_KEY, body)
    assert signed == bool(given_signature)


@FAST
@given(st.binary(max_size=400))
def test_feishu_decrypts_or_raises_a_value_error(data):
    for encrypted in (data.decode("latin-1"), base64.b64encode(data).decode()):
        try:
            feishu.decrypt(ENCRYPT_KEY, encrypted)
        except ValueError:
            pass


@FAST
@given(st.text(max_size=50), st.text(max_size=12), st.text(max_size=12), st.binary(max_size=200))
def test_wecom_decrypts_only_what_is_signed_and_whole(msg_signature, timestamp, nonce, data):
    crypt = WXBizMsgCrypt(APP["token"], APP["encoding_aes_key"], APP["corp_id"])
    encrypted = base64.b64encode(data).decode()
    for given_signature in (msg_signature, wecom_signature(APP["token"], timestamp, nonce, encrypted)):
        try:
            crypt.decrypt_message(given_signature, timestamp, nonce, encrypted)
        except CryptoError:
            continue
        assert given_signature == wecom_signature(APP["token"], timestamp, nonce, encrypted)


@FAST
@given(st.binary(max_size=500) | TEXTS.map(lambda text: f"<xml><Encrypt>{text}</Encrypt></xml>".encode()))
def test_wecom_xml_parses_or_is_refused_with_400(raw):
    try:
        wecom.parsed_xml(raw)
    except Refusal as refused:
        assert refused.status == 400


@FAST
@given(JSON)
def test_a_wecom_ai_bot_message_parses_or_is_refused_with_400(message):
    channel = wecom.WeComBotInput(BOT["token"], BOT["encoding_aes_key"], "https://qyapi.weixin.qq.com",
                                  BOT["bot_name"], sender=wecom.WeComSender())
    try:
        incoming = channel.incoming(message if isinstance(message, dict) else {"msgtype": message})
    except Refusal as refused:
        assert refused.status == 400
        return
    assert incoming is None or isinstance(incoming.user_id, str)


@FAST
@given(JSON | st.builds(lambda fields: {**kf_message(), **fields}, st.dictionaries(TEXTS, JSON, max_size=4)))
def test_a_wechat_kf_stream_message_parses_or_is_refused(message):
    try:
        wechat_kf.incoming_from(message, time.time())
    except MalformedMessage:
        pass


@FAST
@given(st.binary(max_size=500) | TEXTS.map(lambda text: mp_xml(Content=text, MsgType="voice", Recognition=text)))
def test_an_official_account_message_parses_or_is_refused_with_400(raw):
    try:
        WeChatMpInput.incoming(wecom.parsed_xml(raw))
    except Refusal as refused:
        assert refused.status == 400


@FAST
@given(JSON)
def test_a_onebot_event_parses_or_is_refused_with_400(event):
    try:
        incoming = onebot.incoming_from(event if isinstance(event, dict) else {"post_type": "message",
                                                                              "message": event}, SELF_ID)
    except Refusal as refused:
        assert refused.status == 400
        return
    assert incoming is None or isinstance(incoming.user_id, str)


@FAST
@given(st.text(max_size=20).map(lambda t: f"[CQ:{t}") | TEXTS)
def test_cq_codes_parse_into_segments(message):
    assert all(isinstance(segment["data"], dict) for segment in onebot.parsed_cq(message))


@FAST
@given(st.binary(max_size=300), st.text(max_size=60))
def test_a_onebot_signature_is_accepted_only_when_it_is_the_right_one(body, given_signature):
    channel = onebot.OneBotInput("http://127.0.0.1:9", secret=ONEBOT_SECRET, self_id=SELF_ID)
    try:
        channel.check_signature(given_signature, body)
    except Refusal as refused:
        assert refused.status == 401
        return
    assert given_signature == onebot.signature(ONEBOT_SECRET, body)


@FAST
@given(data=st.data())
def test_a_matrix_room_event_is_a_message_or_nothing(data):
    """Matrix has no signature to check (the bot pulls from its homeserver with its token), but
    any event a client puts in a room must read as a message or be ignored."""
    event = data.draw(mutated(matrix_message("小助手 7号楼暖气不热")) | JSON.filter(lambda e: isinstance(e, dict)))
    try:
        incoming = matrix.incoming_from("!room:example.org", event, matrix_channel())
    except MalformedMessage:  # skipped by the sync loop, with a log line
        return
    assert incoming is None or isinstance(incoming.text, str)


@FAST
@given(data=st.data())
def test_action_results_are_judged_as_rasa_judges_them(data):
    """The validator built once (connectors/rasa_patches.py) agrees with jsonschema.validate."""
    answer = data.draw(mutated({"events": [{"event": "slot", "name": "compound", "value": "金御城"}],
                                "responses": [{"text": "已登记", "buttons": [], "custom": {}}]}) | JSON)
    try:
        jsonschema.validate(answer, RemoteAction.action_response_format_spec())
        valid = True
    except jsonschema.ValidationError:
        valid = False
    check_action_results_with_one_validator()
    try:
        assert RemoteAction("action_x", None)._validate_action_result(answer) and valid
    except jsonschema.ValidationError as error:
        assert not valid and "Failed to validate Action server response" in error.message


# -- the location extractor ---------------------------------------------------------------------
ADDRESSY = st.text(alphabet=st.sampled_from(list("0123456789一二三四五六七八九十百零两ABCab-－#号楼栋幢座单元室层房小区花园苑"
                                                 "金御城翠柳和平里暖气不热电梯坏了 ，。７")) | st.characters(codec="utf-8"),
                   max_size=60)


@pytest.fixture(scope="module")
def extractor() -> LocationExtractor:
    return LocationExtractor(["金御城", "翠柳苑", "和平里小区", "金御城小区"])


@FAST
@given(text=ADDRESSY)
def test_locations_are_found_inside_the_text_and_normalised(extractor, text):
    for found in extractor.extract(text):
        assert found.field in FIELDS and 0 <= found.start < found.end <= len(text)
        if found.field in ("unit", "room"):
            assert found.value.isdigit() and not found.value.startswith("0"), found
        if found.field == "building":
            assert (found.value.isdigit() and found.value[0] != "0") or (
                len(found.value) == 1 and found.value.isupper()), found
    assert set(extractor.fields(text)) <= set(FIELDS)


@FAST
@given(before=ADDRESSY, after=ADDRESSY)
def test_a_full_address_is_read_whatever_surrounds_it(extractor, before, after):
    text = f"{before}，金御城7号楼2单元502室，{after}"
    found = {(f.field, f.value) for f in extractor.extract(text)}
    assert {("compound", "金御城"), ("building", "7"), ("unit", "2"), ("room", "502")} <= found


# -- every webhook of the real Rasa server -------------------------------------------------------
DINGTALK, FEISHU, ONEBOT = "/webhooks/dingtalk/webhook", "/webhooks/feishu/webhook", "/webhooks/onebot/webhook"
WEBHOOKS = [APP_PATH, BOT_PATH, DINGTALK, FEISHU, ONEBOT, MP_PATH, KF_PATH]
HEADERS = st.dictionaries(st.sampled_from(["timestamp", "sign", "X-Lark-Signature", "X-Lark-Request-Timestamp",
                                           "X-Lark-Request-Nonce", "Content-Type", "X-Signature", "X-Self-ID"]),
                          st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
QUERIES = st.dictionaries(st.sampled_from(["msg_signature", "signature", "timestamp", "nonce", "echostr",
                                           "encrypt_type"]),
                          st.text(max_size=30)).map(lambda q: "?" + urlencode(q))


KF_STREAMS = WeChat(None, None)  # 微信客服's message streams, served to the stack by the fake platform


def unbound_group() -> str:
    """A group bound to no compound: fuzzed messages must not file tickets other tests count."""
    return f"fuzz-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def server(stack, fake_platform):
    """The stack, its log position before fuzzing, and the platform APIs answering."""
    answer_like_dingtalk(fake_platform)
    for path in ("/dingtalk/robot/sendBySession", "/wecom/cgi-bin/aibot/response", "/wecom/cgi-bin/message/send",
                 "/wecom/cgi-bin/appchat/send"):
        fake_platform.routes.setdefault(path, lambda *_: (200, {"errcode": 0}))
    fake_platform.routes.setdefault("/wecom/cgi-bin/gettoken", lambda *_: (200, {"errcode": 0, "access_token": "T"}))
    fake_platform.routes.setdefault("/wechat_mp/cgi-bin/token", lambda *_: (200, {"access_token": "T"}))
    fake_platform.routes.setdefault("/wechat_kf/cgi-bin/gettoken", lambda *_: (200, {"errcode": 0, "access_token": "T"}))
    for path in ("/wechat_mp/cgi-bin/message/custom/send", "/wechat_kf/cgi-bin/kf/send_msg",
                 "/wechat_kf/cgi-bin/kf/send_msg_on_event"):
        fake_platform.routes.setdefault(path, lambda *_: (200, {"errcode": 0}))
    fake_platform.routes["/wechat_kf/cgi-bin/kf/sync_msg"] = KF_STREAMS.sync_msg
    KF_STREAMS.stack = stack
    start = len(stack.log_text())
    yield stack
    time.sleep(5)  # what was accepted is processed in the background
    assert "Traceback" not in stack.log_text()[start:], stack.log_text()[start:][-3000:]
    assert stack.get("/status")[0] == 200


def assert_handled(status: int) -> None:
    assert 200 <= status < 300 or 400 <= status < 500, status


@THROUGH_THE_SERVER
@given(path=st.sampled_from(WEBHOOKS), raw=st.binary(max_size=2000), headers=HEADERS, query=QUERIES)
def test_random_requests_are_refused_by_every_webhook(server, path, raw, headers, query):
    status, _ = server.post(path, raw, headers, query)
    assert 400 <= status < 500, status


@THROUGH_THE_SERVER
@given(data=st.data())
def test_signed_mutated_dingtalk_callbacks_are_handled(server, data):
    message = data.draw(mutated(dingtalk_body("你好", user=uuid.uuid4().hex[:10], group=unbound_group())))
    assert_handled(dingtalk_deliver(server, message)[0])


@THROUGH_THE_SERVER
@given(data=st.data())
def test_signed_mutated_feishu_events_are_handled(server, data):
    event = data.draw(mutated(message_event(f"ou_{uuid.uuid4().hex[:10]}", "你好", chat_id=unbound_group())))
    raw = feishu_encrypted(event) if data.draw(st.booleans()) else json.dumps(event).encode()
    assert_handled(server.post(FEISHU, raw, signed_headers(raw))[0])


@THROUGH_THE_SERVER
@given(data=st.data())
def test_signed_mutated_wecom_application_messages_are_handled(server, data):
    message = {"ToUserName": APP["corp_id"], "FromUserName": uuid.uuid4().hex[:10], "CreateTime": "1700000000",
               "MsgType": "text", "Content": "你好", "MsgId": str(uuid.uuid4().int % 10 ** 18),
               "AgentID": "1000002", "ChatId": unbound_group()}
    fields = {**dict.fromkeys(message), **data.draw(mutated(message))}  # None: the element is left out
    inner = app_xml(**{key: value if isinstance(value, str) or value is None else json.dumps(value)
                       for key, value in fields.items()})
    encrypted = APP_CRYPT.encrypt(inner)
    raw = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    assert_handled(server.post(APP_PATH, raw, {"Content-Type": "text/xml"}, signed_query(APP["token"], encrypted))[0])


@THROUGH_THE_SERVER
@given(data=st.data())
def test_signed_mutated_wecom_ai_bot_messages_are_handled(server, fake_platform, data):
    message = data.draw(mutated({
        "msgid": uuid.uuid4().hex, "aibotid": "AIBOTID", "chattype": "group", "chatid": unbound_group(),
        "from": {"userid": uuid.uuid4().hex[:10]}, "msgtype": "text", "text": {"content": "@社区小助手 你好"},
        "response_url": f"{fake_platform.base_url}/wecom/cgi-bin/aibot/response?response_code=x"}))
    encrypted = BOT_CRYPT.encrypt(json.dumps(message, ensure_ascii=False).encode())
    assert_handled(server.post(BOT_PATH, json.dumps({"encrypt": encrypted}).encode(), {},
                               signed_query(BOT["token"], encrypted))[0])


@THROUGH_THE_SERVER
@given(data=st.data())
def test_signed_mutated_onebot_events_are_handled(server, data):
    user = str(uuid.uuid4().int % 10 ** 9 + 10 ** 9)
    event = data.draw(mutated(onebot_event(user, [{"type": "at", "data": {"qq": SELF_ID}},
                                                  {"type": "text", "data": {"text": " 你好"}}],
                                           group_id=str(uuid.uuid4().int % 10 ** 9 + 2 * 10 ** 9))))
    assert_handled(server.post(ONEBOT, *onebot_signed(event))[0])


# -- hostile ids, texts and nesting, through every webhook and Rasa's REST channel ----------------
REST = "/webhooks/rest/webhook"
DEEP = "deep-nesting-goes-here"  # a value replaced by JSON nested deeper than any parser should go
HOSTILE_PARTS = ["\ud800", "\udfff", "\x00", "\x07", "\x1b", "\x85", "\r", "\u202e", "\u2066", "\u200f", "\u061c",
                 "\ufeff", "小区", "a", " ", "@", ":"]
HOSTILE_TEXT = (st.lists(st.sampled_from(HOSTILE_PARTS), min_size=1, max_size=6).map("".join)
                | st.text(alphabet=st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp"]), min_size=1, max_size=8)
                | st.sampled_from([129, 3000, 25_000]).map(lambda n: "号" * n))  # too long for an id, a text
HOSTILE = HOSTILE_TEXT | JSON.filter(lambda value: not isinstance(value, str)) | st.just(DEEP)  # or the wrong type
HOSTILE_THROUGH_THE_SERVER = settings(THROUGH_THE_SERVER, max_examples=25)


def as_json(message: Any, levels: int) -> str:
    """ASCII JSON (a lone surrogate goes as its escape, which is valid JSON), with DEEP nested `levels` deep."""
    return json.dumps(message).replace(json.dumps(DEEP), "[" * levels + "]" * levels)


def put(message: dict, path: tuple, value: Any) -> dict:
    """`message` with `value` at `path` (unchanged when an earlier change took the path away)."""
    message = copy.deepcopy(message)
    inner = message
    try:
        for key in path[:-1]:
            inner = inner[key]
        inner[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        pass
    return message


def hostile(data, message: dict, paths: list[tuple]) -> str:
    """`message` with one or two of `paths` made hostile, as JSON."""
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=2, unique=True)):
        message = put(message, path, data.draw(HOSTILE))
    return as_json(message, data.draw(st.sampled_from([33, 2000, 50_000])))


def test_a_rest_sender_id_the_database_cannot_encode_leaves_the_server_up(server):
    """Rasa's SQL tracker store took the UnicodeEncodeError for a missing schema and exited."""
    status, _ = server.post(REST, b'{"sender": "rest:g:\\ud800", "message": "\\u4f60\\u597d"}')
    assert status < 500
    assert server.get("/status")[0] == 200
    assert server.rest(f"rest:{uuid.uuid4().hex[:8]}", "你好")  # and everyone else is answered


@HOSTILE_THROUGH_THE_SERVER
@given(data=st.data())
def test_hostile_rest_messages_are_handled(server, data):
    message = {"sender": f"rest:{unbound_group()}:{uuid.uuid4().hex[:8]}", "message": "你好",
               "metadata": {"display_name": "王阿姨"}}
    raw = hostile(data, message, [("sender",), ("message",), ("metadata",), ("metadata", "display_name")])
    assert_handled(server.post(REST, raw.encode())[0])


@HOSTILE_THROUGH_THE_SERVER
@given(data=st.data())
def test_hostile_dingtalk_callbacks_are_handled(server, data):
    message = dingtalk_body("你好", user=uuid.uuid4().hex[:10], group=unbound_group())
    raw = hostile(data, message, [("senderStaffId",), ("senderId",), ("conversationId",), ("msgId",),
                                  ("senderNick",), ("conversationType",), ("text", "content"), ("text",)])
    assert_handled(dingtalk_deliver(server, raw=raw.encode())[0])


@HOSTILE_THROUGH_THE_SERVER
@given(data=st.data())
def test_hostile_feishu_events_are_handled(server, data):
    event = message_event(f"ou_{uuid.uuid4().hex[:10]}", "你好", chat_id=unbound_group())
    if data.draw(st.booleans()):  # the text, inside the content's own JSON
        event["event"]["message"]["content"] = hostile(data, {"text": "你好"}, [("text",)])
        plain = as_json(event, 0)
    else:
        plain = hostile(data, event, [("header", "event_id"), ("event", "sender", "sender_id", "open_id"),
                                      ("event", "message", "chat_id"), ("event", "message", "message_type"),
                                      ("event", "message", "content"), ("event", "message", "mentions")])
    raw = json.dumps({"encrypt": feishu_encrypt(ENCRYPT_KEY, plain)}).encode()
    assert_handled(server.post(FEISHU, raw, signed_headers(raw))[0])


@HOSTILE_THROUGH_THE_SERVER
@given(data=st.data())
def test_hostile_wecom_ai_bot_messages_are_handled(server, fake_platform, data):
    message = {"msgid": uuid.uuid4().hex, "aibotid": "AIBOTID", "chattype": "group", "chatid": unbound_group(),
               "from": {"userid": uuid.uuid4().hex[:10]}, "msgtype": "text", "text": {"content": "@社区小助手 你好"},
               "response_url": f"{fake_platform.base_url}/wecom/cgi-bin/aibot/response?response_code=x"}
    if data.draw(st.booleans()):
        message.update(msgtype="mixed", mixed={"msg_item": [{"msgtype": "text", "text": {"content": "你好"}}]})
    plain = hostile(data, message, [("msgid",), ("chatid",), ("from", "userid"), ("from",), ("text", "content"),
                                    ("mixed",), ("msgtype",)])
    encrypted = BOT_CRYPT.encrypt(plain.encode())
    assert_handled(server.post(BOT_PATH, json.dumps({"encrypt": encrypted}).encode(), {},
                               signed_query(BOT["token"], encrypted))[0])


@HOSTILE_THROUGH_THE_SERVER
@given(data=st.data())
def test_hostile_wecom_application_messages_are_handled(server, data):
    """XML carries no types and no lone surrogates (they are not UTF-8): what is left is texts."""
    fields = {"ToUserName": APP["corp_id"], "FromUserName": uuid.uuid4().hex[:10], "CreateTime": "1700000000",
              "MsgType": "text", "Content": "你好", "MsgId": str(uuid.uuid4().int % 10 ** 18), "AgentID": "1000002",
              "ChatId": unbound_group()}
    for name in data.draw(st.lists(st.sampled_from(["FromUserName", "MsgId", "ChatId", "Content"]), min_size=1,
                                   max_size=2, unique=True)):
        fields[name] = data.draw(HOSTILE_TEXT)
    inner = ("<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>")
    encrypted = APP_CRYPT.encrypt(inner.encode("utf-8", "surrogatepass"))
    raw = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    assert_handled(server.post(APP_PATH, raw, {"Content-Type": "text/xml"}, signed_query(APP["token"], encrypted))[0])


@HOSTILE_THROUGH_THE_SERVER
@given(data=st.data())
def test_hostile_onebot_events_are_handled(server, data):
    user = str(uuid.uuid4().int % 10 ** 9 + 10 ** 9)
    event = onebot_event(user, [{"type": "at", "data": {"qq": SELF_ID}}, {"type": "text", "data": {"text": " 你好"}}],
                         group_id=str(uuid.uuid4().int % 10 ** 9 + 2 * 10 ** 9))
    raw = hostile(data, event, [("user_id",), ("group_id",), ("message_id",), ("sender", "card"),
                                ("sender", "nickname"), ("message", 1, "data", "text"), ("message", 1, "type"),
                                ("message",)])
    assert_handled(server.post(ONEBOT, *onebot_signed_raw(raw.encode()))[0])


@THROUGH_THE_SERVER
@given(data=st.data())
def test_signed_mutated_official_account_messages_are_handled(server, data):
    message = {"ToUserName": "gh_test", "FromUserName": uuid.uuid4().hex[:10], "CreateTime": "1700000000",
               "MsgType": data.draw(st.sampled_from(["text", "voice", "event", "image"])), "Content": "你好",
               "Recognition": "你好", "Event": "subscribe", "MsgId": str(uuid.uuid4().int % 10 ** 18)}
    fields = {**dict.fromkeys(message), **data.draw(mutated(message))}  # None: the element is left out
    inner = mp_xml(**{key: value if isinstance(value, str) or value is None else json.dumps(value)
                      for key, value in fields.items()})
    encrypted = MP_CRYPT.encrypt(inner)
    raw = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    channel = WeChat(server, None)
    query = channel.mp_query(encrypted) if data.draw(st.booleans()) else channel.mp_query()
    assert_handled(server.post(MP_PATH, raw if "msg_signature" in query else inner, {}, query)[0])


@THROUGH_THE_SERVER
@given(data=st.data())
def test_mutated_wechat_kf_stream_messages_are_handled(server, data):
    """The callback is signed; what kf/sync_msg then brings is mutated, and must not stop the stream."""
    open_kfid = f"wkfuzz{uuid.uuid4().hex[:8]}"
    message = data.draw(mutated(kf_message(open_kfid=open_kfid, external_userid=uuid.uuid4().hex[:10],
                                           msgid=uuid.uuid4().hex, text={"content": "你好"})))
    KF_STREAMS.streams[open_kfid] = [message, data.draw(JSON)]
    assert server.post(*KF_STREAMS.kf_request(open_kfid))[0] == 200
