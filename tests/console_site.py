"""A site for the staff console's tests: the sample org directory, one account per role, and
tickets in both communities, filed relative to now.

光明社区: 金御城, 翠柳苑, 和平里小区, 东风新村. 和谐社区: 春晖家园, 玉兰花园, 望江华庭.
"""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import tickets
from bot.clock import utc_now
from bot.models import Compound
from bot.org import import_org_file
from bot.tickets import Report
from bot.users import create_user
from conftest import ROOT
from console.app import create_app

PASSWORD = "correct-horse-7"
# account → (role, communities, compounds)
ACCOUNTS = {
    "admin": ("admin", [], []),
    "guangming": ("community_staff", ["光明社区"], []),
    "hexie": ("community_staff", ["和谐社区"], []),
    "zhang": ("branch_secretary", [], ["金御城"]),
}
GUANGMING = {"金御城", "翠柳苑", "和平里小区", "东风新村"}


@dataclass
class Site:
    engine: Engine
    now: datetime
    compound_ids: dict[str, int]
    tickets: dict[str, int]  # name used in the tests → ticket id


# name → (compound, category, urgent, hours ago, building, reporters, text)
TICKETS = {
    "heating": ("金御城", "heating", False, 2, "7", ["alice", "bob"], "7号楼暖气一直不热"),
    "gas": ("金御城", "gas", True, 30, "1", ["carol"], "1号楼楼道里有很重的煤气味"),  # 4 h SLA: overdue
    "parking": ("翠柳苑", "parking", False, 5, None, ["dave"], "消防通道又被私家车堵了"),
    "lift": ("春晖家园", "elevator", False, 3, "2", ["erin"], "2号楼电梯坏了三天了"),   # 和谐社区
    "noise": ("望江华庭", "noise", True, 60, None, ["frank"], "半夜有人在装修电钻响"),  # 和谐社区, overdue
}


def file_ticket(session: Session, compound_id: int, category: str, urgent: bool, when: datetime,
                building: str | None, reporters: list[str], text: str) -> int:
    """A ticket as the bot files it, with every reporter in the compound's WeCom group."""
    ticket_id = None
    for user in reporters:
        report = Report(category=category, urgent=urgent, text=text,
                        compound_id=compound_id, platform="wecom", user_id=user,
                        sender_id=f"wecom:group{compound_id}:{user}", display_name=user, building=building)
        ticket_id = tickets.file_report(session, report, when).ticket.id
    return ticket_id


def build_site(engine: Engine) -> Site:
    import_org_file(engine, ROOT / "org" / "sample_site.yml")
    now = utc_now()
    with Session(engine, future=True) as session, session.begin():
        for name, (role, communities, compounds) in ACCOUNTS.items():
            create_user(session, name, role, PASSWORD, now, communities, compounds)
        ids = {c.name: c.id for c in session.scalars(select(Compound))}
        filed = {name: file_ticket(session, ids[compound], category, urgent, now - timedelta(hours=hours),
                                   building, reporters, text)
                 for name, (compound, category, urgent, hours, building, reporters, text) in TICKETS.items()}
    return Site(engine, now, ids, filed)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_of(client, path: str = "/login") -> str:
    page = await client.get(path)
    return CSRF.search(await page.text()).group(1)


async def log_in(client, username: str, password: str = PASSWORD):
    """Log the test client in; returns the login response (a redirect when it worked)."""
    token = await csrf_of(client)
    return await client.post("/login", data={"csrf_token": token, "username": username, "password": password},
                             allow_redirects=False)


@pytest.fixture
def site(engine) -> Site:
    return build_site(engine)


@pytest.fixture
def client_as(aiohttp_client, site):
    """`await client_as("zhang")`: a test client of a console of its own on the site's database,
    logged in as that account (or anonymous with None)."""
    async def make(username: str | None):
        client = await aiohttp_client(create_app(site.engine, rasa_url="http://127.0.0.1:9"))
        if username:
            answer = await log_in(client, username)
            assert answer.status == 302, await answer.text()
        return client
    return make
