"""Feishu (飞书): the crypto against Feishu's documented example and the official lark-oapi SDK,
the event parsing and the IM API sender, and conversations through the real webhook of the
real Rasa server (encrypted, signed events; replies recorded by the fake Feishu API)."""
import base64
import hashlib
import json
import os
import threading
import time
import uuid

import pytest
from Crypto.Cipher import AES  # pycryptodome, lark-oapi's own AES: an implementation independent of ours
from lark_oapi.core.model import RawRequest
from lark_oapi.core.utils import AESCipher
from lark_oapi.event.dispatcher_handler import EventDispatcherHandler
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.media import QUESTIONS
from bot.models import OutboxMessage
from connectors.feishu import FeishuInput, decrypt, incoming_from, signature
from connectors.inbound import Refusal
from stack.feishu import API_PREFIX, APP_ID, APP_SECRET, BOT_NAME, BOT_OPEN_ID, ENCRYPT_KEY, VERIFICATION_TOKEN

WEBHOOK = "/webhooks/feishu/webhook"
GROUP = "oc_4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b"  # bound to 和平里小区 in org/sample_site.yml
SECRETARY = "ou_hansj"  # 和平里小区's branch secretary on Feishu
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"


# what Feishu sends -----------------------------------------------------------------------
def encrypt(key: str, plaintext: str, iv: bytes | None = None) -> str:
    """Feishu's encryption, done with pycryptodome: base64(iv + AES-256-CBC(PKCS#7(plaintext)))."""
    iv = iv or os.urandom(16)
    data = plaintext.encode("utf-8")
    pad = 16 - len(data) % 16
    cipher = AES.new(hashlib.sha256(key.encode("utf-8")).digest(), AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(data + bytes([pad]) * pad)).decode()


def signed_headers(body: bytes, key: str = ENCRYPT_KEY, timestamp: int | None = None) -> dict:
    timestamp_text, nonce = str(int(time.time()) if timestamp is None else timestamp), uuid.uuid4().hex
    return {"X-Lark-Request-Timestamp": timestamp_text, "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": hashlib.sha256((timestamp_text + nonce + key).encode() + body).hexdigest()}


def message_event(open_id: str, text: str = "", chat_id: str = GROUP, chat_type: str = "group",
                  message_type: str = "text", mention_bot: bool = True, event_id: str | None = None,
                  token: str = VERIFICATION_TOKEN, extra_mentions: tuple = ()) -> dict:
    """An im.message.receive_v1 event as Feishu's documentation shows it."""
    mentions = list(extra_mentions)
    if mention_bot:
        mentions.insert(0, {"key": "@_user_1", "id": {"union_id": "on_bot", "user_id": "", "open_id": BOT_OPEN_ID},
                            "name": BOT_NAME, "tenant_key": "736588c9260f175d"})
        text = "@_user_1 " + text
    content = {"text": text} if message_type == "text" else {"image_key": "img_v2_041b28e3-5680-48c2-9af2-497ace79333g"}
    message = {"message_id": f"om_{uuid.uuid4().hex}", "root_id": "", "parent_id": "",
               "create_time": str(int(time.time() * 1000)), "chat_id": chat_id, "chat_type": chat_type,
               "message_type": message_type, "content": json.dumps(content, ensure_ascii=False)}
    if mentions:
        message["mentions"] = mentions
    return {"schema": "2.0",
            "header": {"event_id": event_id or uuid.uuid4().hex, "event_type": "im.message.receive_v1",
                       "create_time": str(int(time.time() * 1000)), "token": token, "app_id": APP_ID,
                       "tenant_key": "736588c9260f175d"},
            "event": {"sender": {"sender_id": {"union_id": "on_" + open_id[3:], "user_id": open_id[3:],
                                               "open_id": open_id},
                                 "sender_type": "user", "tenant_key": "736588c9260f175d"},
                      "message": message}}


def encrypted(event: dict, key: str = ENCRYPT_KEY) -> bytes:
    return json.dumps({"encrypt": encrypt(key, json.dumps(event, ensure_ascii=False))}).encode()


# the crypto ------------------------------------------------------------------------------
def test_decrypt_reproduces_the_documented_example():
    # Feishu's docs (事件订阅 › Encrypt Key): key "test key", this ciphertext, "hello world"
    assert decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == "hello world"
    assert AESCipher("test key").decrypt_str("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == "hello world"
    with pytest.raises(ValueError):
        decrypt("another key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")


def test_decrypt_agrees_with_lark_oapi():
    event = json.dumps(message_event("ou_reader", "2号楼暖气不热"), ensure_ascii=False)
    for iv in (bytes(16), os.urandom(16)):
        ciphertext = encrypt(ENCRYPT_KEY, event, iv)
        assert decrypt(ENCRYPT_KEY, ciphertext) == AESCipher(ENCRYPT_KEY).decrypt_str(ciphertext) == event


@pytest.mark.parametrize("garbage", ["", "不是base64", base64.b64encode(b"short").decode(),
                                     base64.b64encode(bytes(range(40))).decode(), 12345])
def test_what_does_not_decrypt_is_a_value_error(garbage):
    with pytest.raises(ValueError):
        decrypt(ENCRYPT_KEY, garbage)


def _lark_dispatcher(received: list) -> EventDispatcherHandler:
    return (EventDispatcherHandler.builder(ENCRYPT_KEY, VERIFICATION_TOKEN)
            .register_p2_im_message_receive_v1(received.append).build())


def test_signature_and_event_agree_with_lark_oapi():
    """The official SDK takes our test requests (decrypts, checks token and signature, parses the
    event) and reads the same message our connector reads; a wrong signature fails in both."""
    body = encrypted(message_event("ou_reader", "2号楼暖气不热", event_id="ev-sdk-1"))
    headers = signed_headers(body)
    assert signature(headers["X-Lark-Request-Timestamp"], headers["X-Lark-Request-Nonce"], ENCRYPT_KEY,
                     body) == headers["X-Lark-Signature"]
    request, received = RawRequest(), []
    request.uri, request.headers, request.body = WEBHOOK, headers, body
    assert _lark_dispatcher(received).do(request).status_code == 200
    [sdk_event] = received
    assert sdk_event.header.event_id == "ev-sdk-1"
    ours = FeishuInput(APP_ID, APP_SECRET, VERIFICATION_TOKEN, ENCRYPT_KEY, BOT_OPEN_ID)
    assert ours.check_signature(headers, body) is True
    incoming = incoming_from(ours.read_event(body)["event"], "ev-sdk-1", BOT_OPEN_ID, None)
    message = sdk_event.event.message
    assert (incoming.group_id, incoming.user_id) == (message.chat_id, sdk_event.event.sender.sender_id.open_id)
    assert message.mentions[0].id.open_id == BOT_OPEN_ID and incoming.mentioned
    assert json.loads(message.content)["text"] == "@_user_1 2号楼暖气不热" and incoming.text == "2号楼暖气不热"

    forged = {**headers, "X-Lark-Signature": "0" * 64}
    request.headers = forged
    assert _lark_dispatcher([]).do(request).status_code == 500  # the SDK's "signature verification failed"
    with pytest.raises(Refusal) as refused:
        ours.check_signature(forged, body)
    assert refused.value.status == 401


def test_stale_unsigned_and_wrongly_tokened_requests_are_refused():
    feishu = FeishuInput(APP_ID, APP_SECRET, VERIFICATION_TOKEN, ENCRYPT_KEY, BOT_OPEN_ID)
    body = encrypted(message_event("ou_reader", "你好"))
    for timestamp in (int(time.time()) - 3601, int(time.time()) + 3601):
        with pytest.raises(Refusal):
            feishu.check_signature(signed_headers(body, timestamp=timestamp), body)
    assert feishu.check_signature(signed_headers(body, timestamp=int(time.time()) - 3500), body) is True
    assert feishu.check_signature({}, body) is False  # unsigned: only the URL check may be
    with pytest.raises(Refusal):
        feishu.check_token("another-token")
    with pytest.raises(Refusal):
        feishu.check_token(None)
    with pytest.raises(Refusal) as not_ours:
        feishu.read_event(encrypted(message_event("ou_reader", "你好"), key="another-key"))
    assert not_ours.value.status == 400


# the wire format -------------------------------------------------------------------------
def test_a_group_message_mentioning_the_bot():
    someone = {"key": "@_user_2", "id": {"open_id": "ou_neighbour"}, "name": "王阿姨"}
    event = message_event("ou_li", "@_user_2 和我家 7号楼暖气都不热", extra_mentions=(someone,))["event"]
    incoming = incoming_from(event, "ev-1", BOT_OPEN_ID, None)
    assert incoming.text == "@王阿姨 和我家 7号楼暖气都不热"
    assert (incoming.group_id, incoming.user_id, incoming.kind, incoming.mentioned) == (GROUP, "ou_li", "text", True)
    assert incoming.display_name is None
    by_name = incoming_from(event, "ev-1", None, BOT_NAME)
    assert by_name.mentioned and by_name.text == incoming.text
    unmentioned = incoming_from(message_event("ou_li", "今天天气不错", mention_bot=False)["event"], "ev-2", BOT_OPEN_ID, None)
    assert not unmentioned.mentioned and unmentioned.text == "今天天气不错"


def test_one_to_one_and_pictures():
    direct = incoming_from(message_event("ou_li", "你好", chat_id="oc_p2p", chat_type="p2p", mention_bot=False)["event"],
                           "ev-3", BOT_OPEN_ID, None)
    assert direct.group_id is None and direct.text == "你好"
    picture = incoming_from(message_event("ou_li", message_type="image", mention_bot=False)["event"], "ev-4",
                            BOT_OPEN_ID, None)
    assert (picture.kind, picture.text) == ("image", "")
    assert incoming_from({"message": {"message_type": "text"}}, "ev-5", BOT_OPEN_ID, None) is None


# the sender --------------------------------------------------------------------------------
@pytest.fixture
def feishu_api(fake_platform):
    """A fresh fake Feishu API under a prefix of its own: tokens t-1, t-2 …; `reject_token` once."""
    prefix = f"/feishu-unit-{uuid.uuid4().hex[:8]}"
    state = {"tokens": 0, "reject_token": 0, "code": 0}

    def token(_method, _path, _query, body):
        if body != {"app_id": APP_ID, "app_secret": APP_SECRET}:
            return 200, {"code": 10014, "msg": "app secret invalid"}
        state["tokens"] += 1
        return 200, {"code": 0, "msg": "ok", "tenant_access_token": f"t-{state['tokens']}", "expire": 7200}

    def messages(_method, _path, _query, _body):
        if state["reject_token"]:
            state["reject_token"] -= 1
            return 400, {"code": 99991663, "msg": "Invalid access token for authorization."}
        return 200, {"code": state["code"], "msg": "success" if not state["code"] else "bot not in chat",
                     "data": {"message_id": "om_sent"}}

    fake_platform.routes[prefix + TOKEN_PATH] = token
    fake_platform.routes[prefix + MESSAGES_PATH] = messages
    yield prefix, state
    del fake_platform.routes[prefix + TOKEN_PATH], fake_platform.routes[prefix + MESSAGES_PATH]


async def test_send_to_a_group_and_to_a_person(fake_platform, feishu_api):
    prefix, state = feishu_api
    feishu = FeishuInput(APP_ID, APP_SECRET, VERIFICATION_TOKEN, api_base=fake_platform.base_url + prefix)
    await feishu.send(OutboxMessage(id=1, recipient=f"feishu:{GROUP}:ou_li", text="已登记"))
    await feishu.send(OutboxMessage(id=2, recipient=f"feishu:dm:{SECRETARY}", text="新工单"))
    group, direct = fake_platform.sent(prefix + MESSAGES_PATH)
    assert group.query == {"receive_id_type": "chat_id"} and group.body["receive_id"] == GROUP
    assert json.loads(group.body["content"]) == {"text": '<at user_id="ou_li"></at> 已登记'}
    assert group.body["msg_type"] == "text" and group.body["uuid"] == "outbox-1"
    assert direct.query == {"receive_id_type": "open_id"} and direct.body["receive_id"] == SECRETARY
    assert json.loads(direct.body["content"]) == {"text": "新工单"}
    assert group.headers["Authorization"] == direct.headers["Authorization"] == "Bearer t-1"  # cached
    assert state["tokens"] == 1

    state["reject_token"] = 1  # Feishu revoked the token: fetched again, the message still goes out
    await feishu.send(OutboxMessage(id=3, recipient=f"feishu:{GROUP}:ou_li", text="再次"))
    assert fake_platform.sent(prefix + MESSAGES_PATH)[-1].headers["Authorization"] == "Bearer t-2"

    state["code"] = 230002  # any other error code raises, so the outbox retries
    with pytest.raises(RuntimeError):
        await feishu.send(OutboxMessage(id=4, recipient=f"feishu:{GROUP}:ou_li", text="失败"))
    await feishu.close()


async def test_a_wrong_app_secret_raises(fake_platform, feishu_api):
    prefix, _ = feishu_api
    feishu = FeishuInput(APP_ID, "wrong-secret", VERIFICATION_TOKEN, api_base=fake_platform.base_url + prefix)
    with pytest.raises(RuntimeError):
        await feishu.send(OutboxMessage(id=5, recipient=f"feishu:{GROUP}:ou_li", text="x"))
    assert not fake_platform.sent(prefix + MESSAGES_PATH)
    await feishu.close()


# through the real Rasa server ---------------------------------------------------------------
@pytest.fixture(scope="module")
def feishu(stack, fake_platform):
    fake_platform.routes[API_PREFIX + TOKEN_PATH] = lambda *_: (
        200, {"code": 0, "msg": "ok", "tenant_access_token": "t-stack", "expire": 7200})
    fake_platform.routes[API_PREFIX + MESSAGES_PATH] = lambda *_: (
        200, {"code": 0, "msg": "success", "data": {"message_id": f"om_{uuid.uuid4().hex}"}})
    return stack


def post_event(stack, event: dict) -> int:
    body = encrypted(event)
    status, _ = stack.post(WEBHOOK, body, signed_headers(body))
    return status


def replies(calls, open_id: str, chat_id: str | None = GROUP) -> list[str]:
    """The texts the bot sent to `open_id`: @-mentioned in `chat_id`, or directly when it is None."""
    texts = []
    for call in calls:
        if not call.path == API_PREFIX + MESSAGES_PATH:
            continue
        text = json.loads(call.body["content"])["text"]
        if chat_id and call.query.get("receive_id_type") == "chat_id" and call.body["receive_id"] == chat_id:
            at = f'<at user_id="{open_id}"></at> '
            if text.startswith(at):
                texts.append(text[len(at):])
        elif not chat_id and call.query.get("receive_id_type") == "open_id" and call.body["receive_id"] == open_id:
            texts.append(text)
    return texts


def wait_for_replies(fake_platform, open_id: str, count: int = 1, chat_id: str | None = GROUP) -> list[str]:
    calls = fake_platform.wait_for(lambda calls: len(replies(calls, open_id, chat_id)) >= count, seconds=120)
    return replies(calls, open_id, chat_id)


def tickets_of(stack, open_id: str) -> list[tuple]:
    return [ticket for ticket in stack.tickets() if open_id in ticket[3]]


def test_the_url_check_is_answered_plain_and_encrypted(feishu):
    challenge = {"challenge": "1b6aef1a-401f-406a-be41-f48911eabcef", "token": VERIFICATION_TOKEN,
                 "type": "url_verification"}
    for body in (json.dumps(challenge).encode(), encrypted(challenge)):
        status, answer = feishu.post(WEBHOOK, body)
        assert (status, json.loads(answer)) == (200, {"challenge": challenge["challenge"]})
    status, _ = feishu.post(WEBHOOK, encrypted({**challenge, "token": "someone-else"}))
    assert status == 401


def test_a_report_in_the_group_is_answered_once_with_an_at_and_filed_once(feishu, fake_platform):
    event = message_event("ou_feishu_li", "2号楼暖气不热 屋里才十五度")
    started = time.monotonic()
    assert post_event(feishu, event) == 200
    assert time.monotonic() - started < 3  # Feishu's limit: the answer comes from the background
    assert post_event(feishu, event) == post_event(feishu, event) == 200  # Feishu retrying
    [reply] = wait_for_replies(fake_platform, "ou_feishu_li")
    assert "供暖" in reply and "和平里小区" in reply
    [(_, category, compound, _)] = tickets_of(feishu, "ou_feishu_li")
    assert (category, compound) == ("heating", "和平里小区")
    wait_for_replies(fake_platform, SECRETARY, chat_id=None)  # the branch secretary is told directly
    time.sleep(3)
    assert len(replies(fake_platform.calls, "ou_feishu_li")) == 1
    assert len(tickets_of(feishu, "ou_feishu_li")) == 1


def test_two_residents_reporting_at_once_each_get_their_answer(feishu, fake_platform):
    reports = {"ou_feishu_zhao": "3号楼楼道的灯坏了 晚上黑漆漆的", "ou_feishu_qian": "1号楼门口的垃圾好几天没人清了"}
    statuses = []
    threads = [threading.Thread(target=lambda o=o, t=t: statuses.append(post_event(feishu, message_event(o, t))))
               for o, t in reports.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200]
    for open_id in reports:
        [reply] = wait_for_replies(fake_platform, open_id)
        assert "和平里小区" in reply
        assert len(tickets_of(feishu, open_id)) == 1
    [lights] = tickets_of(feishu, "ou_feishu_zhao")
    [rubbish] = tickets_of(feishu, "ou_feishu_qian")
    assert lights[1] != rubbish[1]  # two conversations, two different matters


def test_a_picture_is_asked_about(feishu, fake_platform):
    event = message_event("ou_feishu_sun", message_type="image", chat_id="oc_p2p_sun", chat_type="p2p",
                          mention_bot=False)
    assert post_event(feishu, event) == 200
    assert wait_for_replies(fake_platform, "ou_feishu_sun", chat_id=None) == [QUESTIONS["image"]]  # 随手拍


def test_bad_requests_are_refused_and_the_server_keeps_working(feishu, fake_platform):
    body = encrypted(message_event("ou_feishu_bad", "2号楼暖气不热"))
    forged = {**signed_headers(body), "X-Lark-Signature": "0" * 64}
    assert feishu.post(WEBHOOK, body, forged)[0] in (401, 403)
    assert feishu.post(WEBHOOK, body, signed_headers(body, timestamp=int(time.time()) - 7200))[0] in (401, 403)
    assert feishu.post(WEBHOOK, body, signed_headers(body, key="another-key"))[0] in (401, 403)
    assert feishu.post(WEBHOOK, body)[0] in (401, 403)  # unsigned
    wrong_token = encrypted(message_event("ou_feishu_bad", "2号楼暖气不热", token="another-token"))
    assert feishu.post(WEBHOOK, wrong_token, signed_headers(wrong_token))[0] in (401, 403)
    for malformed in (b'{"encrypt": "', b"[1, 2]", b'{"encrypt": "bm90IGEgY2lwaGVydGV4dA=="}',
                      encrypted(message_event("ou_feishu_bad", "x"), key="another-key")):
        assert feishu.post(WEBHOOK, malformed, signed_headers(malformed))[0] == 400
    huge = json.dumps({"encrypt": "A" * (257 * 1024)}).encode()
    assert feishu.post(WEBHOOK, huge, signed_headers(huge))[0] == 413
    assert not replies(fake_platform.calls, "ou_feishu_bad") and not tickets_of(feishu, "ou_feishu_bad")

    assert post_event(feishu, message_event("ou_feishu_good", "你好", chat_id="oc_p2p_good", chat_type="p2p",
                                            mention_bot=False)) == 200
    assert wait_for_replies(fake_platform, "ou_feishu_good", chat_id=None)


def test_a_reply_waits_out_an_im_api_outage(feishu, fake_platform):
    sender = f"feishu:{GROUP}:ou_feishu_zhou"

    def failed_once(_calls=None) -> bool:
        with Session(feishu.engine, future=True) as session:
            return bool(session.scalars(select(OutboxMessage).where(
                OutboxMessage.recipient == sender, OutboxMessage.status == "pending",
                OutboxMessage.attempts >= 1)).first())

    fake_platform.down = True
    try:
        assert post_event(feishu, message_event("ou_feishu_zhou", "你好")) == 200
        deadline = time.monotonic() + 120
        while not failed_once() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert failed_once()
        assert not replies(fake_platform.calls, "ou_feishu_zhou")
    finally:
        fake_platform.down = False
    assert wait_for_replies(fake_platform, "ou_feishu_zhou")
