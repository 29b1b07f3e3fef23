"""The console's 转人工 pages: the queue, the transcript read from Rasa's SQL tracker store, take,
reply, file or link a ticket, hand back — and nobody reaching a handoff outside their scope,
whatever URL they use. On SQLite and PostgreSQL (the `engine` fixture); the tracker store is
Rasa's own SQLTrackerStore on the same database; a small stand-in records what the console asks
of Rasa's HTTP API."""
import re
from datetime import timedelta

import pytest
from aiohttp import web
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered, ConversationPaused, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import handoff as handoffs
from bot import tickets
from bot.clock import utc_now
from bot.conversations import Resident
from bot.endpoints import tracker_store
from bot.models import Handoff, OutboxMessage, Ticket
from bot.org import find_compound, import_org_file
from bot.users import create_user
from conftest import ROOT
from console.app import create_app

PASSWORD = "correct horse battery"
JINYU = Resident("wecom", "wrOgQhDgAAJinYuCheng01", "alice", "王阿姨")    # 金御城, 光明社区
WANGJIANG = Resident("rest", "wangjiang-demo", "bob", "李大爷")          # 望江华庭, 和谐社区
STRANGER = Resident("rest", None, "carol")                               # one-to-one, no compound
MENTION = {"mention": "alice"}  # the reply context the connector left on its last row to alice
RASA_TOKEN = "rasa-api-token"


class FakeRasa:
    """Rasa's HTTP API as far as the console uses it: it records the events appended, and, as
    `rasa run --auth-token` does, refuses a request without the token with 401."""

    def __init__(self) -> None:
        self.appended: list[tuple[str, list]] = []

    async def append(self, request: web.Request) -> web.Response:
        if request.query.get("token") != RASA_TOKEN:
            return web.json_response({"reason": "NotAuthenticated"}, status=401)
        self.appended.append((request.match_info["sender"], await request.json()))
        return web.json_response({})


@pytest.fixture
def site(engine):
    """The sample site, three staff accounts, and a handoff in 金御城, one in 望江华庭, one without a compound."""
    import_org_file(engine, ROOT / "org" / "sample_site.yml")
    now = utc_now()
    with Session(engine, future=True) as session, session.begin():
        create_user(session, "admin", "admin", PASSWORD, now)
        create_user(session, "guangming", "community_staff", PASSWORD, now, communities=["光明社区"])
        create_user(session, "hexie", "community_staff", PASSWORD, now, communities=["和谐社区"])
        create_user(session, "zhang", "branch_secretary", PASSWORD, now, compounds=["金御城"])
        session.add(OutboxMessage(created_at=now, recipient=JINYU.sender_id, text="您好", status="sent",
                                  attempts=1, next_attempt_at=now, context=MENTION))
        for resident, compound, text in ((JINYU, "金御城", "转人工"), (WANGJIANG, "望江华庭", "我要找人"),
                                         (STRANGER, None, "人工")):
            handoffs.start(session, resident, "asked", find_compound(session, compound) if compound else None,
                           text, now - timedelta(minutes=12))
    return engine


async def save_transcript(engine, sender_id: str, events: list) -> None:
    """Write a conversation the way the Rasa server does: its SQLTrackerStore on DATABASE_URL."""
    settings = tracker_store(engine.url.render_as_string(hide_password=False))
    settings.pop("type")
    store = SQLTrackerStore(**settings)
    await store.save(DialogueStateTracker.from_events(sender_id, events))
    store.engine.dispose()


@pytest.fixture
async def rasa(aiohttp_server):
    fake = FakeRasa()
    app = web.Application()
    app.router.add_post("/conversations/{sender}/tracker/events", fake.append)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url(""))
    return fake


@pytest.fixture
def console(site, rasa, aiohttp_client):
    """Log in as one of the accounts; returns a client with its session cookie."""
    async def as_user(username: str, rasa_token: str = RASA_TOKEN):
        client = await aiohttp_client(create_app(site, rasa_url=rasa.url, rasa_token=rasa_token))
        page = await (await client.get("/login")).text()
        answer = await client.post("/login", data={"username": username, "password": PASSWORD,
                                                   "csrf_token": csrf_of(page)}, allow_redirects=False)
        assert answer.status == 302, await answer.text()
        return client
    return as_user


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def handoff_id(engine, resident: Resident) -> int:
    with Session(engine, future=True) as session:
        return session.scalars(select(Handoff.id).where(Handoff.sender_id == resident.sender_id)).one()


def handoff_row(engine, resident: Resident) -> Handoff:
    with Session(engine, future=True, expire_on_commit=False) as session:
        return session.scalars(select(Handoff).where(Handoff.sender_id == resident.sender_id)).one()


def outbox_to(engine, resident: Resident) -> list[OutboxMessage]:
    with Session(engine, future=True) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == resident.sender_id,
                                                                OutboxMessage.status == "pending")
                                    .order_by(OutboxMessage.id)))


async def post(client, path: str, **form):
    page = await (await client.get("/handoff")).text()
    return await client.post(path, data={"csrf_token": csrf_of(page), **form}, allow_redirects=False)


# the queue ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("username, sees, does_not_see", [
    ("admin", ["王阿姨", "李大爷", "carol"], []),
    ("guangming", ["王阿姨"], ["李大爷", "carol"]),
    ("hexie", ["李大爷"], ["王阿姨", "carol"]),
    ("zhang", ["王阿姨"], ["李大爷", "carol"]),
])
async def test_the_queue_lists_the_handoffs_in_the_users_scope_only(console, username, sees, does_not_see):
    client = await console(username)
    for path in ("/handoff", "/handoff/rows"):
        page = await (await client.get(path)).text()
        assert all(name in page for name in sees), (path, page)
        assert not any(name in page for name in does_not_see), (path, page)


async def test_the_queue_shows_waiting_time_group_compound_and_the_latest_message(console, site):
    await save_transcript(site, JINYU.sender_id, [
        UserUttered("转人工", metadata={"display_name": "王阿姨"}), BotUttered("已为您转接社区工作人员"),
        ConversationPaused(), UserUttered("7号楼的电梯还是不动", metadata={"display_name": "王阿姨"})])
    page = await (await (await console("guangming")).get("/handoff/rows")).text()
    row = page[page.index(f'data-handoff="{handoff_id(site, JINYU)}"'):]
    assert "12分钟" in row and "wrOgQhDgAAJinYuCheng01" in row and "金御城" in row
    assert "7号楼的电梯还是不动" in row  # from the tracker store, said after the bot paused


async def test_the_queue_page_fetches_its_rows_again_by_itself(console):
    page = await (await (await console("admin")).get("/handoff")).text()
    assert 'data-src="/handoff/rows"' in page and '<script src="/static/handoff.js">' in page


# scope, whatever the URL --------------------------------------------------------------------------
@pytest.mark.parametrize("method, suffix, form", [
    ("get", "", {}), ("get", "/transcript", {}), ("post", "/take", {}), ("post", "/reply", {"text": "您好"}),
    ("post", "/ticket", {"category": "elevator", "text": "电梯坏了"}), ("post", "/link", {"ticket_id": "1"}),
    ("post", "/return", {}),
])
async def test_nobody_reaches_a_handoff_outside_their_scope(console, site, rasa, method, suffix, form):
    client = await console("guangming")
    path = f"/handoff/{handoff_id(site, WANGJIANG)}{suffix}"
    answer = await (post(client, path, **form) if method == "post" else client.get(path))
    assert answer.status == 403
    assert handoff_row(site, WANGJIANG).status == "waiting" and handoff_row(site, WANGJIANG).ticket_id is None
    assert outbox_to(site, WANGJIANG) == [] and rasa.appended == []
    with Session(site, future=True) as session:
        assert session.scalars(select(Ticket)).all() == []


async def test_a_handoff_without_a_compound_is_for_admins_only(console, site):
    path = f"/handoff/{handoff_id(site, STRANGER)}"
    assert (await (await console("zhang")).get(path)).status == 403
    assert (await (await console("admin")).get(path)).status == 200


async def test_an_unknown_handoff_is_404_and_the_login_is_required(console, site, aiohttp_client, rasa):
    assert (await (await console("admin")).get("/handoff/999999")).status == 404
    anonymous = await aiohttp_client(create_app(site, rasa_url=rasa.url))
    answer = await anonymous.get(f"/handoff/{handoff_id(site, JINYU)}", allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"].startswith("/login")


async def test_a_form_without_the_csrf_token_is_refused(console, site):
    client = await console("zhang")
    answer = await client.post(f"/handoff/{handoff_id(site, JINYU)}/take", data={}, allow_redirects=False)
    assert answer.status == 403 and handoff_row(site, JINYU).status == "waiting"


# the transcript ------------------------------------------------------------------------------------
async def test_the_transcript_comes_from_the_tracker_store(console, site):
    await save_transcript(site, JINYU.sender_id, [
        UserUttered("电梯又坏了", metadata={"display_name": "王阿姨"}), BotUttered("抱歉，我没太明白"),
        UserUttered("转人工", metadata={"display_name": "王阿姨"}), BotUttered("已为您转接社区工作人员"),
        ConversationPaused(), UserUttered("人呢？", metadata={"display_name": "王阿姨"})])
    client = await console("zhang")
    page = await (await client.get(f"/handoff/{handoff_id(site, JINYU)}")).text()
    page = page[page.index('id="transcript"'):]
    said = [page.index(text) for text in ("电梯又坏了", "抱歉，我没太明白", "转人工", "已为您转接社区工作人员",
                                          "小助手暂停回复", "人呢？")]
    assert said == sorted(said)
    fragment = await (await client.get(f"/handoff/{handoff_id(site, JINYU)}/transcript")).text()
    assert "人呢？" in fragment and "<html" not in fragment


# what staff do --------------------------------------------------------------------------------------
async def test_taking_a_conversation_and_another_user_cannot_take_it_too(console, site):
    path = f"/handoff/{handoff_id(site, JINYU)}/take"
    assert (await post(await console("zhang"), path)).status == 303
    row = handoff_row(site, JINYU)
    assert row.status == "taken" and row.taken_at is not None
    answer = await post(await console("guangming"), path)
    assert answer.status == 409 and "zhang" in await answer.text()


async def test_a_reply_goes_to_the_resident_in_their_group_and_into_the_transcript(console, site, rasa):
    client = await console("guangming")
    answer = await post(client, f"/handoff/{handoff_id(site, JINYU)}/reply", text="您好，电话13912345678，我们马上派人")
    assert answer.status == 303 and "done=replied" in answer.headers["Location"]
    [sent] = outbox_to(site, JINYU)
    assert sent.text == "【社区工作人员】您好，电话139****5678，我们马上派人"  # masked: it is a group
    assert sent.context == MENTION  # the connector @-mentions alice in her group
    [(sender, events)] = rasa.appended
    assert sender == JINYU.sender_id
    assert events == [{"event": "bot", "text": sent.text, "metadata": {"staff": "guangming"}}]
    assert handoff_row(site, JINYU).status == "taken"


async def test_an_empty_reply_is_refused(console, site, rasa):
    answer = await post(await console("zhang"), f"/handoff/{handoff_id(site, JINYU)}/reply", text="   ")
    assert answer.status == 400 and outbox_to(site, JINYU) == [] and rasa.appended == []


async def test_filing_a_ticket_from_the_conversation_tells_the_resident(console, site):
    client = await console("zhang")
    answer = await post(client, f"/handoff/{handoff_id(site, JINYU)}/ticket", category="elevator", text="7号楼电梯停了一天")
    assert answer.status == 303
    with Session(site, future=True) as session:
        [ticket] = session.scalars(select(Ticket)).all()
        assert (ticket.category, ticket.compound.name, [r.sender_id for r in ticket.reporters]) == (
            "elevator", "金御城", [JINYU.sender_id])
    assert handoff_row(site, JINYU).ticket_id == ticket.id
    [receipt] = outbox_to(site, JINYU)
    assert f"#{ticket.id}" in receipt.text and "电梯" in receipt.text
    page = await (await client.get(answer.headers["Location"])).text()
    assert f'href="/tickets/{ticket.id}"' in page and "已登记工单" in page


async def test_staff_file_with_the_building_and_urgency_and_another_buildings_ticket_is_not_joined(console, site):
    with Session(site, future=True) as session, session.begin():
        building_7 = tickets.file_report(session, tickets.Report(
            category="sanitation", urgent=False, text="7号楼垃圾没人清", compound_id=find_compound(session, "金御城").id,
            platform="rest", user_id="x", sender_id="rest:dm:x", building="7"), utc_now()).ticket.id
    client = await console("zhang")
    answer = await post(client, f"/handoff/{handoff_id(site, JINYU)}/ticket", category="sanitation",
                        text="C座垃圾没人清", building="c座", unit="2单元", room="", urgent="1")
    assert answer.status == 303
    with Session(site, future=True) as session:
        ticket = session.get(Ticket, handoff_row(site, JINYU).ticket_id)
        assert ticket.id != building_7
        assert (ticket.building, ticket.unit, ticket.room, ticket.urgent) == ("C", "2", None, True)
        told = set(session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.text.like("【紧急工单】%"))))
        assert {"wecom:dm:zhangsj", "wecom:dm:chenshuji", "wecom:dm:liushuji"} <= told  # all three levels
    [receipt] = outbox_to(site, JINYU)
    assert f"#{ticket.id}" in receipt.text and tickets.URGENT_NOTICE in receipt.text


@pytest.mark.parametrize("field, value, said", [("building", "七栋楼", "楼栋"), ("building", "0", "楼栋"),
                                                ("unit", "二单元", "单元"), ("room", "5", "室号"),
                                                ("urgent", "yes", "紧急")])
async def test_a_building_unit_room_or_urgency_the_form_cannot_read_is_refused_in_chinese(console, site, field, value,
                                                                                        said):
    form = {"category": "sanitation", "text": "垃圾没人清", field: value}
    answer = await post(await console("zhang"), f"/handoff/{handoff_id(site, JINYU)}/ticket", **form)
    assert answer.status == 400 and said in await answer.text()
    assert handoff_row(site, JINYU).ticket_id is None and outbox_to(site, JINYU) == []


async def test_the_ticket_form_asks_for_the_building_and_urgency(console, site):
    page = await (await (await console("zhang")).get(f"/handoff/{handoff_id(site, JINYU)}")).text()
    assert all(f'name="{name}"' in page for name in ("building", "unit", "room", "urgent"))


async def test_linking_a_ticket_needs_one_in_scope(console, site):
    with Session(site, future=True) as session, session.begin():
        report = dict(urgent=False, platform="rest", user_id="x", display_name=None)
        ours = tickets.file_report(session, tickets.Report(
            category="water", text="停水", compound_id=find_compound(session, "金御城").id,
            sender_id="rest:dm:x", **report), utc_now()).ticket.id
        theirs = tickets.file_report(session, tickets.Report(
            category="water", text="停水", compound_id=find_compound(session, "望江华庭").id,
            sender_id="rest:dm:x", **report), utc_now()).ticket.id
    client = await console("guangming")
    path = f"/handoff/{handoff_id(site, JINYU)}/link"
    for refused in (str(theirs), "abc", "999999"):
        assert (await post(client, path, ticket_id=refused)).status == 400
    assert handoff_row(site, JINYU).ticket_id is None
    assert (await post(client, path, ticket_id=f"#{ours}")).status == 303
    assert handoff_row(site, JINYU).ticket_id == ours


async def test_handing_back_resumes_the_conversation_in_rasa(console, site, rasa):
    client = await console("zhang")
    answer = await post(client, f"/handoff/{handoff_id(site, JINYU)}/return")
    assert answer.status == 303
    [(sender, events)] = rasa.appended
    assert sender == JINYU.sender_id
    assert [event["event"] for event in events] == ["bot", "resume", "action"]
    assert events[2]["name"] == "action_listen"
    assert handoff_row(site, JINYU).status == "returned"
    assert [m.text for m in outbox_to(site, JINYU)] == [handoffs.HANDED_BACK]
    assert "王阿姨" not in await (await client.get("/handoff/rows")).text()
    assert (await post(client, f"/handoff/{handoff_id(site, JINYU)}/return")).status == 409


async def test_without_rasas_token_nothing_is_handed_back_or_recorded(console, site, rasa):
    client = await console("zhang", rasa_token="not-the-token")
    assert (await post(client, f"/handoff/{handoff_id(site, JINYU)}/return")).status == 502
    answer = await post(client, f"/handoff/{handoff_id(site, JINYU)}/reply", text="您好")
    assert "done=unrecorded" in answer.headers["Location"]
    assert rasa.appended == [] and handoff_row(site, JINYU).status == "taken"


async def test_when_rasa_is_down_nothing_is_handed_back(site, aiohttp_client):
    client = await aiohttp_client(create_app(site, rasa_url="http://127.0.0.1:9"))
    page = await (await client.get("/login")).text()
    await client.post("/login", data={"username": "zhang", "password": PASSWORD, "csrf_token": csrf_of(page)})
    answer = await post(client, f"/handoff/{handoff_id(site, JINYU)}/return")
    assert answer.status == 502 and "还没有交回" in await answer.text()
    assert handoff_row(site, JINYU).status == "waiting" and outbox_to(site, JINYU) == []
