"""OneBot v11: CQ codes and events cross-checked against nonebot-adapter-onebot (an independent
implementation), the HTTP API sender against the fake platform, and conversations through the
real webhook of the real Rasa server (signed reports; replies recorded by the fake OneBot API)."""
import hashlib
import hmac
import json
import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from nonebot.adapters.onebot.v11 import Adapter
from nonebot.adapters.onebot.v11 import Message as NonebotMessage
from nonebot.adapters.onebot.v11.bot import _check_at_me

from bot.media import QUESTIONS
from bot.models import OutboxMessage
from connectors.inbound import Refusal
from connectors.onebot import OneBotError, OneBotInput, incoming_from, parsed_cq, signature
from stack.onebot import ACCESS_TOKEN, API_PREFIX, SECRET, SELF_ID

WEBHOOK = "/webhooks/onebot/webhook"
GROUP = "100000001"  # bound to 东风新村 in org/sample_site.yml
SECRETARY = "10000023"  # 东风新村's branch secretary on QQ


# what a OneBot implementation reports ------------------------------------------------------
def message_event(user_id: str, message, group_id: str | None = GROUP, message_id: int | None = None,
                  self_id: str = SELF_ID, card: str = "") -> dict:
    """A `post_type: message` event as the OneBot v11 spec (and NapCat, go-cqhttp) report it."""
    raw = message if isinstance(message, str) else "".join(
        s["data"]["text"] if s["type"] == "text" else f"[CQ:{s['type']},qq={s['data'].get('qq')}]" for s in message)
    event = {"time": int(time.time()), "self_id": int(self_id), "post_type": "message",
             "message_type": "group" if group_id else "private", "sub_type": "normal" if group_id else "friend",
             "message_id": message_id or uuid.uuid4().int % 2 ** 31, "user_id": int(user_id), "message": message,
             "raw_message": raw, "font": 0,
             "sender": {"user_id": int(user_id), "nickname": f"居民{user_id[-3:]}", "card": card, "sex": "unknown",
                        "age": 0}}
    if group_id:
        event.update(group_id=int(group_id), anonymous=None)
        event["sender"].update(area="", level="", role="member", title="")
    return event


def at(qq: str) -> dict:
    return {"type": "at", "data": {"qq": qq}}


def text(content: str) -> dict:
    return {"type": "text", "data": {"text": content}}


# CQ codes and events, against nonebot ------------------------------------------------------
@pytest.mark.parametrize("cq", [
    "[CQ:at,qq=10001] 7号楼暖气不热",
    "[CQ:at,qq=10001]&#91;紧急&#93; 3号楼电梯困人了 &amp; 没人接电话",
    "东风新村[CQ:face,id=178]5号楼停水了[CQ:image,file=abc.image,url=https://x/y?a=1&amp;b=2,]",
    "[CQ:reply,id=123][CQ:at,qq=10001] [CQ:at,qq=all] 明天停电吗",
    "[CQ:share,url=https://example.org/a&#44;b,title=通知&#91;一&#93;]",
    "纯文字，没有CQ码 [但有方括号] 和 & 符号",
    "[CQ:record,file=voice.amr]",
    "",
])
def test_cq_codes_parse_as_nonebot_parses_them(cq):
    theirs = [{"type": segment.type, "data": dict(segment.data)} for segment in NonebotMessage(cq)]
    assert parsed_cq(cq) == theirs


def nonebot_view(event: dict) -> tuple:
    """(plain text, addressed to the bot, user, group, message id) as nonebot reads the event."""
    theirs = Adapter.json_to_event(json.loads(json.dumps(event)))
    _check_at_me(SimpleNamespace(self_id=str(event["self_id"])), theirs)
    return (theirs.get_plaintext().strip(), theirs.to_me, str(theirs.user_id),
            str(getattr(theirs, "group_id", None) or "") or None, theirs.message_id)


@pytest.mark.parametrize("message", [
    [at(SELF_ID), text(" 7号楼暖气不热，家里才十五度")],
    "[CQ:at,qq=10001] 3号楼楼道灯&#91;声控&#93;坏了",
    [text("5号楼门口垃圾没人清 "), at(SELF_ID)],
    [text("今晚谁去跳广场舞")],
    "小助手 2号楼停水了",
    [at("20002"), text(" 你家漏水了")],
], ids=["array-leading-at", "cq-string", "trailing-at", "chatter", "keyword", "someone-else"])
def test_group_events_read_as_nonebot_reads_them(message):
    event = message_event("123456", message)
    ours = incoming_from(event, SELF_ID)
    plain, to_me, user, group, message_id = nonebot_view(event)
    assert (ours.user_id, ours.group_id, ours.event_id) == (user, group, f"{SELF_ID}:{message_id}")
    assert ours.mentioned == to_me
    if "20002" in json.dumps(message):  # nonebot's plain text leaves other people's mentions out
        assert ours.text == "@20002 你家漏水了" and plain == "你家漏水了"
    else:
        assert ours.text == plain


def test_a_private_message_and_its_sender():
    event = message_event("654321", "电梯坏了", group_id=None)
    ours = incoming_from(event, SELF_ID)
    plain, to_me, user, group, _ = nonebot_view(event)
    assert (ours.text, ours.group_id, ours.user_id, ours.display_name) == (plain, group, user, "居民321")
    assert to_me and not ours.mentioned  # one-to-one: the core answers every message anyway
    carded = incoming_from(message_event("654321", "x", card="7-2-301 王阿姨"), SELF_ID)
    assert carded.display_name == "7-2-301 王阿姨"  # the group card beats the nickname


def test_pictures_voice_and_stickers_have_their_kind():
    def kind(message):
        return incoming_from(message_event("1", message, group_id=None), SELF_ID).kind
    assert kind("[CQ:image,file=a.jpg]") == "image"
    assert kind([{"type": "record", "data": {"file": "a.amr"}}]) == "voice"
    assert kind("[CQ:face,id=178]") == "sticker"
    assert kind("[CQ:image,file=a.jpg]3号楼这里漏水") == "text"  # text with a photo is read as text


def test_other_events_and_broken_messages():
    assert incoming_from({"post_type": "meta_event", "meta_event_type": "heartbeat"}, SELF_ID) is None
    assert incoming_from({"post_type": "notice", "notice_type": "group_increase"}, SELF_ID) is None
    for broken in ({"message_type": "group", "user_id": 1, "message_id": 2, "message": "x"},  # no group_id
                   {"message_type": "discuss", "user_id": 1, "message_id": 2, "message": "x"},
                   {"message_type": "private", "message_id": 2, "message": "x"},
                   {"message_type": "private", "user_id": 1, "message_id": 2, "message": 42}):
        with pytest.raises(Refusal) as refused:
            incoming_from({"post_type": "message", **broken}, SELF_ID)
        assert refused.value.status == 400


def test_the_signature_is_hmac_sha1_of_the_body():
    # RFC 2104 / the well-known HMAC-SHA1 example, as `sha1=<hex>` (OneBot v11, HTTP POST 上报)
    assert signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9")


# the HTTP API sender -------------------------------------------------------------------------
@pytest.fixture
def onebot_api(fake_platform):
    prefix, state = f"/onebot-{uuid.uuid4().hex[:8]}", {"answer": (200, {"status": "ok", "retcode": 0})}
    for action in ("send_group_msg", "send_private_msg"):
        fake_platform.routes[f"{prefix}/{action}"] = lambda *_: state["answer"]
    return prefix, state


async def test_a_group_reply_mentions_the_resident_and_a_private_one_does_not(fake_platform, onebot_api):
    prefix, _ = onebot_api
    onebot = OneBotInput(fake_platform.base_url + prefix, access_token="tok")
    await onebot.send(OutboxMessage(id=1, recipient=f"onebot:{GROUP}:123456", text="已登记"))
    await onebot.send(OutboxMessage(id=2, recipient=f"onebot:dm:{SECRETARY}", text="新工单"))
    await onebot.close()
    [group] = fake_platform.sent(prefix + "/send_group_msg")
    assert group.body == {"group_id": 100000001, "message": [at("123456"), text(" 已登记")]}
    [direct] = fake_platform.sent(prefix + "/send_private_msg")
    assert direct.body == {"user_id": 10000023, "message": [text("新工单")]}
    assert group.headers["Authorization"] == direct.headers["Authorization"] == "Bearer tok"


@pytest.mark.parametrize("answer", [(200, {"status": "failed", "retcode": 100, "wording": "群不存在"}),
                                    (401, {}), (403, {}), (200, ["not", "an", "object"])])
async def test_a_refused_send_raises_so_the_outbox_retries(fake_platform, onebot_api, answer):
    prefix, state = onebot_api
    state["answer"] = answer
    onebot = OneBotInput(fake_platform.base_url + prefix, access_token="tok")
    with pytest.raises(OneBotError) as failed:
        await onebot.send(OutboxMessage(id=3, recipient=f"onebot:{GROUP}:123456", text="x"))
    assert "tok" not in str(failed.value)
    await onebot.close()


async def test_an_unreachable_api_raises():
    onebot = OneBotInput("http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(OneBotError):
        await onebot.send(OutboxMessage(id=4, recipient="onebot:dm:1", text="x"))
    await onebot.close()


# through the real Rasa server --------------------------------------------------------------
@pytest.fixture(scope="module")
def onebot(stack, fake_platform):
    for action in ("send_group_msg", "send_private_msg"):
        fake_platform.routes[f"{API_PREFIX}/{action}"] = lambda *_: (
            200, {"status": "ok", "retcode": 0, "data": {"message_id": uuid.uuid4().int % 2 ** 31}})
    return stack


def signed(event: dict, secret: str = SECRET) -> tuple[bytes, dict]:
    body = json.dumps(event, ensure_ascii=False).encode()
    # HTTP headers are ASCII: a mangled self_id goes as its escaped form (and then disagrees with the body)
    return body, {"X-Self-ID": str(event.get("self_id", SELF_ID)).encode("ascii", "backslashreplace").decode(),
                  "X-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def report(stack, event: dict) -> int:
    return stack.post(WEBHOOK, *signed(event))[0]


def replies(calls, user: str, group: str | None = GROUP) -> list[str]:
    """What the bot sent `user`: @-mentioned in `group`, or privately when `group` is None."""
    texts = []
    for call in calls:
        if group and call.path == API_PREFIX + "/send_group_msg" and call.body.get("group_id") == int(group):
            first, *rest = call.body["message"]
            if first == at(user):
                texts.append("".join(s["data"]["text"] for s in rest).strip())
        elif not group and call.path == API_PREFIX + "/send_private_msg" and call.body.get("user_id") == int(user):
            texts.append("".join(s["data"]["text"] for s in call.body["message"]))
    return texts


def wait_for_replies(fake_platform, user: str, group: str | None = GROUP) -> list[str]:
    return replies(fake_platform.wait_for(lambda calls: replies(calls, user, group), seconds=120), user, group)


def tickets_of(stack, user: str) -> list[tuple]:
    return [ticket for ticket in stack.tickets() if user in ticket[3]]


def test_a_group_report_reported_three_times_is_answered_once_with_an_at(onebot, fake_platform):
    event = message_event("30000001", [at(SELF_ID), text(" 2号楼暖气不热 屋里才十五度")])
    for _ in range(3):  # an implementation that timed out on us reports again
        assert report(onebot, event) == 204
    [reply] = wait_for_replies(fake_platform, "30000001")
    assert "供暖" in reply and "东风新村" in reply
    [(_, category, compound, _)] = tickets_of(onebot, "30000001")
    assert (category, compound) == ("heating", "东风新村")
    assert wait_for_replies(fake_platform, SECRETARY, group=None)  # the branch secretary hears of it on QQ
    time.sleep(3)
    assert len(replies(fake_platform.calls, "30000001")) == 1
    sent = [c for c in fake_platform.sent(API_PREFIX + "/send_group_msg")]
    assert {c.headers.get("Authorization") for c in sent} == {f"Bearer {ACCESS_TOKEN}"}


def test_cq_code_strings_and_private_chats_are_answered(onebot, fake_platform):
    reports = {"30000002": message_event("30000002", "[CQ:at,qq=10001] 6号楼门口&#91;垃圾&#93;好几天没人清了"),
               "30000003": message_event("30000003", "你好", group_id=None)}
    threads = [threading.Thread(target=report, args=(onebot, event)) for event in reports.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [rubbish] = wait_for_replies(fake_platform, "30000002")
    assert "东风新村" in rubbish and "[" not in rubbish
    assert wait_for_replies(fake_platform, "30000003", group=None)
    assert [t[1:3] for t in tickets_of(onebot, "30000002")] == [("sanitation", "东风新村")]


def test_a_picture_is_asked_about(onebot, fake_platform):
    assert report(onebot, message_event("30000004", "[CQ:image,file=a.jpg,url=https://x/a.jpg]", group_id=None)) == 204
    assert wait_for_replies(fake_platform, "30000004", group=None) == [QUESTIONS["image"]]  # 随手拍


def test_bad_reports_are_refused_and_the_server_keeps_working(onebot, fake_platform):
    event = message_event("30000005", [at(SELF_ID), text(" 2号楼暖气不热")])
    body, headers = signed(event)
    post = onebot.post
    refused = {
        "wrong signature": post(WEBHOOK, body, {**headers, "X-Signature": "sha1=" + "0" * 40}),
        "another secret": post(WEBHOOK, *signed(event, "another-secret")),
        "unsigned": post(WEBHOOK, body, {"X-Self-ID": SELF_ID}),
        "no self id": post(WEBHOOK, *signed_raw(json.dumps({k: v for k, v in event.items() if k != "self_id"}).encode(),
                                                 self_id=None)),
        "self id disagrees": post(WEBHOOK, body, {**headers, "X-Self-ID": "99999"}),
        "another bot": post(WEBHOOK, *signed(message_event("30000005", "x", self_id="99999"))),
        "malformed json": post(WEBHOOK, *signed_raw(b'{"post_type": ')),
        "not an object": post(WEBHOOK, *signed_raw(b"[1, 2]")),
        "message not text": post(WEBHOOK, *signed({**event, "message": 42})),
        "too large": post(WEBHOOK, *signed_raw(json.dumps({"x": "A" * 270_000}).encode())),
    }
    assert {name: status for name, (status, _) in refused.items()} == {
        "wrong signature": 401, "another secret": 401, "unsigned": 401, "no self id": 400, "self id disagrees": 400,
        "another bot": 403, "malformed json": 400, "not an object": 400, "message not text": 400, "too large": 413}
    assert SECRET not in onebot.log_text() and ACCESS_TOKEN not in onebot.log_text()
    heartbeat = {"time": int(time.time()), "self_id": int(SELF_ID), "post_type": "meta_event",
                 "meta_event_type": "heartbeat", "status": {"online": True, "good": True}, "interval": 5000}
    assert report(onebot, heartbeat) == 204
    assert report(onebot, message_event("30000005", "你好", group_id=None)) == 204
    assert wait_for_replies(fake_platform, "30000005", group=None)
    assert not replies(fake_platform.calls, "30000005") and not tickets_of(onebot, "30000005")


def signed_raw(body: bytes, self_id: str | None = SELF_ID) -> tuple[bytes, dict]:
    headers = {"X-Signature": signature(SECRET, body)}
    return body, {**headers, "X-Self-ID": self_id} if self_id else headers
