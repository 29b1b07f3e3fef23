"""The staff console in real Chromium: log in, resolve a ticket and see the satisfaction
question go out, check the dashboard against the database, be refused another community's
ticket. The console runs as `make run` starts it, on an SQLite file with the sample site."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import tickets
from bot.clock import utc_now
from bot.db import make_engine
from bot.migrate import upgrade
from bot.models import Compound, OutboxMessage, Reporter, Ticket
from bot.taxonomy import CATEGORIES
from bot.tickets import OPEN_STATUSES
from console_browser import chromium_page, log_in, running_console, screenshot
from console_site import PASSWORD, build_site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("console_browser")
    engine = make_engine(f"sqlite:///{work / 'console.db'}")
    upgrade(engine)
    yield build_site(engine), work
    engine.dispose()


@pytest.fixture(scope="module")
def console_url(site):
    built, work = site
    with running_console(str(built.engine.url), "http://127.0.0.1:9", work) as url:
        yield url


@pytest.fixture
def page():
    with chromium_page() as page:
        yield page


def test_a_secretary_logs_in_resolves_a_ticket_and_the_satisfaction_question_goes_out(site, console_url, page):
    built, _ = site
    page.goto(f"{console_url}/tickets")
    assert "/login" in page.url
    screenshot(page, "console_login")
    log_in(page, console_url, "zhang", PASSWORD)
    assert page.url.endswith("/tickets")
    assert page.locator("#ticket-total").inner_text() == "2"  # 金御城's two tickets, no one else's
    screenshot(page, "console_tickets")
    page.click(f"a[href='/tickets/{built.tickets['heating']}']")
    page.fill("#resolve-note", "供热站已更换7号楼阀门，暖气恢复")
    page.click("button:has-text('办结')")
    page.wait_for_selector("text=已办结，满意度回访已发给2位反映人")
    assert page.locator("#ticket-status").inner_text() == "已办结"
    questions = page.locator("#outbox tr", has_text="请回复“满意”“基本满意”或“不满意”")
    assert questions.count() == 2
    screenshot(page, "console_ticket_resolved")
    with Session(built.engine, future=True) as s:
        senders = set(s.scalars(select(Reporter.sender_id).where(Reporter.ticket_id == built.tickets["heating"])))
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient.in_(senders),
                                                     OutboxMessage.text.contains("暖气恢复"))).all()
    assert {m.recipient for m in sent} == senders and len(senders) == 2
    assert all("满意" in m.text and m.status == "pending" for m in sent)  # queued for the platform's delivery loop


def database_figures(engine) -> dict:
    """The dashboard's figures computed straight from the tables (every ticket is recent)."""
    now = utc_now()
    with Session(engine, future=True) as s:
        rows = s.scalars(select(Ticket)).all()
        answers = list(s.scalars(select(Reporter.satisfaction).where(Reporter.satisfaction.is_not(None))))
        per_compound = dict(s.execute(select(Compound.name, func.count(Ticket.id)).join(Ticket.compound)
                                      .group_by(Compound.name)).all())
    in_sla = [t for t in rows if t.resolved_at and t.resolved_at - t.created_at <= CATEGORIES[t.category].sla]
    due = [t for t in rows if t.resolved_at or t.created_at + CATEGORIES[t.category].sla <= now]
    good = [a for a in answers if a in ("satisfied", "basically_satisfied")]
    return {
        "total": str(len(rows)),
        "completion": f"{100 * len(in_sla) / len(due):.1f}%",
        "satisfaction": f"{100 * len(good) / len(answers):.1f}%",
        "overdue": str(sum(t.overdue or (t.status in OPEN_STATUSES and t.due_at < now) for t in rows)),
        "urgent": str(sum(t.urgent for t in rows)),
        "per_compound": per_compound,
    }


def chart_values(page, label: str) -> dict:
    """The bar chart's label → value pairs, as drawn."""
    texts = page.locator(f"svg[aria-label='{label}'] text").all_text_contents()
    return {name: int(value) for name, value in zip(texts[::2], texts[1::2])}


def test_the_dashboard_shows_what_the_database_holds(site, console_url, page):
    built, _ = site
    with Session(built.engine, future=True) as s, s.begin():  # one more answered ticket
        parking = s.get(Ticket, built.tickets["parking"])
        tickets.resolve(s, parking, parking.created_at + timedelta(hours=1), "已清理", "guangming")
        tickets.rate(s, "wecom", "dave", "basically_satisfied", utc_now())
    log_in(page, console_url, "admin", PASSWORD)
    page.click("nav >> text=数据看板")
    expected = database_figures(built.engine)
    shown = {name: page.locator(f"#kpi-{name}").inner_text().strip()
             for name in ("total", "completion", "satisfaction", "overdue", "urgent")}
    assert shown == {k: v for k, v in expected.items() if k != "per_compound"}
    assert chart_values(page, "各小区工单数") == expected["per_compound"]
    assert sum(chart_values(page, "各类别工单数").values()) == int(expected["total"])
    filed_per_week = page.locator("#weeks tbody tr").first.locator("td").all_inner_texts()[1:]
    assert sum(int(n) for n in filed_per_week) == int(expected["total"])
    screenshot(page, "console_dashboard")


def test_another_communitys_ticket_is_refused_whatever_url_is_typed(site, console_url, page):
    built, _ = site
    log_in(page, console_url, "zhang", PASSWORD)
    answer = page.goto(f"{console_url}/tickets/{built.tickets['lift']}")  # 春晖家园, 和谐社区
    assert answer.status == 403
    assert "无权访问" in page.locator("h1").inner_text() and "春晖家园" not in page.content()
    screenshot(page, "console_refused")
    answer = page.goto(f"{console_url}/tickets/export.csv?compound={built.compound_ids['春晖家园']}")
    assert answer.status == 403
