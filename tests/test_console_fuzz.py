"""Property-based fuzzing (hypothesis) of the staff console, as tests/test_fuzz.py fuzzes the
webhooks: random query parameters on every page that reads them (the ticket filters and their
export, the dashboard's dates, the volunteers' month, the FAQ search), random ids and keys in
every path that takes one, every form posted with a valid CSRF token and random field values,
and random files to the FAQ import. Texts mix Chinese, control characters (NUL included),
full-width and superscript digits and numbers beyond any row id.

The property: the console refuses what it cannot use with a 4xx and never answers 500 — the one
5xx allowed is the 502 of handing a conversation back while Rasa is unreachable, which it is
here. 2,500 cases on SQLite and 2,500 on PostgreSQL, on a site the forms keep changing."""
import asyncio
import os
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from bot import faq, faq_store, volunteers
from bot import handoff as handoffs
from bot.conversations import Resident
from bot.models import Ticket
from bot.taxonomy import CATEGORIES
from conftest import ROOT, migrated_engine
from console.app import create_app
from console_site import CSRF, build_site, log_in

# As in test_fuzz.py: the same cases every CI run, new ones elsewhere.
CASES = settings(deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"

TEXTS = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\x1b\r\n\t²１٣/%?#&=+'\"<>号楼栋单元室"),
                max_size=30)
NUMBERS = st.one_of(st.integers(-3, 12), st.integers(2 ** 63 - 3, 2 ** 64), st.integers(10 ** 30, 10 ** 40)).map(str)
DAYS = st.one_of(st.dates().map(str), st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "2026-11-1"]))
MONTHS = st.one_of(st.dates().map(lambda day: f"{day:%Y-%m}"), st.sampled_from(["9999-12", "0001-01", "2026-13"]))
CHOICES = st.sampled_from(["open", "assigned", "resolved", "1", "0", "on", "grid", "community", "confirm", "reject",
                           "doctor", "in_progress", "closed", "网格员", "物业", *CATEGORIES])
VALUES = st.one_of(TEXTS, NUMBERS, DAYS, MONTHS, CHOICES, st.text(max_size=3000))
QUERY_NAMES = st.sampled_from(["status", "category", "compound", "level", "overdue", "urgent", "page", "from", "to",
                               "month", "q", "done"]) | TEXTS
# The fields each form of the console sends; a case sends some of them, and maybe others.
FORM_FIELDS = {
    "/tickets/{id}/{action}": ("note", "reason", "status", "person"),
    "/handoff/{id}/reply": ("text",),
    "/handoff/{id}/link": ("ticket_id",),
    "/handoff/{id}/ticket": ("category", "text", "building", "unit", "room", "urgent"),
    "/volunteers/{id}/decide": ("decision",),
    "/volunteers/offer": ("ticket_id", "skill"),
    "/volunteers/{id}/spend": ("points", "reason"),
    "/faq/asked/{id}": ("entry",),
    "/faq/new": ("key", "community", "questions", "answer", "contact", "link"),
    "/faq/{key}/{action}": ("answer", "contact", "link", "text"),
}
EXISTING = st.sampled_from(["1", "2", "3"])  # every kind of row has these ids (see `_populate`)
ODD_IDS = NUMBERS | st.sampled_from(["٣", "²", "0" * 30 + "1"])
PAGES_WITH_QUERIES = ["/tickets", "/tickets/export.csv", "/dashboard", "/volunteers", "/volunteers/ranking",
                      "/volunteers/export.csv", "/faq", "/faq/new", "/handoff", "/handoff/rows"]
# What the fuzzing leaves alone: logging out or in would end the session the cases run in, and
# the accounts pages could disable or lock the account they run as.
NOT_FUZZED = ("/login", "/logout", "/accounts")


@dataclass
class Console:
    """The console on a database of its own, served on its own event loop, logged in as admin."""
    loop: asyncio.AbstractEventLoop
    client: TestClient
    token: str
    faq_keys: list[str]

    def answer(self, method: str, path: str, **kwargs) -> int:
        async def ask() -> int:
            async with self.client.request(method, path, allow_redirects=False, **kwargs) as answer:
                await answer.read()
                return answer.status
        return self.loop.run_until_complete(ask())

    def routes(self, method: str) -> list[str]:
        return sorted({route.resource.canonical for route in self.client.server.app.router.routes()
                       if route.method == method and route.resource is not None
                       and not route.resource.canonical.startswith(("/static", *NOT_FUZZED))})


def _populate(engine) -> None:
    """The console site (five tickets), three residents waiting for staff, three volunteers each
    with a task, three questions the FAQ could not answer, and the sample FAQ: ids 1 to 3 of
    every kind of row a path can name."""
    site = build_site(engine)
    before = site.now - timedelta(days=3)
    with Session(engine, future=True) as s, s.begin():
        for n, name in enumerate(("heating", "gas", "parking"), 1):
            ticket = s.get(Ticket, site.tickets[name])
            resident = Resident("wecom", "wrOgQhDgAAJinYuCheng01", f"resident{n}", f"居民{n}")
            handoffs.start(s, resident, "asked", ticket.compound, "转人工", site.now)
            volunteer = volunteers.register(s, resident, f"志愿者{n}", ticket.compound, "市第一医院", ["doctor"], before)
            volunteers.decide_registration(s, volunteer, True, "admin", before)
            task = volunteers.offer(s, ticket, [], before)
            volunteers.claim(s, "wecom", resident.user_id, task.ticket_id, before)
            faq_store.record_asked(s, f"垃圾几点收{n}", "光明社区", "not_sure", site.now)
        faq_store.import_entries(s, faq.load(ROOT / "faq" / "sample_faq.yml"), "test", site.now)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console(request, tmp_path_factory):
    with migrated_engine(request.param, tmp_path_factory.mktemp("console_fuzz")) as engine:
        _populate(engine)
        loop = asyncio.new_event_loop()
        client = TestClient(TestServer(create_app(engine, rasa_url="http://127.0.0.1:9"), loop=loop), loop=loop)
        loop.run_until_complete(client.start_server())
        try:
            assert loop.run_until_complete(log_in(client, "admin")).status == 302
            page = loop.run_until_complete(client.get("/tickets"))
            token = CSRF.search(loop.run_until_complete(page.text())).group(1)
            with Session(engine, future=True) as s:
                keys = [entry.id for entry in faq_store.entries(s)][:5]
            yield Console(loop, client, token, keys)
        finally:
            loop.run_until_complete(client.close())
            loop.close()


def refused_or_served(status: int, path: str) -> bool:
    return status < 500 or (status == 502 and path.endswith("/return"))


def fill(path: str, data: st.DataObject, console: Console) -> str:
    """A route's path with its {id}, {key} and {action} drawn: mostly rows that exist, sometimes anything."""
    path = path.replace("{id}", data.draw(EXISTING if data.draw(st.booleans()) else ODD_IDS))
    if "{key}" in path:
        path = path.replace("{key}", quote(data.draw(st.sampled_from(console.faq_keys) | TEXTS), safe=""))
    if "{action}" in path:
        action = data.draw(st.sampled_from(["note", "resolve", "escalate", "status", "assign", "answer", "question",
                                             "remove"]) | TEXTS)
        path = path.replace("{action}", quote(action, safe=""))
    return path


@settings(CASES, max_examples=900)
@given(page=st.sampled_from(PAGES_WITH_QUERIES), query=st.lists(st.tuples(QUERY_NAMES, VALUES), max_size=6),
       accept=st.sampled_from([BROWSER, "*/*"]))
def test_random_query_parameters_are_never_a_500(console, page, query, accept):
    status = console.answer("GET", page, params=query, headers={"Accept": accept})
    assert refused_or_served(status, page), (page, query, status)


@settings(CASES, max_examples=500)
@given(data=st.data())
def test_random_ids_and_keys_in_every_path_are_never_a_500(console, data):
    path = fill(data.draw(st.sampled_from(console.routes("GET"))), data, console)
    status = console.answer("GET", path, headers={"Accept": data.draw(st.sampled_from([BROWSER, "*/*"]))})
    assert refused_or_served(status, path), (path, status)


@settings(CASES, max_examples=1000)
@given(data=st.data())
def test_every_form_with_a_valid_token_and_random_fields_is_never_a_500(console, data):
    route = data.draw(st.sampled_from(console.routes("POST")))
    path = fill(route, data, console)
    known = data.draw(st.fixed_dictionaries({}, optional=dict.fromkeys(FORM_FIELDS.get(route, ()), VALUES)))
    fields = [*known.items(), *data.draw(st.lists(st.tuples(TEXTS, VALUES), max_size=2))]
    status = console.answer("POST", path, data=[("csrf_token", console.token), *fields],
                            headers={"Accept": data.draw(st.sampled_from([BROWSER, "*/*"]))})
    assert refused_or_served(status, path), (path, fields, status)


@settings(CASES, max_examples=100)
@given(name=st.sampled_from(["faq.yml", "faq.yaml", "faq.xlsx", "faq.txt", "", "../../etc/passwd.yml"]) | TEXTS,
       body=st.binary(max_size=2000) | st.builds(lambda text: text.encode(), TEXTS))
def test_a_random_file_to_the_faq_import_is_never_a_500(console, name, body):
    form = FormData()
    form.add_field("csrf_token", console.token)
    form.add_field("file", body, filename=name or "x")
    status = console.answer("POST", "/faq/import", data=form, headers={"Accept": BROWSER})
    assert refused_or_served(status, "/faq/import"), (name, body[:100], status)
