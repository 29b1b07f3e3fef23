"""Matrix end to end, on a real homeserver: Synapse on 127.0.0.1 (tests/synapse_server.py), the real
Rasa server with the Matrix channel and the real action server, residents on matrix-nio.

Two residents of 春晖家园 report the same heating problem in their room; the bot files one ticket
with two reporters and answers each of them in the room; one asks for the status and gets it; a
message from before the bot started is never answered; the branch secretary is told in a direct
chat. What residents see is read from the room's timeline with matrix-nio."""
import re
import time
from pathlib import Path
from unittest import mock

import pytest

import running_stack
from conftest import ROOT
from running_stack import Stack
from synapse_server import Homeserver, Resident

pytestmark = pytest.mark.servers

BOT_NAME = "社区小助手"
HEATING = "3号楼暖气不热 家里才十五度"


@pytest.fixture(scope="module")
def homeserver(tmp_path_factory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def people(homeserver) -> dict:
    """The bot's account and three people on the homeserver, with display names."""
    people = {"bot": homeserver.register("assistant", "bot-password")}
    for key, name in (("wang", "王阿姨"), ("li", "李大爷"), ("secretary", "魏书记")):
        people[key] = Resident(homeserver.url, homeserver.register(key, f"{key}-password"), f"{key}-password")
        people[key].do("profile", name=name)
    return people


@pytest.fixture(scope="module")
def room(people) -> str:
    """春晖家园's group: 王阿姨 opens it, invites the bot and 李大爷, and speaks before the bot runs."""
    wang, li = people["wang"], people["li"]
    room_id = wang.do("create_room", name="春晖家园业主群", invite=[people["bot"], li.user_id])["room_id"]
    li.do("join", room_id=room_id)
    wang.do("send", room_id=room_id, content=mention(people["bot"], "9号楼电梯坏了 困了人"))
    return room_id


def site_with(room_id: str, secretary: str, work: Path) -> Path:
    """The sample site, with the room bound to 春晖家园 and Matrix staff on this homeserver: the
    branch secretary is the test's account; the others' Matrix ids (on matrix.example.org) go."""
    text = (ROOT / "org" / "sample_site.yml").read_text(encoding="utf-8")
    text = text.replace('"@weisj:matrix.example.org"', f'"{secretary}"').replace(
        '"!chunhui:matrix.example.org"', f'"{room_id}"')
    text = re.sub(r',\s*matrix: "@\w+:matrix\.example\.org"', "", text)
    path = work / "site.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bot(homeserver, people, room, trained_model, tmp_path_factory):
    """The real Rasa server (REST and the Matrix channel) and action server; stopped afterwards."""
    work = tmp_path_factory.mktemp("matrix-stack")
    credentials = {"rest": None, "connectors.matrix.MatrixInput": {
        "homeserver": homeserver.url, "user_id": people["bot"], "password": "bot-password",
        "display_name": BOT_NAME}}
    with mock.patch.object(running_stack, "all_credentials", lambda _fake: credentials):
        stack = Stack.start(trained_model, work, "http://127.0.0.1:9")
    running_stack.import_org_file(stack.engine, site_with(room, people["secretary"].user_id, work))
    yield stack
    stack.stop()


def mention(user_id: str, text: str, name: str = BOT_NAME) -> dict:
    """A mention as Element sends it: the name in the body, a pill in the HTML, m.mentions."""
    return {"msgtype": "m.text", "body": f"{name}: {text}", "format": "org.matrix.custom.html",
            "formatted_body": f'<a href="https://matrix.to/#/{user_id}">{name}</a>: {text}',
            "m.mentions": {"user_ids": [user_id]}}


def bot_messages(resident: Resident, room_id: str, bot_id: str) -> list[dict]:
    return [m for m in resident.do("timeline", room_id=room_id)["messages"] if m["sender"] == bot_id]


def wait_for_bot(resident: Resident, room_id: str, bot_id: str, count: int, seconds: float = 120) -> list[dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = bot_messages(resident, room_id, bot_id)
        if len(seen) >= count:
            return seen
        time.sleep(1)
    raise AssertionError(f"the bot sent {len(seen)} of {count} messages in time")


def test_two_residents_report_heating_and_one_asks_for_the_status(bot, people, room):
    wang, li, bot_id = people["wang"], people["li"], people["bot"]
    deadline = time.monotonic() + 60  # the bot accepts the invitation once its sync loop runs
    while bot_id not in wang.do("members", room_id=room)["members"] and time.monotonic() < deadline:
        time.sleep(1)
    assert bot_id in wang.do("members", room_id=room)["members"]

    wang.do("send", room_id=room, content=mention(bot_id, HEATING))  # m.mentions, as Element does
    [to_wang] = wait_for_bot(wang, room, bot_id, 1)
    li.do("send", room_id=room, content={"msgtype": "m.text", "body": f"@{BOT_NAME} 我家3号楼暖气也不热"})
    to_wang, to_li = wait_for_bot(li, room, bot_id, 2)  # the display name alone, as older clients do

    for message, resident, name in ((to_wang, wang, "王阿姨"), (to_li, li, "李大爷")):
        content = message["content"]
        assert content["msgtype"] == "m.notice" and content["m.mentions"] == {"user_ids": [resident.user_id]}
        assert content["body"].startswith(f"{name}: ")
        assert f'href="https://matrix.to/#/{resident.user_id}"' in content["formatted_body"]
    assert "供暖" in to_wang["content"]["body"] and "春晖家园" in to_wang["content"]["body"]
    assert "2户" in to_li["content"]["body"]  # 反映集中: the second household joins the ticket
    [(_, category, compound, reporters)] = bot.tickets()
    assert (category, compound, reporters) == ("heating", "春晖家园", sorted([wang.user_id, li.user_id]))

    wang.do("send", room_id=room, content=mention(bot_id, "我报的事怎么样了"))
    status = wait_for_bot(wang, room, bot_id, 3)[-1]["content"]
    assert status["body"].startswith("王阿姨: ") and "供暖" in status["body"] and "已派单" in status["body"]

    time.sleep(3)  # nothing more comes: the message from before the bot started stays unanswered
    assert len(bot_messages(wang, room, bot_id)) == 3
    assert not any("电梯" in m["content"]["body"] for m in bot_messages(wang, room, bot_id))


def test_the_branch_secretary_is_told_in_a_direct_chat(bot, people, room):
    secretary, bot_id = people["secretary"], people["bot"]
    deadline, rooms = time.monotonic() + 60, []
    while not rooms and time.monotonic() < deadline:
        rooms = secretary.do("accept_invitations")["rooms"]
        time.sleep(0 if rooms else 1)
    [direct] = rooms
    [notice] = wait_for_bot(secretary, direct, bot_id, 1)
    assert "春晖家园" in notice["content"]["body"] and notice["content"]["msgtype"] == "m.notice"
    assert "m.mentions" in notice["content"] and not notice["content"]["m.mentions"]
