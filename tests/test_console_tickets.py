"""The console's tickets: list, filters, detail, actions and CSV export, each within the user's
scope whatever URL is typed — on SQLite and PostgreSQL."""
import csv
import io
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import OutboxMessage, Ticket
from console_site import GUANGMING, TICKETS, client_as, csrf_of, file_ticket, site  # noqa: F401 - fixtures

ALL = set(TICKETS)
SCOPES = {"admin": ALL, "guangming": {"heating", "gas", "parking"}, "hexie": {"lift", "noise"},
          "zhang": {"heating", "gas"}}


def listed(site, html: str) -> set[str]:
    """The test names of the tickets a list page shows."""
    ids = {int(n) for n in re.findall(r'href="/tickets/(\d+)"', html)}
    return {name for name, ticket_id in site.tickets.items() if ticket_id in ids}


def ticket(site, name: str) -> Ticket:
    with Session(site.engine, future=True, expire_on_commit=False) as s:
        found = s.get(Ticket, site.tickets[name])
        found.timeline, found.reporters  # noqa: B018 - load them before the session closes
        return found


def outbox_for(site, recipient_prefix: str) -> list[str]:
    with Session(site.engine, future=True) as s:
        return [m.text for m in s.scalars(select(OutboxMessage).where(OutboxMessage.recipient.like(recipient_prefix + "%"))
                                          .order_by(OutboxMessage.id))]


@pytest.mark.parametrize("user", sorted(SCOPES))
async def test_each_role_lists_exactly_the_tickets_of_its_scope(client_as, site, user):
    client = await client_as(user)
    page = await client.get("/tickets")
    assert page.status == 200
    assert listed(site, await page.text()) == SCOPES[user]


@pytest.mark.parametrize("query, expected", [
    ("status=assigned", ALL),
    ("status=resolved", set()),
    ("status=open", ALL),
    ("category=heating", {"heating"}),
    ("level=grid", ALL),
    ("level=community", set()),
    ("overdue=1", {"gas", "noise"}),
    ("urgent=1", {"gas", "noise"}),
    ("urgent=1&overdue=1&category=gas", {"gas"}),
])
async def test_the_filters_narrow_the_list(client_as, site, query, expected):
    client = await client_as("admin")
    page = await client.get(f"/tickets?{query}")
    assert listed(site, await page.text()) == expected


async def test_the_compound_filter_works_within_the_scope_and_is_refused_outside_it(client_as, site):
    client = await client_as("guangming")
    page = await client.get(f"/tickets?compound={site.compound_ids['翠柳苑']}")
    assert listed(site, await page.text()) == {"parking"}
    html = await (await client.get("/tickets")).text()
    offered = set(re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', html))
    assert offered == GUANGMING
    refused = await client.get(f"/tickets?compound={site.compound_ids['春晖家园']}")
    assert refused.status == 403
    refused = await client.get(f"/tickets/export.csv?compound={site.compound_ids['春晖家园']}")
    assert refused.status == 403


@pytest.mark.parametrize("query", ["status=bogus", "category=weather", "level=planet", "overdue=yes",
                                   "compound=abc", "page=0", "page=x"])
async def test_a_filter_value_the_console_does_not_offer_is_a_400(client_as, query):
    client = await client_as("admin")
    assert (await client.get(f"/tickets?{query}")).status == 400


@pytest.mark.parametrize("user", ["guangming", "hexie", "zhang"])
async def test_tickets_outside_the_scope_cannot_be_opened_or_changed_whatever_url_is_typed(client_as, site, user):
    client = await client_as(user)
    token = await csrf_of(client, "/tickets")
    for name in ALL - SCOPES[user]:
        ticket_id, before = site.tickets[name], len(ticket(site, name).timeline)
        assert (await client.get(f"/tickets/{ticket_id}")).status == 403
        for action, data in (("resolve", {"note": "已修好"}), ("note", {"note": "看看"}),
                             ("escalate", {"reason": "升级"}), ("status", {"status": "closed"}),
                             ("assign", {"person": "网格员"})):
            answer = await client.post(f"/tickets/{ticket_id}/{action}", data={"csrf_token": token, **data},
                                       allow_redirects=False)
            assert answer.status == 403, (name, action)
        unchanged = ticket(site, name)
        assert unchanged.status == "assigned" and unchanged.level == "grid"
        assert len(unchanged.timeline) == before
    for name in SCOPES[user]:
        assert (await client.get(f"/tickets/{site.tickets[name]}")).status == 200


async def test_a_ticket_that_does_not_exist_is_a_404(client_as):
    client = await client_as("admin")
    assert (await client.get("/tickets/999999")).status == 404


async def test_resolving_sends_the_satisfaction_question_to_every_reporter(client_as, site):
    client = await client_as("zhang")
    token = await csrf_of(client, "/tickets")
    ticket_id = site.tickets["heating"]
    answer = await client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": token, "note": "暖气阀门已更换"})
    page = await answer.text()
    assert answer.status == 200 and "已办结，满意度回访已发给2位反映人" in page
    for reporter in ("alice", "bob"):
        [question] = [text for text in outbox_for(site, f"wecom:group{site.compound_ids['金御城']}:{reporter}")]
        assert "暖气阀门已更换" in question and "满意" in question
    resolved = ticket(site, "heating")
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    assert resolved.timeline[-1].actor == "zhang" and "暖气阀门已更换" in resolved.timeline[-1].reason
    again = await client.post(f"/tickets/{ticket_id}/resolve", data={"csrf_token": token, "note": "再次"},
                              allow_redirects=False)
    assert again.status == 400 and "工单已办结，" in await again.text()  # not "已已办结"


async def test_notes_status_escalation_and_assignment_land_on_the_timeline(client_as, site):
    client = await client_as("guangming")
    token = await csrf_of(client, "/tickets")
    url = f"/tickets/{site.tickets['parking']}"
    for action, data, shown in (
            ("note", {"note": "已联系物业"}, "备注已记录"),
            ("status", {"status": "in_progress", "reason": "物业到场"}, "状态已改为处理中"),
            ("escalate", {"reason": "物业不配合"}, "已升级到社区"),
            ("assign", {"person": "网格员"}, "已派给网格员")):
        answer = await client.post(f"{url}/{action}", data={"csrf_token": token, **data})
        assert answer.status == 200 and shown in await answer.text(), action
    changed = ticket(site, "parking")
    assert (changed.status, changed.level) == ("in_progress", "community")
    reasons = [e.reason for e in changed.timeline]
    assert "已联系物业" in reasons and "状态改为处理中：物业到场" in reasons
    assert any("物业不配合" in r for r in reasons) and any("派给网格员" in r for r in reasons)
    assert any("工单派给您" in text for text in outbox_for(site, "wecom:dm:"))
    page = await (await client.get(url)).text()
    assert "已联系物业" in page and "物业不配合" in page


@pytest.mark.parametrize("action, data", [("note", {"note": "  "}), ("note", {"note": "长" * 2001}),
                                          ("status", {"status": "resolved"}), ("assign", {"person": "市长"}),
                                          ("escalate", {"reason": ""}), ("resolve", {"note": ""}),
                                          ("delete", {})])
async def test_bad_action_input_is_a_4xx_and_changes_nothing(client_as, site, action, data):
    client = await client_as("admin")
    token = await csrf_of(client, "/tickets")
    before = len(ticket(site, "lift").timeline)
    answer = await client.post(f"/tickets/{site.tickets['lift']}/{action}", data={"csrf_token": token, **data},
                               allow_redirects=False)
    assert answer.status in (400, 404)
    unchanged = ticket(site, "lift")
    assert unchanged.status == "assigned" and len(unchanged.timeline) == before


def read_csv(body: bytes) -> list[dict]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.DictReader(io.StringIO(body[3:].decode("utf-8"))))


async def test_the_export_holds_the_filtered_list_in_scope_as_excel_reads_it(client_as, site):
    client = await client_as("guangming")
    answer = await client.get("/tickets/export.csv?urgent=1")
    assert answer.status == 200 and answer.content_type == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = read_csv(await answer.read())
    assert [int(r["工单号"]) for r in rows] == [site.tickets["gas"]]  # 望江华庭's urgent ticket is not ours
    assert rows[0]["类别"] == "燃气" and rows[0]["小区"] == "金御城" and rows[0]["紧急"] == "是"
    assert rows[0]["超期"] == "是" and rows[0]["反映户数"] == "1"
    everything = read_csv(await (await client.get("/tickets/export.csv")).read())
    assert {int(r["工单号"]) for r in everything} == {site.tickets[n] for n in SCOPES["guangming"]}


async def test_the_export_never_hands_excel_a_formula(client_as, site):
    with Session(site.engine, future=True) as s, s.begin():
        file_ticket(s, site.compound_ids["金御城"], "noise", False, site.now, None, ["mallory"],
                    text='=HYPERLINK("http://evil.example.com","点我")')
    client = await client_as("zhang")
    rows = read_csv(await (await client.get("/tickets/export.csv?category=noise")).read())
    assert rows[0]["反映内容"].startswith("'=HYPERLINK")
