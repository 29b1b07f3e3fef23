"""The dashboard: its figures for a scope and a period, and the page that shows them next to
SVG charts — on SQLite and PostgreSQL."""
import re
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from bot import tickets
from bot.models import Ticket
from console.metrics import Period, figures, local_day
from console_site import client_as, site  # noqa: F401 - fixtures


@pytest.fixture
def worked(site):
    """The site after some work: 供暖 resolved in 1 h (满意, 基本满意), 燃气 in 10 h, past its 4 h
    SLA (基本满意), 停车 in 3 h but its reporter is not satisfied, so it is open again."""
    with Session(site.engine, future=True) as s, s.begin():
        for name, hours in (("heating", 1), ("gas", 10), ("parking", 3)):
            ticket = s.get(Ticket, site.tickets[name])
            tickets.resolve(s, ticket, ticket.created_at + timedelta(hours=hours), "处理好了", "zhang")
        later = site.now + timedelta(hours=20)
        for user, answer in (("alice", "satisfied"), ("bob", "basically_satisfied"),
                             ("carol", "basically_satisfied"), ("dave", "unsatisfied")):
            tickets.rate(s, "wecom", user, answer, later)
    return site


def recent(site) -> Period:
    today = local_day(site.now)
    return Period(today - timedelta(days=6), today + timedelta(days=1))


def test_the_figures_for_everything(worked):
    with Session(worked.engine, future=True) as s:
        numbers = figures(s, None, recent(worked), worked.now)
    assert (numbers.total, numbers.urgent, numbers.overdue) == (5, 2, 1)  # 望江华庭's noise is past due
    # 办结率 judges the 3 tickets already due (供暖 and 燃气 resolved, 噪音 past its SLA): only 供暖 was
    # on time; 停车 (reopened) and 电梯 still have time, and are no failure yet
    assert (numbers.due, numbers.not_yet_due) == (3, 2)
    assert numbers.resolved_in_sla == 1 and numbers.completion_rate == pytest.approx(1 / 3)
    assert numbers.resolved == 2 and numbers.average_resolve_hours == pytest.approx(5.5)  # 1 h and 10 h
    assert numbers.answer_count == 4 and numbers.satisfaction_rate == pytest.approx(0.75)
    assert numbers.by_category == {"供暖": 1, "燃气": 1, "停车秩序": 1, "电梯": 1, "噪音扰民": 1}
    assert numbers.by_compound == {"金御城": 2, "翠柳苑": 1, "春晖家园": 1, "望江华庭": 1}
    assert sum(week.filed for week in numbers.weeks) == 5
    assert sum(week.resolved_in_sla for week in numbers.weeks) == 1


def test_the_figures_keep_to_the_scope(worked):
    with Session(worked.engine, future=True) as s:
        numbers = figures(s, {worked.compound_ids["金御城"], worked.compound_ids["翠柳苑"]}, recent(worked),
                          worked.now)
    assert (numbers.total, numbers.urgent, numbers.overdue) == (3, 1, 0)
    assert numbers.by_compound == {"金御城": 2, "翠柳苑": 1}


def test_a_period_before_the_tickets_has_no_figures(worked):
    long_ago = Period(date(2025, 1, 1), date(2025, 1, 31))
    with Session(worked.engine, future=True) as s:
        numbers = figures(s, None, long_ago, worked.now)
    assert numbers.total == 0 and numbers.completion_rate is None and numbers.satisfaction_rate is None
    assert [week.filed for week in numbers.weeks] == [0] * 5


def test_weeks_run_monday_to_sunday_in_beijing_time():
    period = Period(date(2026, 11, 4), date(2026, 11, 16))  # Wednesday to the Monday two weeks on
    assert period.weeks() == [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]
    start, end = period.utc_bounds()
    assert (start.isoformat(), end.isoformat()) == ("2026-11-03T16:00:00", "2026-11-16T16:00:00")


def kpi(html: str, name: str) -> str:
    found = re.search(rf'id="kpi-{name}">(?:<a [^>]*>)?([^<]+)<', html)
    return found.group(1).strip()


async def test_the_page_shows_the_users_figures_next_to_svg_charts(client_as, worked):
    period = recent(worked)
    query = f"from={period.start}&to={period.end}"
    admin = await (await (await client_as("admin")).get(f"/dashboard?{query}")).text()
    assert [kpi(admin, n) for n in ("total", "completion", "resolve-hours", "satisfaction", "overdue", "urgent")] \
        == ["5", "33.3%", "5.5", "75.0%", "1", "2"]
    assert "按时办结 1 / 已到期 3" in admin and kpi(admin, "not-yet-due") == "2"  # 另有 2 件未到期
    assert admin.count("<svg") == 3 and 'aria-label="各小区工单数"' in admin and "望江华庭" in admin
    secretary = await (await (await client_as("zhang")).get(f"/dashboard?{query}")).text()
    assert [kpi(secretary, n) for n in ("total", "completion", "urgent")] == ["2", "50.0%", "1"]
    assert "望江华庭" not in secretary and "翠柳苑" not in secretary


async def test_the_default_period_is_the_last_eight_weeks(client_as, worked):
    html = await (await (await client_as("hexie")).get("/dashboard")).text()
    today = local_day(worked.now)
    assert f'value="{today - timedelta(days=55)}"' in html and f'value="{today}"' in html
    assert kpi(html, "total") == "2"


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=2026-11-10&to=2026-11-01", "from=2020-01-01&to=2026-01-01",
                                   "to=yesterday"])
async def test_a_period_that_makes_no_sense_is_a_400(client_as, query):
    client = await client_as("admin")
    assert (await client.get(f"/dashboard?{query}")).status == 400


async def test_staff_see_on_the_dashboard_whether_the_escalation_clock_runs(client_as, site):
    from bot import health
    from bot.clock import utc_now
    stopped = await (await (await client_as("admin")).get("/dashboard")).text()
    assert "超期升级程序从未运行" in stopped  # no beat yet: overdue tickets would stay where they are
    health.record_beat(site.engine, utc_now() - timedelta(minutes=10), every_seconds=30)
    late = await (await (await client_as("admin")).get("/dashboard")).text()
    assert "已 10 分钟没有运行" in late
    health.record_beat(site.engine, utc_now(), every_seconds=30)
    running = await (await (await client_as("zhang")).get("/dashboard")).text()
    assert "超期升级程序运行正常" in running and "没有运行" not in running
