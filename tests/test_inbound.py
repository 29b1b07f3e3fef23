"""The edge of the shared core (connectors/inbound.py): what a platform sends is read, checked and
cleaned in one place, and what each platform documents as text must be text."""
import json
import time

import pytest

from connectors import dingtalk, feishu, matrix, onebot
from connectors.group_chat import Incoming
from connectors.inbound import (MAX_DEPTH, MAX_ID, MAX_TEXT, MalformedMessage, Refusal, TextTooLong, checked_id,
                                clean_text, json_object, nesting)
from connectors.rasa_chat import RasaGroupChat
from test_dingtalk import body as dingtalk_body
from test_feishu import message_event as feishu_event
from test_group_chat import Bot, Platform, database, take  # noqa: F401 - database: autouse fixture
from test_matrix import channel as matrix_channel
from test_matrix import message as matrix_message
from test_onebot import message_event as onebot_event
from test_wecom import bot_channel, bot_message

RLO, PDI = "\u202e", "\u2069"  # right-to-left override, pop directional isolate


# reading JSON ---------------------------------------------------------------------------------
def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.parametrize("raw", [deep(100_000), "[" * 100_000 + "]" * 100_000, '{"a": ' + "[" * 40 + "]" * 40 + "}"])
def test_json_nested_deeper_than_the_limit_is_refused_before_it_is_parsed(raw, monkeypatch):
    def never(*_):
        raise AssertionError("parsed")
    monkeypatch.setattr(json, "loads", never)  # Python's parser would recurse once per level
    with pytest.raises(MalformedMessage, match="deeper"):
        json_object(raw.encode())


def test_brackets_inside_strings_are_text_not_nesting():
    text = '["\\"[' + "[" * 100 + '", "\\\\", {"a": [1]}]'
    assert nesting(text) == 3
    assert json_object(deep(MAX_DEPTH)) and json_object('{"text": "' + "[{" * 1000 + '"}')


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", '{"a": 1}'.encode("utf-16"), b"[1, 2]", b'"text"', b"", b'{"a": ',
                                 b"1" * 5000])
def test_what_is_not_a_utf8_json_object_is_refused(raw):
    with pytest.raises(MalformedMessage) as refused:
        json_object(raw)
    assert refused.value.status == 400


# texts and ids ----------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, clean", [
    ("7号楼\ud800暖气", "7号楼\ufffd暖气"),
    ("a\x00b\x07c\x1bd\x7fe\x85f", "abcdef"),
    ("第一行\r\n第二行\r第三行\t完", "第一行\n第二行\n第三行\t完"),
    (f"暖气{RLO}热不{PDI}\u2066\u200e\u200f\u061c\u202a", "暖气热不"),
    ("😀 emoji and 中文 stay", "😀 emoji and 中文 stay"),
])
def test_a_text_is_cleaned_of_what_no_one_should_read(raw, clean):
    assert clean_text(raw) == clean


@pytest.mark.parametrize("bad", ["", "a\ud800", "a\x00", "a\nb", f"user{RLO}", "\u2066x", "x" * (MAX_ID + 1), 7,
                                 ["alice"], None])
def test_an_id_must_be_well_formed_short_text(bad):
    with pytest.raises(MalformedMessage):
        checked_id(bad)


def test_real_ids_pass_unchanged():
    for real in ("ou_7d8a6e6df7621556ce0d21922b676706ccs", "$:LWCP_v1:$ABCdef12==", "!abc:matrix.org",
                 "@张三:example.org", "wrOgQhDgAAJinYuCheng01", "x" * MAX_ID):
        assert checked_id(real) == real


def message(**fields) -> Incoming:
    return Incoming(**{"platform": "wecom", "event_id": "e1", "user_id": "alice", "text": "你好", **fields})


@pytest.mark.parametrize("field", ["user_id", "group_id", "event_id"])
@pytest.mark.parametrize("bad", ["\ud800", "a\x00b", f"a{RLO}b", "x" * 1000, ""])
def test_a_message_with_an_unusable_id_is_malformed(field, bad):
    with pytest.raises(MalformedMessage):
        message(**{field: bad})


def test_a_message_is_cleaned_once_when_it_comes_in():
    incoming = message(text=f"7号楼{RLO}\ud800\x00暖气不热", display_name=f"王阿姨{RLO}\x07" + "长" * 300)
    assert incoming.text == "7号楼\ufffd暖气不热"
    assert incoming.display_name == "王阿姨" + "长" * 97
    assert message(display_name=f"{RLO}\x00").display_name is None


def test_a_text_over_the_limit_is_refused_with_413_and_one_at_the_limit_is_not():
    assert len(message(text="啊" * (MAX_TEXT // 3)).text) == MAX_TEXT // 3
    with pytest.raises(TextTooLong) as refused:
        message(text="啊" * (MAX_TEXT // 3 + 1))
    assert refused.value.status == 413


async def test_bidirectional_overrides_reach_nothing_downstream():
    """A resident's U+202E would turn around the rest of a staff notification ("…居民‮王阿姨 反映：…")."""
    bot, platform = Bot(), Platform()
    resident = Incoming(platform="wecom", event_id="bidi1", user_id="alice", text=f"7号楼{RLO}暖气不热{PDI}",
                        group_id="wrOgQhDgAAJinYuCheng01", display_name=f"王阿姨{RLO}", mentioned=True)
    assert await take(RasaGroupChat("wecom", platform.send), bot, resident)
    [(sender_id, text, metadata)] = bot.heard
    assert text == "7号楼暖气不热" and metadata["display_name"] == "王阿姨"
    assert not any(mark in repr(bot.heard) + repr(platform.sent) for mark in (RLO, PDI))


# what each platform documents as text must be text ------------------------------------------------
PREFIX = "https://oapi.dingtalk.com/robot/sendBySession"


@pytest.mark.parametrize("fields", [{"text": {"content": 7}}, {"msgId": {"id": "m1"}}, {"senderStaffId": ["alice"]},
                                    {"senderStaffId": None, "senderId": 12345}, {"conversationId": 42},
                                    {"senderNick": ["王"]}, {"conversationType": 2}])
def test_a_dingtalk_field_of_the_wrong_type_is_refused(fields):
    with pytest.raises(ValueError):
        dingtalk.incoming_from(dingtalk_body(**{"group": "cidGroup=="}) | fields, PREFIX)


@pytest.mark.parametrize("fields", [{"user_id": ["10001"]}, {"user_id": True}, {"group_id": {"id": 1}},
                                    {"message_id": 1.5}, {"message": [{"type": "text", "data": {"text": 42}}]},
                                    {"sender": {"card": ["王"]}}])
def test_a_onebot_field_of_the_wrong_type_is_refused(fields):
    with pytest.raises(MalformedMessage):
        onebot.incoming_from(onebot_event("10001", "小助手 你好", group_id="20002") | fields, "90001")


def test_onebot_ids_may_be_numbers_or_a_bridges_text():
    assert onebot.incoming_from(onebot_event("10001", "你好", group_id="20002"), "90001").user_id == "10001"
    assert onebot.incoming_from(onebot_event("10001", "你好") | {"user_id": "bridge_7"}, "90001").user_id == "bridge_7"


@pytest.mark.parametrize("fields", [{"text": {"content": ["7号楼"]}}, {"text": {"content": 7}},
                                    {"msgtype": "mixed", "mixed": {"msg_item": 5}},
                                    {"msgtype": "mixed", "mixed": {"msg_item": [{"msgtype": "text",
                                                                                 "text": {"content": {}}}]}},
                                    {"chatid": 42}])
def test_a_wecom_ai_bot_field_of_the_wrong_type_is_refused(fields):
    with pytest.raises(MalformedMessage):
        bot_channel().incoming(bot_message(**fields))


def test_a_feishu_field_of_the_wrong_type_is_refused():
    event = feishu_event("ou_alice", "你好")
    for message in ({"message_type": ["text"]}, {"content": {"text": "你好"}}, {"content": '{"text": 7}'},
                    {"content": deep(100_000)}, {"chat_id": 42}, {"mentions": True}):
        with pytest.raises(MalformedMessage):
            feishu.incoming_from({**event["event"], "message": {**event["event"]["message"], **message}}, "e1",
                                 None, "社区小助手")
    with pytest.raises(MalformedMessage):
        feishu.incoming_from(event["event"], {"id": "e1"}, None, "社区小助手")


def test_a_matrix_event_of_the_wrong_shape_is_read_or_refused_never_an_error():
    """An error here would fail the whole sync, and the loop would take the same events again."""
    room = "!room:example.org"
    odd = matrix_message("小助手 你好", **{"m.mentions": {"user_ids": 5}})
    assert matrix.incoming_from(room, odd, matrix_channel()).text == "小助手 你好"
    with pytest.raises(MalformedMessage):
        matrix.incoming_from(room, matrix_message("你好", sender=f"@eve{RLO}:example.org"), matrix_channel())


def test_the_wecom_ai_bots_encrypted_field_must_be_base64_text():
    class Request:  # signed with anything: the signature itself could not be computed of a lone surrogate
        body = json.dumps({"encrypt": "\ud800"}).encode()
        args = {"msg_signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "1"}
    with pytest.raises(Refusal) as refused:
        bot_channel().read(Request())
    assert refused.value.status == 400
