"""The console on a phone in real Chromium (390×844, an iPhone's screen): every main page fits the
screen's width — the top bar wraps its links, a wide table scrolls inside its card — and runs
under the Content-Security-Policy, whose refusal of inline code leaves the 转人工 queue still
updating without a reload. The console runs as `make run` starts it, on an SQLite file with the
sample site, a handoff, volunteers and the sample FAQ. Screenshots go to tests/artifacts/."""
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import faq, faq_store, volunteers
from bot import handoff as handoffs
from bot.clock import utc_now
from bot.conversations import Resident
from bot.db import make_engine
from bot.migrate import upgrade
from bot.models import Compound, Ticket
from bot.org import find_compound
from conftest import ROOT
from console_browser import chromium_page, log_in, running_console, screenshot
from console_site import PASSWORD, build_site

PHONE = {"width": 390, "height": 844}
WAITING = Resident("wecom", "wrOgQhDgAAJinYuCheng01", "alice", "王阿姨")
ARRIVING = Resident("wecom", "wrOgQhDgAAJinYuCheng01", "bob", "刘师傅")
DOCTOR = Resident("wecom", None, "doc", "李医生")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The sample site with a resident waiting for staff, a volunteer who did the heating ticket,
    and the sample FAQ."""
    work = tmp_path_factory.mktemp("console_phone")
    engine = make_engine(f"sqlite:///{work / 'console.db'}")
    upgrade(engine)
    built = build_site(engine)
    with Session(engine, future=True) as s, s.begin():
        handoff = handoffs.start(s, WAITING, "asked", find_compound(s, "金御城"), "转人工，电梯的事说不清楚",
                                 built.now - timedelta(minutes=12))
        jinyu = s.scalars(select(Compound).where(Compound.name == "金御城")).one()
        doctor = volunteers.register(s, DOCTOR, "李医生", jinyu, "市第一医院", ["doctor"], built.now - timedelta(days=5))
        volunteers.decide_registration(s, doctor, True, "admin", built.now - timedelta(days=5))
        task = volunteers.offer(s, s.get(Ticket, built.tickets["heating"]), [], built.now - timedelta(hours=3))
        volunteers.claim(s, "wecom", "doc", task.ticket_id, built.now - timedelta(hours=2))
        faq_store.import_entries(s, faq.load(ROOT / "faq" / "sample_faq.yml"), "test", utc_now())
        ids = {"handoff": handoff.id, "volunteer": doctor.id}
    yield built, work, ids
    engine.dispose()


@pytest.fixture(scope="module")
def console_url(site):
    built, work, _ = site
    with running_console(str(built.engine.url), "http://127.0.0.1:9", work) as url:
        yield url


@pytest.fixture
def phone():
    """A page the size of a phone's screen that records what the Content-Security-Policy refuses."""
    with chromium_page() as page:
        page.set_viewport_size(PHONE)
        page.refused = []
        page.on("console", lambda message: "Content Security Policy" in message.text
                and page.refused.append(message.text))
        yield page


def main_pages(built, ids) -> dict[str, str]:
    """Name (for the screenshot) → path of every page staff open from the top bar, and one of each kind."""
    return {"tickets": "/tickets", "ticket": f"/tickets/{built.tickets['heating']}", "dashboard": "/dashboard",
            "handoff_queue": "/handoff", "handoff": f"/handoff/{ids['handoff']}", "volunteers": "/volunteers",
            "volunteer": f"/volunteers/{ids['volunteer']}", "ranking": "/volunteers/ranking", "faq": "/faq",
            "faq_entry": "/faq/senior_card", "not_found": "/tickets/99999999999999999999"}


def outside_the_screen(page) -> list[str]:
    """The top bar's links and buttons that do not lie wholly within the screen's width."""
    return page.evaluate("""() => [...document.querySelectorAll('header.topbar a, header.topbar button')]
        .filter(e => { const box = e.getBoundingClientRect(); return box.left < 0 || box.right > innerWidth; })
        .map(e => e.textContent.trim())""")


def test_every_main_page_fits_a_phone_with_its_links_in_view_and_nothing_inline_refused(site, console_url, phone):
    built, _, ids = site
    log_in(phone, console_url, "admin", PASSWORD)  # an admin's top bar has the most links
    for name, path in main_pages(built, ids).items():
        phone.goto(f"{console_url}{path}")
        screenshot(phone, f"phone_{name}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        assert outside_the_screen(phone) == [], path
        assert phone.locator("header.topbar nav a").count() >= 5, path
    assert phone.refused == []


def test_the_ticket_list_scrolls_inside_itself_not_the_page(site, console_url, phone):
    log_in(phone, console_url, "admin", PASSWORD)
    phone.goto(f"{console_url}/tickets")
    table = phone.locator("table.tickets")
    assert table.evaluate("t => t.scrollWidth > t.clientWidth")  # ten columns do not fit 390 px ...
    assert table.evaluate("t => t.getBoundingClientRect().right") <= PHONE["width"]  # ... so the table scrolls
    table.evaluate("t => { t.scrollLeft = t.scrollWidth; }")
    assert table.evaluate("t => t.scrollLeft") > 0


def test_the_handoff_queue_still_updates_itself_under_the_content_security_policy(site, console_url, phone):
    built, _, _ = site
    log_in(phone, console_url, "admin", PASSWORD)
    phone.goto(f"{console_url}/handoff")
    with Session(built.engine, future=True) as s, s.begin():
        arriving = handoffs.start(s, ARRIVING, "asked", find_compound(s, "金御城"), "找个人", utc_now()).id
    phone.wait_for_selector(f"tr[data-handoff='{arriving}']", timeout=20_000)  # fetched by handoff.js
    assert phone.locator("#handoff-count").inner_text() == str(phone.locator("tr[data-handoff]").count())
    assert phone.refused == []
