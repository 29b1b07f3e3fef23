"""The console's 党员志愿者 pages on SQLite and PostgreSQL: confirming registrations, offering a
ticket, confirming a task after 48 hours, the history and exchanges, the ranking, the CSV, the
dashboard figures — and a secretary of another compound neither seeing nor changing any of it."""
import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import volunteers
from bot.conversations import Resident
from bot.models import Compound, OutboxMessage, Ticket, Volunteer, VolunteerTask
from bot.users import create_user
from console_site import PASSWORD, client_as, csrf_of, site  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("site")
DOCTOR = Resident("wecom", None, "doc", "李医生")      # 金御城 (光明社区)
NEWBIE = Resident("wecom", None, "newbie", "周同志")   # 金御城, waiting for the secretary
FAR = Resident("wecom", None, "far", "孙护士")         # 春晖家园 (和谐社区)


@pytest.fixture
def volunteer_site(site):  # noqa: F811
    """Two confirmed volunteers and a pending one; 李医生 has done the heating ticket 3 days ago
    without the residents answering; a secretary of 春晖家园 (和谐社区)."""
    with Session(site.engine, future=True) as s, s.begin():
        compounds = {c.name: c for c in s.scalars(select(Compound))}
        create_user(s, "chun", "branch_secretary", PASSWORD, site.now, compounds=["春晖家园"])
        ids = {}
        for resident, compound, confirmed in ((DOCTOR, "金御城", True), (NEWBIE, "金御城", False),
                                              (FAR, "春晖家园", True)):
            volunteer = volunteers.register(s, resident, resident.display_name, compounds[compound], "市第一医院",
                                            ["doctor", "nurse"], site.now - timedelta(days=5))
            if confirmed:
                volunteers.decide_registration(s, volunteer, True, "admin", site.now - timedelta(days=5))
            ids[resident.user_id] = volunteer.id
        done_at = site.now - timedelta(days=3)
        task = volunteers.offer(s, s.get(Ticket, site.tickets["heating"]), [], done_at - timedelta(hours=2))
        volunteers.claim(s, "wecom", "doc", task.ticket_id, done_at - timedelta(hours=1))
        volunteers.finish(s, "wecom", "doc", task.ticket_id, "帮忙放了暖气片的气 用时2小时", done_at)
        ids["task"] = task.id
    return ids


async def post(client, path: str, data: dict):
    return await client.post(path, data={"csrf_token": await csrf_of(client, "/volunteers"), **data},
                             allow_redirects=False)


async def test_the_secretary_confirms_a_registration_and_the_member_is_told(client_as, volunteer_site, site):  # noqa: F811
    zhang = await client_as("zhang")
    page = await (await zhang.get("/volunteers")).text()
    assert "周同志" in page and "李医生" in page and "孙护士" not in page
    answer = await post(zhang, f"/volunteers/{volunteer_site['newbie']}/decide", {"decision": "confirm"})
    assert answer.status == 302
    page = await (await zhang.get("/volunteers")).text()
    assert "周同志的报到已确认，已通知本人" in page and "已已" not in page
    with Session(site.engine, future=True) as s:
        assert s.get(Volunteer, volunteer_site["newbie"]).status == "confirmed"
        assert "报到已确认" in s.scalars(select(OutboxMessage.text).where(
            OutboxMessage.recipient == "wecom:dm:newbie").order_by(OutboxMessage.id.desc())).first()
    again = await post(zhang, f"/volunteers/{volunteer_site['newbie']}/decide", {"decision": "reject"})
    assert again.status == 400


async def test_a_secretary_of_another_compound_can_neither_see_nor_act(client_as, volunteer_site, site):  # noqa: F811
    chun = await client_as("chun")
    page = await (await chun.get("/volunteers")).text()
    assert "孙护士" in page and "李医生" not in page and "周同志" not in page
    assert (await chun.get(f"/volunteers/{volunteer_site['doc']}")).status == 403
    for path, data in ((f"/volunteers/{volunteer_site['newbie']}/decide", {"decision": "confirm"}),
                       (f"/volunteers/tasks/{volunteer_site['task']}/confirm", {}),
                       (f"/volunteers/{volunteer_site['doc']}/spend", {"points": "1", "reason": "米"}),
                       ("/volunteers/offer", {"ticket_id": str(site.tickets["parking"])})):
        assert (await post(chun, path, data)).status == 403, path
    with Session(site.engine, future=True) as s:
        assert s.get(Volunteer, volunteer_site["newbie"]).status == "pending"
        assert s.get(VolunteerTask, volunteer_site["task"]).status == "done"
    ranking = await (await chun.get("/volunteers/ranking")).text()
    assert "李医生" not in ranking
    exported = await (await chun.get("/volunteers/export.csv")).text()
    assert "李医生" not in exported
    assert (await (await client_as(None)).get("/volunteers", allow_redirects=False)).status == 302


async def test_confirming_a_task_credits_points_shown_in_history_ranking_csv_and_dashboard(
        client_as, volunteer_site, site):  # noqa: F811
    zhang = await client_as("zhang")
    assert (await post(zhang, f"/volunteers/tasks/{volunteer_site['task']}/confirm", {})).status == 302
    assert (await post(zhang, f"/volunteers/tasks/{volunteer_site['task']}/confirm", {})).status == 400  # once
    history = await (await zhang.get(f"/volunteers/{volunteer_site['doc']}")).text()
    assert 'id="balance">20<' in history and "+20" in history  # 2 hours, no particular skill: weight 1
    spent = await post(zhang, f"/volunteers/{volunteer_site['doc']}/spend", {"points": "15", "reason": "兑换洗衣液"})
    assert spent.status == 302
    assert (await post(zhang, f"/volunteers/{volunteer_site['doc']}/spend", {"points": "6", "reason": "米"})).status == 400
    assert (await post(zhang, f"/volunteers/{volunteer_site['doc']}/spend", {"points": "-3", "reason": "米"})).status == 400
    history = await (await zhang.get(f"/volunteers/{volunteer_site['doc']}")).text()
    assert 'id="balance">5<' in history and "兑换：兑换洗衣液" in history
    ranking = await (await zhang.get("/volunteers/ranking")).text()
    assert "光明社区" in ranking and "李医生" in ranking
    assert (await zhang.get("/volunteers/ranking?month=2026-13")).status == 400
    rows = list(csv.reader(io.StringIO((await (await zhang.get("/volunteers/export.csv")).text()).lstrip("\ufeff"))))
    assert rows[0][:5] == ["时间", "志愿者", "小区", "工作单位", "积分"]
    assert [row[4] for row in rows[1:]] == ["20", "-15"]
    dashboard = await (await zhang.get("/dashboard")).text()
    assert 'id="volunteer-figures"' in dashboard and "<td>光明社区</td><td>1</td><td>1</td><td>1</td>" in dashboard


async def test_a_ticket_is_offered_to_volunteers_from_the_console(client_as, volunteer_site, site):  # noqa: F811
    guangming = await client_as("guangming")
    gas = site.tickets["gas"]
    assert (await post(guangming, "/volunteers/offer", {"ticket_id": str(gas), "skill": "plumber"})).status == 302
    assert (await post(guangming, "/volunteers/offer", {"ticket_id": str(gas)})).status == 400  # already offered
    assert (await post(guangming, "/volunteers/offer", {"ticket_id": "x"})).status == 400
    assert (await post(guangming, "/volunteers/offer", {"ticket_id": "999999"})).status == 404
    assert (await post(guangming, "/volunteers/offer", {"ticket_id": str(site.tickets["parking"]),
                                                        "skill": "astronaut"})).status == 400
    with Session(site.engine, future=True) as s:
        task = s.scalars(select(VolunteerTask).where(VolunteerTask.ticket_id == gas)).one()
        assert task.skills == ["plumber"] and task.offered_by == "guangming"
        # 李医生 is a doctor, not a plumber: nothing offered to him
        assert not [t for t in s.scalars(select(OutboxMessage.text).where(OutboxMessage.recipient == "wecom:dm:doc"))
                    if f"#{gas}" in t]
