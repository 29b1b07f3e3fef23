"""The Matrix channel against a scripted homeserver (the fake platform answering the client-server
API): what counts as a mention, which events reach the bot, the first sync, invitations, replies
and direct chats, and a sync loop that starts, survives an outage and stops. The real homeserver
is in test_matrix_e2e.py."""
import asyncio
import uuid

import pytest

from bot.conversations import sender_id
from bot.db import shared_engine
from bot.migrate import upgrade
from bot.models import OutboxMessage
from connectors.group_chat import NOT_TEXT_REPLY
from connectors.matrix import MatrixError, MatrixInput, addressed_text, incoming_from

BOT = "@assistant:example.org"
ROOM, DIRECT_ROOM = "!chunhui:example.org", "!dm-wang:example.org"
WANG = "@wang:example.org"


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    shared_engine.cache_clear()
    upgrade(shared_engine())
    yield
    shared_engine().dispose()
    shared_engine.cache_clear()


@pytest.fixture
def homeserver(fake_platform):
    """A scripted homeserver at a fresh prefix: `syncs` are answered in turn, then empty ones."""
    prefix = f"/matrix-{uuid.uuid4().hex[:8]}"
    state = {"syncs": [], "rooms": 0}
    api = prefix + "/_matrix/client/v3"

    def sync(_method, _path, query, _body):
        answer = state["syncs"].pop(0) if state["syncs"] else {}
        return 200, {"next_batch": f"s{len(fake_platform.sent(api + '/sync'))}", **answer}

    def create_room(*_):
        state["rooms"] += 1
        return 200, {"room_id": f"!new{state['rooms']}:example.org"}

    routes = {"/sync": sync, "/createRoom": create_room,
              "/login": lambda *_: (200, {"access_token": "tok", "user_id": BOT, "device_id": "D"}),
              f"/profile/{BOT}/displayname": lambda *_: (200, {}), f"/join/{ROOM}": lambda *_: (200, {"room_id": ROOM}),
              f"/join/{DIRECT_ROOM}": lambda *_: (200, {"room_id": DIRECT_ROOM}),
              f"/user/{BOT}/account_data/m.direct": lambda *_: (200, {})}
    for path, handler in routes.items():
        fake_platform.routes[api + path] = handler
    yield fake_platform.base_url + prefix, api, state
    for path in routes:
        del fake_platform.routes[api + path]


def channel(homeserver_url: str = "http://127.0.0.1:9") -> MatrixInput:
    return MatrixInput(homeserver_url, BOT, password="pw", display_name="社区小助手")


def message(body: str, sender: str = WANG, ts: int = 2_000_000_000_000, **content) -> dict:
    return {"type": "m.room.message", "sender": sender, "event_id": f"${uuid.uuid4().hex}", "origin_server_ts": ts,
            "content": {"msgtype": "m.text", "body": body, **content}}


class Bot:
    """Stands in for Rasa: answers every message with one line naming what it heard."""

    def __init__(self):
        self.heard = []

    async def __call__(self, user_message):
        self.heard.append((user_message.sender_id, user_message.text))
        await user_message.output_channel.send_text_message(user_message.sender_id, f"听到：{user_message.text}")


# mentions and events -------------------------------------------------------------------------
@pytest.mark.parametrize("content, expected", [
    ({"body": "社区小助手: 3号楼暖气不热", "m.mentions": {"user_ids": [BOT]}}, ("3号楼暖气不热", True)),
    ({"body": "@社区小助手 3号楼暖气不热"}, ("3号楼暖气不热", True)),
    ({"body": "3号楼暖气不热 @assistant:example.org"}, ("3号楼暖气不热", True)),
    ({"body": "assistant，电梯坏了"}, ("电梯坏了", True)),
    ({"body": "楼下超市几点关门", "formatted_body": f'<a href="https://matrix.to/#/{BOT}">x</a>'}, ("楼下超市几点关门", True)),
    ({"body": "> <@li:example.org> 暖气不热吗\n\n是的，3号楼也不热"}, ("是的，3号楼也不热", False)),
    ({"body": "今晚谁去跳广场舞", "m.mentions": {"user_ids": ["@li:example.org"]}}, ("今晚谁去跳广场舞", False)),
], ids=["m.mentions", "display-name", "user-id", "localpart", "pill", "reply-fallback", "someone-else"])
def test_what_counts_as_addressing_the_bot(content, expected):
    assert addressed_text(content, BOT, {"社区小助手", "assistant"}) == expected


def test_which_events_reach_the_bot():
    bot = channel()
    bot.display_names[(ROOM, WANG)] = "王阿姨"
    heard = incoming_from(ROOM, message("社区小助手 3号楼暖气不热"), bot)
    assert (heard.group_id, heard.user_id, heard.text, heard.mentioned, heard.display_name) == (
        ROOM, WANG, "3号楼暖气不热", True, "王阿姨")
    assert heard.event_id.startswith("$") and heard.context is None
    picture = incoming_from(ROOM, message("IMG_1.jpg", msgtype="m.image", url="mxc://x/y"), bot)
    assert (picture.kind, picture.text) == ("image", "")
    sticker = {**message("😀"), "type": "m.sticker"}
    assert incoming_from(ROOM, sticker, bot).kind == "sticker"
    ignored = [message("我自己的话", sender=BOT), message("* 改过的话", **{"m.relates_to": {"rel_type": "m.replace"}}),
               message("另一个机器人", msgtype="m.notice"), {**message("x"), "type": "m.reaction"},
               {"type": "m.room.message", "content": "broken"}]
    assert [incoming_from(ROOM, event, bot) for event in ignored] == [None] * len(ignored)
    bot.direct = {WANG: [DIRECT_ROOM]}
    direct = incoming_from(DIRECT_ROOM, message("电梯坏了"), bot)
    assert (direct.group_id, direct.context) == (None, {"room_id": DIRECT_ROOM})


# one sync answer at a time -------------------------------------------------------------------
def joined(*events, state=()) -> dict:
    return {"rooms": {"join": {ROOM: {"timeline": {"events": list(events)}, "state": {"events": list(state)}}}}}


async def test_the_first_sync_only_sets_the_starting_point_and_history_is_skipped(homeserver, fake_platform):
    url, api, _ = homeserver
    bot, rasa = channel(url), Bot()
    bot.access_token = "tok"
    await bot.take(joined(message("社区小助手 1号楼停水了")), rasa, None)  # the first sync
    member = {"type": "m.room.member", "state_key": WANG, "content": {"membership": "join", "displayname": "王阿姨"}}
    await bot.take(joined(message("社区小助手 旧消息", ts=999), message("社区小助手 2号楼停电了"), state=[member]), rasa,
                   1000)
    await bot.chat.idle()
    assert rasa.heard == [(sender_id("matrix", ROOM, WANG), "2号楼停电了")]
    [sent] = fake_platform.sent(api + "/rooms/")
    assert sent.method == "PUT" and sent.path.startswith(f"{api}/rooms/{ROOM}/send/m.room.message/outbox-")
    assert sent.body["body"] == "王阿姨: 听到：2号楼停电了" and sent.body["m.mentions"] == {"user_ids": [WANG]}
    assert sent.headers["Authorization"] == "Bearer tok"
    await bot.stop()


async def test_invitations_are_accepted_and_direct_chats_noted(homeserver, fake_platform):
    url, api, _ = homeserver
    bot, rasa = channel(url), Bot()
    bot.access_token = "tok"
    invited = {"invite_state": {"events": [
        {"type": "m.room.member", "state_key": BOT, "sender": WANG, "content": {"membership": "invite",
                                                                                "is_direct": True}}]}}
    await bot.take({"rooms": {"invite": {ROOM: {"invite_state": {"events": []}}, DIRECT_ROOM: invited}}}, rasa, None)
    assert {c.path for c in fake_platform.sent(api + "/join/")} == {f"{api}/join/{ROOM}", f"{api}/join/{DIRECT_ROOM}"}
    [noted] = fake_platform.sent(f"{api}/user/{BOT}/account_data/m.direct")
    assert noted.body == {WANG: [DIRECT_ROOM]}
    picture = message("a.jpg", msgtype="m.image")
    await bot.take({"rooms": {"join": {DIRECT_ROOM: {"timeline": {"events": [picture]}}}}}, rasa, 0)
    await bot.chat.idle()
    [reply] = [c for c in fake_platform.sent(f"{api}/rooms/{DIRECT_ROOM}/send/")]
    assert reply.body == {"msgtype": "m.notice", "body": NOT_TEXT_REPLY, "m.mentions": {}}
    await bot.stop()


async def test_staff_get_a_direct_chat_opened_once(homeserver, fake_platform):
    url, api, _ = homeserver
    bot = channel(url)
    bot.access_token = "tok"
    for n in (1, 2):
        await bot.send(OutboxMessage(id=n, recipient=f"matrix:dm:{WANG}", text=f"新工单 #{n}"))
    [created] = fake_platform.sent(api + "/createRoom")
    assert created.body == {"preset": "trusted_private_chat", "is_direct": True, "invite": [WANG]}
    sends = fake_platform.sent(api + "/rooms/!new1:example.org/send/m.room.message/")
    assert [c.path.rsplit("/", 1)[1] for c in sends] == ["outbox-1", "outbox-2"]
    assert [c.body["body"] for c in sends] == ["新工单 #1", "新工单 #2"]
    await bot.stop()


async def test_a_refusal_raises_so_the_outbox_retries(homeserver, fake_platform):
    url, api, _ = homeserver
    fake_platform.routes[f"{api}/rooms/{ROOM}/send/m.room.message/outbox-7"] = lambda *_: (
        403, {"errcode": "M_FORBIDDEN", "error": "not in room"})
    bot = channel(url)
    bot.access_token = "secret-token"
    with pytest.raises(MatrixError) as refused:
        await bot.send(OutboxMessage(id=7, recipient=sender_id("matrix", ROOM, WANG), text="x"))
    assert refused.value.errcode == "M_FORBIDDEN" and "secret-token" not in str(refused.value)
    await bot.stop()


# the sync loop -------------------------------------------------------------------------------
async def test_the_loop_logs_in_keeps_syncing_through_an_outage_and_stops(homeserver, fake_platform):
    url, api, state = homeserver
    bot, rasa = channel(url), Bot()
    state["syncs"] = [{}, joined(message("社区小助手 5号楼电梯坏了"))]
    fake_platform.down = True  # the homeserver is restarting when the bot starts
    bot.start(rasa)
    await asyncio.sleep(1.5)
    fake_platform.down = False
    for _ in range(100):
        if rasa.heard:
            break
        await asyncio.sleep(0.1)
    assert [text for _, text in rasa.heard] == ["5号楼电梯坏了"]
    [login] = fake_platform.sent(api + "/login")
    assert login.body["identifier"] == {"type": "m.id.user", "user": BOT} and login.body["device_id"]
    syncs = fake_platform.sent(api + "/sync")
    assert "since" not in syncs[0].query and syncs[1].query["since"] == "s1"
    await bot.stop()
    assert bot.stopped
