"""DingTalk (钉钉): the callback signature, the callback's wire format, the sender, and
conversations through the real webhook on the real Rasa server, with replies recorded by the
fake platform standing in for DingTalk's session webhooks and robot OpenAPI."""
import base64
import hashlib
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.media import QUESTIONS
from bot.models import OutboxMessage
from connectors.dingtalk import DingTalkError, DingTalkInput, check_signature, incoming_from, signature
from connectors.inbound import Refusal
from stack.dingtalk import APP_SECRET

WEBHOOK = "/webhooks/dingtalk/webhook"
GROUP = "cidJinYuCheng02=="  # bound to 金御城 in org/sample_site.yml
SESSION_PATH = "/dingtalk/robot/sendBySession"
SECRETARY = "01230004"  # 金御城's branch secretary's DingTalk user id in org/sample_site.yml


def independent_sign(timestamp: str, secret: str) -> str:
    """DingTalk's documented formula, written out here rather than taken from the connector."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode("utf-8"),
                                     hashlib.sha256).digest()).decode("utf-8")


def now_ms() -> int:
    return int(time.time() * 1000)


# the signature ---------------------------------------------------------------------------
# DingTalk's "机器人接收消息" page shows the header `timestamp: 1577262236757` and signs with
# `app_secret = 'this is a secret'` in its Python sample, but publishes no resulting sign; the
# custom-robot page's sample uses `secret = 'this is secret'`. The expected values below are
# computed independently with hmac/hashlib from the documented formula (and pinned as literals).
DOC_TIMESTAMP = "1577262236757"


@pytest.mark.parametrize("secret, expected", [
    ("this is a secret", "DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA="),
    ("this is secret", "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="),
])
def test_the_signature_follows_dingtalks_documented_formula(secret, expected):
    assert independent_sign(DOC_TIMESTAMP, secret) == expected
    assert signature(DOC_TIMESTAMP, secret) == expected


def refusal(timestamp: str, sign: str, secret: str, now: int) -> str | None:
    """Why a callback with these headers is refused (always with 401), or None when it is not."""
    try:
        check_signature(timestamp, sign, secret, now)
    except Refusal as refused:
        assert refused.status == 401
        return refused.reason
    return None


def test_a_callback_is_refused_for_a_wrong_sign_a_stale_timestamp_or_no_timestamp():
    now = int(DOC_TIMESTAMP)
    good = independent_sign(DOC_TIMESTAMP, "this is a secret")
    assert refusal(DOC_TIMESTAMP, good, "this is a secret", now) is None
    assert refusal(DOC_TIMESTAMP, good, "this is a secret", now + 59 * 60 * 1000) is None
    assert refusal(DOC_TIMESTAMP, good, "another secret", now) == "wrong sign"
    assert refusal(DOC_TIMESTAMP, good[:-2], "this is a secret", now) == "wrong sign"
    for off in (61 * 60 * 1000, -61 * 60 * 1000):
        assert refusal(DOC_TIMESTAMP, good, "this is a secret", now + off) == "timestamp more than an hour off"
    assert refusal("", good, "this is a secret", now) is not None
    assert refusal("12ab", good, "this is a secret", now) is not None


# the callback's wire format --------------------------------------------------------------
PREFIX = "https://oapi.dingtalk.com/robot/sendBySession"


def body(text="7号楼暖气不热", user="resident1", group=GROUP, msgtype="text", session="abc",
         msg_id=None, expires=None, **extra) -> dict:
    """A robot callback body with the fields of DingTalk's documentation."""
    message = {
        "msgId": msg_id or f"msg{uuid.uuid4().hex}", "msgtype": msgtype, "createAt": now_ms(),
        "conversationType": "2" if group else "1", "conversationId": group or f"cid{user}==",
        "conversationTitle": "金御城业主群", "senderId": f"$:LWCP_v1:${user}", "senderNick": f"业主{user}",
        "senderCorpId": "dingcorp", "senderStaffId": user, "chatbotUserId": "$:LWCP_v1:$bot",
        "chatbotCorpId": "dingcorp", "robotCode": "dingtestappkey0001", "isAdmin": False,
        "sessionWebhook": f"{PREFIX}?session={session}",
        "sessionWebhookExpiredTime": expires or now_ms() + 90 * 60 * 1000,
    }
    if group:
        message.update(isInAtList=True, atUsers=[{"dingtalkId": "$:LWCP_v1:$bot"}])
    if msgtype == "text":
        message["text"] = {"content": (" " if group else "") + text}
    message.update(extra)
    return message


def test_a_group_message_loses_the_space_left_by_the_mention_and_keeps_the_session_webhook():
    incoming = incoming_from(body(" 7号楼暖气不热 ", user="u1", session="s1"), PREFIX)
    assert (incoming.platform, incoming.user_id, incoming.group_id, incoming.text) == ("dingtalk", "u1", GROUP,
                                                                                       "7号楼暖气不热")
    assert incoming.mentioned and incoming.kind == "text" and incoming.display_name == "业主u1"
    assert incoming.context["sessionWebhook"] == f"{PREFIX}?session=s1"
    assert incoming.context["at"] == {"atUserIds": ["u1"]}


def test_a_one_to_one_message_has_no_group():
    incoming = incoming_from(body("你好", user="u2", group=None), PREFIX)
    assert incoming.group_id is None and incoming.text == "你好" and incoming.resident.sender_id == "dingtalk:dm:u2"


def test_pictures_voice_and_rich_text():
    picture = incoming_from(body(msgtype="picture", content={"downloadCode": "x"}), PREFIX)
    assert (picture.kind, picture.text) == ("image", "")
    voice = incoming_from(body(msgtype="audio", content={"downloadCode": "x", "recognition": "你好"}), PREFIX)
    assert (voice.kind, voice.text, voice.media) == ("text", "你好", ({"kind": "voice", "code": "x"},))  # 随手拍
    assert incoming_from(body(msgtype="audio", content={"downloadCode": "x"}), PREFIX).kind == "voice"
    rich = incoming_from(body(msgtype="richText", content={"richText": [
        {"text": "7号楼暖气不热"}, {"type": "picture", "downloadCode": "x"}]}), PREFIX)
    assert (rich.kind, rich.text) == ("text", "7号楼暖气不热")


def test_someone_without_a_staff_id_is_mentioned_by_their_dingtalk_id():
    incoming = incoming_from(body(user="u3", senderStaffId=None), PREFIX)
    assert incoming.user_id == "$:LWCP_v1:$u3"
    assert incoming.context["at"] == {"atDingtalkIds": ["$:LWCP_v1:$u3"]}


def test_a_session_webhook_off_dingtalks_host_is_not_trusted():
    incoming = incoming_from(body(sessionWebhook="https://evil.example/robot/sendBySession?session=x"), PREFIX)
    assert "sessionWebhook" not in incoming.context


@pytest.mark.parametrize("broken", [[], "text", {"msgtype": "text"}, body(msgId=None),
                                    body(senderStaffId=None, senderId=None), {**body(), "text": 3},
                                    body(conversationId=None)])
def test_a_malformed_callback_is_a_value_error(broken):
    with pytest.raises(ValueError):
        incoming_from(broken, PREFIX)


# the sender, against the fake platform -----------------------------------------------------
UNIT = "/dingtalk-unit"


@pytest.fixture
async def dingtalk(fake_platform):
    fake_platform.routes.update({
        f"{UNIT}/v1.0/oauth2/accessToken": lambda *_: (200, {"accessToken": "token-1", "expireIn": 7200}),
        f"{UNIT}/v1.0/robot/oToMessages/batchSend": lambda *_: (200, {"processQueryKey": "q1",
                                                                      "invalidStaffIdList": [],
                                                                      "flowControlledStaffIdList": []}),
        f"{UNIT}/v1.0/robot/groupMessages/send": lambda *_: (200, {"processQueryKey": "q2"}),
        f"{UNIT}/robot/sendBySession": lambda _m, _p, query, _b: (
            (200, {"errcode": 0, "errmsg": "ok"}) if query.get("session") != "broken"
            else (200, {"errcode": 300001, "errmsg": "session expired"})),
    })
    channel = DingTalkInput("unit-app-key", "unit-secret", robot_code="unit-robot",
                            api_base=fake_platform.base_url + UNIT, oapi_base=fake_platform.base_url + UNIT)
    yield channel
    await channel.close()


def outbox(recipient: str, text: str, context: dict | None = None) -> OutboxMessage:
    return OutboxMessage(recipient=recipient, text=text, context=context)


def session_context(fake_platform, session: str, user: str, expires: int | None = None) -> dict:
    return {"sessionWebhook": f"{fake_platform.base_url}{UNIT}/robot/sendBySession?session={session}",
            "sessionWebhookExpiredTime": expires or now_ms() + 3_600_000, "at": {"atUserIds": [user]},
            "senderNick": "业主"}


async def test_a_group_reply_goes_to_the_session_webhook_and_mentions_the_resident(dingtalk, fake_platform):
    session = uuid.uuid4().hex
    await dingtalk.send(outbox(f"dingtalk:{GROUP}:u7", "已登记", session_context(fake_platform, session, "u7")))
    [call] = [c for c in fake_platform.sent(f"{UNIT}/robot/sendBySession") if c.query["session"] == session]
    assert call.body == {"msgtype": "text", "text": {"content": "@u7 已登记"}, "at": {"atUserIds": ["u7"]}}


async def test_a_one_to_one_reply_is_plain_text(dingtalk, fake_platform):
    session = uuid.uuid4().hex
    await dingtalk.send(outbox("dingtalk:dm:u8", "你好", session_context(fake_platform, session, "u8")))
    [call] = [c for c in fake_platform.sent(f"{UNIT}/robot/sendBySession") if c.query["session"] == session]
    assert call.body == {"msgtype": "text", "text": {"content": "你好"}}


async def test_notifications_to_staff_go_through_batch_send_with_one_cached_token(dingtalk, fake_platform):
    tokens_before = len(fake_platform.sent(f"{UNIT}/v1.0/oauth2/accessToken"))
    await dingtalk.send(outbox(f"dingtalk:dm:{SECRETARY}", "新工单 #1 供暖"))
    await dingtalk.send(outbox(f"dingtalk:dm:{SECRETARY}", "新工单 #2 电梯"))
    token_calls = fake_platform.sent(f"{UNIT}/v1.0/oauth2/accessToken")[tokens_before:]
    assert [c.body for c in token_calls] == [{"appKey": "unit-app-key", "appSecret": "unit-secret"}]
    sends = fake_platform.sent(f"{UNIT}/v1.0/robot/oToMessages/batchSend")[-2:]
    assert all(c.headers.get("x-acs-dingtalk-access-token") == "token-1" for c in sends)
    assert sends[0].body == {"robotCode": "unit-robot", "userIds": [SECRETARY], "msgKey": "sampleText",
                             "msgParam": json.dumps({"content": "新工单 #1 供暖"}, ensure_ascii=False)}


async def test_an_expired_session_webhook_falls_back_to_the_group_api(dingtalk, fake_platform):
    session = uuid.uuid4().hex
    context = session_context(fake_platform, session, "u9", expires=now_ms() - 1000)
    await dingtalk.send(outbox(f"dingtalk:{GROUP}:u9", "工单已办结", context))
    assert not [c for c in fake_platform.sent(f"{UNIT}/robot/sendBySession") if c.query["session"] == session]
    call = fake_platform.sent(f"{UNIT}/v1.0/robot/groupMessages/send")[-1]
    assert call.headers.get("x-acs-dingtalk-access-token") == "token-1"
    assert call.body["openConversationId"] == GROUP and call.body["robotCode"] == "unit-robot"
    assert json.loads(call.body["msgParam"]) == {"content": "@业主 工单已办结"}


async def test_failures_raise_so_the_outbox_retries(dingtalk, fake_platform):
    with pytest.raises(DingTalkError):  # errcode != 0
        await dingtalk.send(outbox(f"dingtalk:{GROUP}:u10", "x", session_context(fake_platform, "broken", "u10")))
    fake_platform.routes[f"{UNIT}/v1.0/robot/oToMessages/batchSend"] = lambda *_: (
        200, {"invalidStaffIdList": ["nobody"]})
    with pytest.raises(DingTalkError):  # the recipient was refused
        await dingtalk.send(outbox("dingtalk:dm:nobody", "x"))
    fake_platform.routes[f"{UNIT}/v1.0/robot/oToMessages/batchSend"] = lambda *_: (
        401, {"code": "InvalidAuthentication", "message": "不合法的access_token"})
    with pytest.raises(DingTalkError):  # HTTP 401: the cached token is dropped …
        await dingtalk.send(outbox(f"dingtalk:dm:{SECRETARY}", "x"))
    tokens_before = len(fake_platform.sent(f"{UNIT}/v1.0/oauth2/accessToken"))
    with pytest.raises(DingTalkError):  # … and fetched again for the next try
        await dingtalk.send(outbox(f"dingtalk:dm:{SECRETARY}", "x"))
    assert len(fake_platform.sent(f"{UNIT}/v1.0/oauth2/accessToken")) == tokens_before + 1
    fake_platform.down = True
    try:
        with pytest.raises(DingTalkError):  # 503
            await dingtalk.send(outbox(f"dingtalk:{GROUP}:u10", "x", session_context(fake_platform, "s", "u10")))
    finally:
        fake_platform.down = False


# end to end through the real webhook and the real Rasa server ---------------------------------
@pytest.fixture
def live(stack, fake_platform):
    """The stack, with the fake platform answering like DingTalk."""
    fake_platform.routes.update({
        SESSION_PATH: lambda *_: (200, {"errcode": 0, "errmsg": "ok"}),
        "/dingtalk/v1.0/oauth2/accessToken": lambda *_: (200, {"accessToken": "stack-token", "expireIn": 7200}),
        "/dingtalk/v1.0/robot/oToMessages/batchSend": lambda *_: (200, {"processQueryKey": "q"}),
        "/dingtalk/v1.0/robot/groupMessages/send": lambda *_: (200, {"processQueryKey": "q"}),
    })
    return stack


def callback(fake_platform, text="7号楼暖气不热", **fields) -> dict:
    """A callback whose session webhook is a fresh session on the fake platform."""
    fields.setdefault("session", uuid.uuid4().hex)
    message = body(text, **fields)
    message["sessionWebhook"] = f"{fake_platform.base_url}{SESSION_PATH}?session={fields['session']}"
    return message


def session_of(message: dict) -> str:
    return message["sessionWebhook"].split("session=")[1]


def deliver(stack, message: dict | None = None, raw: bytes | None = None, timestamp: str | None = None,
            secret: str = APP_SECRET) -> tuple[int, bytes]:
    timestamp = timestamp or str(now_ms())
    return stack.post(WEBHOOK, raw if raw is not None else json.dumps(message, ensure_ascii=False).encode(),
                      {"timestamp": timestamp, "sign": independent_sign(timestamp, secret)})


def replies(fake_platform, session: str) -> list:
    return [c for c in fake_platform.sent(SESSION_PATH) if c.query.get("session") == session]


def wait_for_replies(fake_platform, session: str, count: int = 1, seconds: float = 120) -> list:
    fake_platform.wait_for(lambda calls: len([c for c in calls if c.path == SESSION_PATH
                                              and c.query.get("session") == session]) >= count, seconds)
    return replies(fake_platform, session)


def reports_of(stack, user: str) -> list[tuple]:
    return [t for t in stack.tickets() if user in t[3]]


def assert_mentions(call, user: str) -> None:
    assert call.body["at"] == {"atUserIds": [user]}
    assert call.body["text"]["content"].startswith(f"@{user} ")


def test_a_group_report_is_answered_in_the_group_mentioning_the_resident_and_filed(live, fake_platform):
    user = f"r{uuid.uuid4().hex[:8]}"
    message = callback(fake_platform, "7号楼暖气不热 家里才十五度", user=user)
    assert deliver(live, message)[0] == 200
    [reply] = wait_for_replies(fake_platform, session_of(message))
    assert_mentions(reply, user)
    assert "供暖" in reply.body["text"]["content"]
    [(_, category, compound, _)] = reports_of(live, user)
    assert (category, compound) == ("heating", "金御城")


def test_a_one_to_one_message_is_answered_in_plain_text(live, fake_platform):
    user = f"d{uuid.uuid4().hex[:8]}"
    message = callback(fake_platform, "你好", user=user, group=None)
    assert deliver(live, message)[0] == 200
    [reply] = wait_for_replies(fake_platform, session_of(message))
    assert "at" not in reply.body and "社区小助手" in reply.body["text"]["content"]


def test_the_same_callback_three_times_gets_one_answer_and_one_ticket(live, fake_platform):
    user = f"t{uuid.uuid4().hex[:8]}"
    message = callback(fake_platform, "消防通道又被车堵了 好几辆车停在那", user=user)
    raw = json.dumps(message, ensure_ascii=False).encode()
    timestamp = str(now_ms())
    assert [deliver(live, raw=raw, timestamp=timestamp)[0] for _ in range(3)] == [200, 200, 200]
    wait_for_replies(fake_platform, session_of(message))
    time.sleep(3)  # time for a second answer, were there one
    [reply] = replies(fake_platform, session_of(message))
    assert_mentions(reply, user)
    [(_, _, compound, reporters)] = reports_of(live, user)
    assert compound == "金御城" and reporters.count(user) == 1


def test_two_residents_reporting_at_once_have_separate_conversations(live, fake_platform):
    first, second = (f"p{uuid.uuid4().hex[:8]}" for _ in range(2))
    messages = [callback(fake_platform, "12号楼门口的垃圾三天没人清了 味道很大", user=first),
                callback(fake_platform, "2号楼楼道的灯坏了 晚上一片黑", user=second)]
    with ThreadPoolExecutor(2) as pool:
        assert [status for status, _ in pool.map(lambda m: deliver(live, m), messages)] == [200, 200]
    for user, message in zip((first, second), messages):
        replied = wait_for_replies(fake_platform, session_of(message))
        assert_mentions(replied[0], user)
        assert reports_of(live, user), f"no ticket has {user} as a reporter"


def test_a_picture_is_asked_about(live, fake_platform):
    user = f"i{uuid.uuid4().hex[:8]}"
    message = callback(fake_platform, user=user, msgtype="picture",
                       content={"downloadCode": "dc", "pictureDownloadCode": "pdc"})
    assert deliver(live, message)[0] == 200
    [reply] = wait_for_replies(fake_platform, session_of(message))
    assert reply.body["text"]["content"] == f"@{user} {QUESTIONS['image']}"  # 随手拍
    assert not reports_of(live, user)


def test_bad_input_is_refused_and_the_server_keeps_working(live, fake_platform):
    wrong = callback(fake_platform, user="bad1")
    assert deliver(live, wrong, secret="not-the-app-secret")[0] in (401, 403)
    stale = callback(fake_platform, user="bad2")
    assert deliver(live, stale, timestamp=str(now_ms() - 2 * 3600 * 1000))[0] in (401, 403)
    assert deliver(live, raw=b'{"msgId": "m1", "text": ')[0] == 400
    assert deliver(live, raw=b"\xff\xfe not json")[0] == 400
    assert deliver(live, raw=json.dumps({"msgId": "m2"}).encode())[0] == 400
    huge = callback(fake_platform, "暖气不热" + "啊" * 30_000, user="bad3")
    assert deliver(live, huge)[0] == 413
    headers_missing = live.post(WEBHOOK, json.dumps(callback(fake_platform, user="bad4")).encode())
    assert headers_missing[0] in (401, 403)
    log = live.log_text()
    assert APP_SECRET not in log and "refused" in log

    user = f"g{uuid.uuid4().hex[:8]}"
    good = callback(fake_platform, "你好", user=user)
    assert deliver(live, good)[0] == 200
    assert_mentions(wait_for_replies(fake_platform, session_of(good))[0], user)
    assert not any(replies(fake_platform, session_of(m)) for m in (wrong, stale, huge))


def test_a_reply_waits_out_an_outage_of_the_session_webhook(live, fake_platform):
    user = f"o{uuid.uuid4().hex[:8]}"
    message = callback(fake_platform, "你好", user=user)
    recipient = f"dingtalk:{GROUP}:{user}"
    fake_platform.down = True
    try:
        assert deliver(live, message)[0] == 200
        deadline = time.monotonic() + 120
        while not failed_once(live, recipient):
            assert time.monotonic() < deadline, "the reply was never tried while the platform was down"
            time.sleep(0.5)
    finally:
        fake_platform.down = False
    [reply] = wait_for_replies(fake_platform, session_of(message), seconds=60)
    assert_mentions(reply, user)


def failed_once(stack, recipient: str) -> bool:
    with Session(stack.engine, future=True) as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient))
        return any(m.last_error for m in rows)
