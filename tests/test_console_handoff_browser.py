"""转人工 end to end in real Chromium: a resident in a DingTalk group asks for a person; the branch
secretary sees the conversation appear in the console's queue without reloading, takes it,
replies, and the reply reaches the resident's group on the (fake) DingTalk platform, @-mentioning
them; meanwhile the bot leaves that resident's chat to staff but still files a report; handed
back, the bot answers again.

The real stack (Rasa server with the DingTalk connector, action server) and the console started
as `make run` starts it (`python -m console`), on one database. Screenshots go to tests/artifacts/."""
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import handoff as handoffs
from bot.clock import utc_now
from bot.models import ReceivedEvent, User
from bot.users import create_user
from console_browser import chromium_page, log_in, running_console, screenshot
from test_dingtalk import SESSION_PATH, callback, deliver, live, session_of  # noqa: F401 - live is a fixture

PASSWORD = "browser test password"


@pytest.fixture(scope="module")
def console_url(stack, tmp_path_factory):
    """The console on the stack's database, as `make run` starts it, with 金御城's branch secretary."""
    with Session(stack.engine, future=True) as session, session.begin():
        if not session.scalars(select(User).where(User.username == "zhang_handoff")).first():
            create_user(session, "zhang_handoff", "branch_secretary", PASSWORD, utc_now(), compounds=["金御城"])
    with running_console(str(stack.engine.url), stack.rasa_url, tmp_path_factory.mktemp("console"),
                         stack.rasa_token) as url:
        yield url


@pytest.fixture
def page():
    with chromium_page() as page:
        yield page


def says(fake_platform, session: str) -> list[dict]:
    """What the resident's group received in answer to the callback of `session`."""
    return [c.body for c in fake_platform.sent(SESSION_PATH) if c.query.get("session") == session]


def said_to(fake_platform, user: str, count: int) -> list[dict]:
    """What the group received for `user`, whichever of their messages' sessions carried it (a
    reply goes by the freshest session webhook the resident's messages brought)."""
    def to_user(calls):
        return [c.body for c in calls if c.path == SESSION_PATH and c.body.get("at") == {"atUserIds": [user]}]
    return to_user(fake_platform.wait_for(lambda calls: len(to_user(calls)) >= count, 120))


def wait_for_said(fake_platform, session: str, count: int) -> list[dict]:
    fake_platform.wait_for(lambda calls: len([c for c in calls if c.path == SESSION_PATH
                                              and c.query.get("session") == session]) >= count, 120)
    return says(fake_platform, session)


def processed(stack, message: dict) -> bool:
    with Session(stack.engine, future=True) as session:
        return session.scalars(select(ReceivedEvent.status).where(
            ReceivedEvent.event_id == message["msgId"])).first() == "done"


def test_take_reply_and_hand_back_in_the_browser(live, fake_platform, console_url, page):
    user = f"b{uuid.uuid4().hex[:8]}"
    log_in(page, console_url, "zhang_handoff", PASSWORD)
    page.goto(f"{console_url}/handoff")

    asked = callback(fake_platform, "我要转人工", user=user)
    assert deliver(live, asked)[0] == 200
    [notice] = wait_for_said(fake_platform, session_of(asked), 1)
    assert "已为您转接社区工作人员" in notice["text"]["content"]
    row = page.locator("tr[data-handoff]", has_text=f"业主{user}")
    row.wait_for()  # appears without a reload
    screenshot(page, "handoff_queue")

    chat = callback(fake_platform, "有人在吗？", user=user)
    assert deliver(live, chat)[0] == 200
    fake_platform.wait_for(lambda _: processed(live, chat), 120)
    assert says(fake_platform, session_of(chat)) == []  # staff have the conversation: the bot is silent
    meanwhile = callback(fake_platform, "7号楼电梯还是不动", user=user)
    assert deliver(live, meanwhile)[0] == 200
    [receipt] = wait_for_said(fake_platform, session_of(meanwhile), 1)  # a report is still filed
    assert "已登记工单" in receipt["text"]["content"]

    row.get_by_role("link", name="打开").click()
    page.get_by_role("button", name="接手这个对话").click()
    page.locator(".transcript", has_text="7号楼电梯还是不动").wait_for()
    page.fill("#reply-text", "您好，我是张书记，马上联系电梯维保。")
    page.get_by_role("button", name="发送回复").click()
    page.get_by_text("回复已发出").wait_for()
    page.locator(".transcript .staff", has_text="马上联系电梯维保").wait_for()
    screenshot(page, "handoff_conversation")
    reply = said_to(fake_platform, user, 3)[2]  # the notice, the receipt, the staff's reply
    assert reply["text"]["content"] == f"@{user} 【社区工作人员】您好，我是张书记，马上联系电梯维保。"

    page.get_by_role("button", name="交回小助手").click()
    page.get_by_text("对话已交回小助手").wait_for()
    screenshot(page, "handoff_returned")
    assert said_to(fake_platform, user, 4)[3]["text"]["content"].endswith(handoffs.HANDED_BACK)
    again = callback(fake_platform, "你好", user=user)
    assert deliver(live, again)[0] == 200
    [answer] = wait_for_said(fake_platform, session_of(again), 1)
    assert "社区小助手" in answer["text"]["content"]
