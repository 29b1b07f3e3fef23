"""The console under input nobody meant to send (issue 21): every refusal is a Chinese page with
its status, never a 500 — a stale form, a body too large, an id beyond any row, a date in the
year 1 or 9999, a NUL character — the browser's guards (four headers) are on every answer, no
page needs the inline code the policy refuses, and CSV exports take the Beijing date and drop
the control characters residents' messages may carry. On SQLite and PostgreSQL."""
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy.orm import Session

from bot import handoff as handoffs
from bot.conversations import Resident
from bot.models import Ticket
from bot.org import find_compound
from console_site import PASSWORD, client_as, csrf_of, file_ticket, site  # noqa: F401 - fixtures

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
TEMPLATES = Path(__file__).resolve().parent.parent / "console" / "templates"
BEYOND_ANY_ROW = ["9223372036854775808", "99999999999999999999", "9" * 5000]  # 2^63, 10^20, 5000 digits


def shown(html: str) -> tuple[str, str]:
    """The error page's heading and message."""
    found = re.search(r"<h1>(.*?)</h1>\s*<p id=\"error-message\">(.*?)</p>", html, re.S)
    assert found, html[:500]
    return found.group(1), found.group(2)


def timeline_of(site, name: str) -> int:
    with Session(site.engine, future=True) as s:
        return len(s.get(Ticket, site.tickets[name]).timeline)


# refusals are Chinese pages with their status ------------------------------------------------
@pytest.mark.parametrize("token", [None, "from-a-session-long-gone"])
async def test_a_stale_form_is_a_403_page_that_says_to_resubmit_and_keeps_what_was_typed(client_as, site, token):
    client = await client_as("zhang")
    typed, before = "已联系物业，明早8点上门检修暖气阀门", timeline_of(site, "heating")
    answer = await client.post(f"/tickets/{site.tickets['heating']}/note", headers={
        **BROWSER, "Referer": f"http://{client.host}:{client.port}/tickets/{site.tickets['heating']}"},
        data={"note": typed, **({"csrf_token": token} if token else {})}, allow_redirects=False)
    html = await answer.text()
    assert answer.status == 403 and answer.content_type == "text/html"
    title, message = shown(html)
    assert title == "表单已过期（403）" and "刷新后重新提交" in message
    assert f'<textarea class="sent" readonly rows="3">{typed}</textarea>' in html
    assert f'href="/tickets/{site.tickets["heating"]}">返回上一页' in html and "退出" in html  # still logged in
    assert (token or "from-a-session") not in html and timeline_of(site, "heating") == before


async def test_a_stale_login_form_renders_for_nobody_logged_in_and_never_shows_the_password(client_as):
    client = await client_as(None)
    answer = await client.post("/login", headers=BROWSER, data={"username": "zhang", "password": PASSWORD})
    html = await answer.text()
    assert answer.status == 403 and shown(html)[0] == "表单已过期（403）"
    assert "zhang" in html and PASSWORD not in html and "退出" not in html


async def test_a_views_own_403_on_a_form_still_says_what_is_not_allowed(client_as, site):
    client = await client_as("zhang")
    answer = await client.post(f"/tickets/{site.tickets['lift']}/note", headers=BROWSER,
                               data={"csrf_token": await csrf_of(client, "/tickets"), "note": "看看"})
    assert answer.status == 403 and shown(await answer.text()) == ("无权访问（403）", "您无权查看这个工单。")


@pytest.mark.parametrize("user", ["zhang", None])
async def test_a_body_over_the_limit_is_a_413_page(client_as, site, user):
    client = await client_as(user)
    answer = await client.post(f"/tickets/{site.tickets['heating']}/note" if user else "/login", headers=BROWSER,
                               data={"csrf_token": await csrf_of(client, "/tickets" if user else "/login"),
                                     "note": "长" * 100_000})
    assert answer.status == 413
    title, message = shown(await answer.text())
    assert title == "内容太大（413）" and "256 KB" in message


@pytest.mark.parametrize("user", ["admin", None])
async def test_a_page_that_does_not_exist_is_a_404_page_in_chinese(client_as, user):
    answer = await (await client_as(user)).get("/nothing/here", headers=BROWSER)
    assert answer.status == 404 and shown(await answer.text()) == (
        "找不到页面（404）", "要找的页面或记录不存在，可能已被删除，或地址输错了。")


async def test_an_unexpected_failure_is_a_chinese_500_page_that_does_not_fail_itself(client_as, monkeypatch):
    client = await client_as("admin")

    def broken(*args):
        raise RuntimeError("the database went away")
    monkeypatch.setattr("console.dashboard_views.figures", broken)
    answer = await client.get("/dashboard", headers=BROWSER)
    assert answer.status == 500
    title, message = shown(await answer.text())
    assert title == "出错了（500）" and "已记入日志" in message and "database" not in message


# out-of-range input: 404 or 400, never 500 ------------------------------------------------------
def id_routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every route of the console with an {id} in its path."""
    return sorted({(route.method, route.resource.canonical) for route in app.router.routes()
                   if route.resource is not None and "{id}" in route.resource.canonical})


@pytest.mark.parametrize("number", BEYOND_ANY_ROW, ids=["2^63", "10^20", "5000 digits"])
async def test_an_id_beyond_any_row_is_a_404_on_every_route_that_takes_one(client_as, number):
    client = await client_as("admin")
    token = await csrf_of(client, "/tickets")
    routes = id_routes(client.server.app)
    assert {"/tickets/{id}", "/handoff/{id}", "/volunteers/{id}", "/volunteers/tasks/{id}/confirm",
            "/faq/asked/{id}"} <= {path for _, path in routes}
    for method, path in routes:
        url = path.replace("{id}", number).replace("{action}", "note")
        answer = await client.request(method, url, data={"csrf_token": token} if method == "POST" else None,
                                      headers=BROWSER, allow_redirects=False)
        assert answer.status == 404, (method, path, answer.status)


@pytest.mark.parametrize("form", [{"ticket_id": "9223372036854775808"}, {"ticket_id": "²"}])
async def test_a_ticket_number_no_ticket_can_have_is_refused_when_offered_to_volunteers(client_as, form):
    client = await client_as("admin")
    answer = await client.post("/volunteers/offer", headers=BROWSER,
                               data={"csrf_token": await csrf_of(client, "/volunteers"), **form})
    assert answer.status == 400 and shown(await answer.text())[1] == "工单号无效。"


@pytest.mark.parametrize("value", ["9223372036854775808", "#99999999999999999999", "²", "9" * 5000],
                         ids=["2^63", "#10^20", "superscript 2", "5000 digits"])
async def test_a_ticket_number_no_ticket_can_have_is_a_400_when_linked_to_a_handoff(client_as, site, value):
    with Session(site.engine, future=True) as s, s.begin():
        handoff_id = handoffs.start(s, Resident("wecom", "wrOgQhDgAAJinYuCheng01", "alice", "王阿姨"), "asked",
                                    find_compound(s, "金御城"), "转人工", site.now).id
    client = await client_as("zhang")
    answer = await client.post(f"/handoff/{handoff_id}/link", headers=BROWSER,
                               data={"csrf_token": await csrf_of(client, "/handoff"), "ticket_id": value})
    assert answer.status == 400 and shown(await answer.text())[1].startswith("找不到您负责范围内的工单")


@pytest.mark.parametrize("query, message", [
    ("from=0001-01-01", "开始日期应在 2000-01-01 到 2099-12-31 之间：0001-01-01"),
    ("to=0001-01-01", "结束日期应在 2000-01-01 到 2099-12-31 之间：0001-01-01"),
    ("to=9999-12-31", "结束日期应在 2000-01-01 到 2099-12-31 之间：9999-12-31"),
    ("from=9999-12-01&to=9999-12-31", "结束日期应在 2000-01-01 到 2099-12-31 之间：9999-12-31"),
    ("from=2026-1-1", "开始日期的格式应为 2026-11-01：2026-1-1"),
])
async def test_a_dashboard_date_out_of_range_is_a_400_that_says_which_days_count(client_as, query, message):
    answer = await (await client_as("admin")).get(f"/dashboard?{query}", headers=BROWSER)
    assert answer.status == 400 and shown(await answer.text()) == ("请求有误（400）", message)


@pytest.mark.parametrize("month, message", [("9999-12", "月份应在 2000-01 到 2099-12 之间：9999-12"),
                                            ("0001-01", "月份应在 2000-01 到 2099-12 之间：0001-01"),
                                            ("2026-13", "月份的格式应为 2026-11：2026-13")])
async def test_a_ranking_month_out_of_range_is_a_400(client_as, month, message):
    answer = await (await client_as("admin")).get(f"/volunteers/ranking?month={month}", headers=BROWSER)
    assert answer.status == 400 and shown(await answer.text())[1] == message


@pytest.mark.parametrize("query", ["page=%C2%B2", "page=%EF%BC%92", "page=99999999999999999999",
                                   "compound=%C2%B2", "compound=99999999999999999999"])
async def test_numbers_that_are_not_plain_digits_are_a_400_in_the_ticket_list(client_as, query):
    assert (await (await client_as("admin")).get(f"/tickets?{query}")).status == 400


@pytest.mark.parametrize("points", ["²", "-5", "100001", "9" * 30])
async def test_points_that_are_not_a_plain_number_in_range_are_a_400(client_as, points):
    client = await client_as("admin")
    answer = await client.post("/volunteers/1/spend", data={"csrf_token": await csrf_of(client, "/volunteers"),
                                                            "points": points, "reason": "兑换"})
    assert answer.status == 400


async def test_a_nul_character_in_a_form_is_a_400_and_changes_nothing(client_as, site):
    client, before = await client_as("zhang"), timeline_of(site, "heating")
    answer = await client.post(f"/tickets/{site.tickets['heating']}/note", headers=BROWSER,
                               data={"csrf_token": await csrf_of(client, "/tickets"), "note": "已处理\x00"})
    assert answer.status == 400 and "控制字符" in shown(await answer.text())[1]
    assert timeline_of(site, "heating") == before


@pytest.mark.parametrize("path", ["/faq/%00", "/tickets?category=%00", "/faq?q=%00"])
async def test_a_nul_character_in_the_address_is_a_400(client_as, path):
    assert (await (await client_as("admin")).get(path)).status == 400


# the four headers, and pages that need nothing they refuse ---------------------------------------
@pytest.mark.parametrize("user, path, headers, status", [
    ("admin", "/tickets", BROWSER, 200),
    ("admin", "/nothing", BROWSER, 404),
    ("admin", "/nothing", {}, 404),                     # a plain-text refusal too
    (None, "/tickets", BROWSER, 302),                    # the way to the login page
    (None, "/login", BROWSER, 200),
    (None, "/static/console.css", {}, 200),
    (None, "/static/handoff.js", {}, 200),
])
async def test_every_answer_carries_the_four_browser_guards(client_as, user, path, headers, status):
    answer = await (await client_as(user)).get(path, headers=headers, allow_redirects=False)
    assert answer.status == status
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"


async def test_a_refused_form_carries_them_too(client_as):
    answer = await (await client_as(None)).post("/login", data={}, headers=BROWSER)
    assert answer.status == 403 and answer.headers["X-Frame-Options"] == "DENY"


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=|javascript:", re.I)
JINJA_TAG = re.compile(r"{%.*?%}|{#.*?#}", re.S)  # a macro's `style='secondary'` is no HTML


def test_no_template_holds_inline_code_the_policy_would_refuse():
    inline = {path.name: INLINE.findall(JINJA_TAG.sub("", path.read_text())) for path in TEMPLATES.glob("*.html")}
    assert {name: found for name, found in inline.items() if found} == {}


async def test_the_dashboards_charts_need_no_inline_style(client_as):
    html = await (await (await client_as("admin")).get("/dashboard")).text()
    assert html.count('<svg role="img"') == 3 and not INLINE.search(html)


# CSV exports ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # PostgreSQL cannot store a NUL at all
async def test_control_characters_in_a_residents_message_are_dropped_from_the_csv_cell(client_as, site):
    with Session(site.engine, future=True) as s, s.begin():
        file_ticket(s, site.compound_ids["金御城"], "noise", False, site.now, None, ["mallory"],
                    text="楼上\x00噪音\x1b[31m很大\x07\r\n第二行\t完")
    answer = await (await client_as("zhang")).get("/tickets/export.csv?category=noise")
    assert answer.status == 200
    body = (await answer.read()).decode("utf-8-sig")
    assert '"楼上噪音[31m很大\r\n第二行\t完"' in body


@pytest.mark.parametrize("path, name", [("/tickets/export.csv", "工单_20261121.csv"),
                                        ("/volunteers/export.csv", "志愿积分_20261121.csv")])
async def test_an_exports_file_name_takes_the_day_in_beijing(client_as, monkeypatch, path, name):
    late_evening_utc = datetime(2026, 11, 20, 17, 30)  # 01:30 on the 21st in Beijing
    for module in ("console.tickets_views", "console.volunteers_views"):
        monkeypatch.setattr(f"{module}.utc_now", lambda: late_evening_utc)
    answer = await (await client_as("admin")).get(path)
    assert answer.headers["Content-Disposition"].endswith(f"filename*=UTF-8''{quote(name)}")
