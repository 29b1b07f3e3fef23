"""The console's 常见问题 page on SQLite and PostgreSQL: the list and its search, answers edited,
residents' unanswered questions added in one click, new entries, questions added and removed,
export and import as YAML and Excel — each change recorded with who made it, and each within
the user's communities whatever URL is typed."""
import re

import pytest
from aiohttp import FormData
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import faq, faq_store, faq_xlsx
from bot.faq import Entry
from bot.models import FaqAsked, FaqChange, FaqQuestion
from bot.faq_xlsx import HEADER
from bot.users import create_user
from console_site import PASSWORD, client_as, csrf_of, site  # noqa: F401 - fixtures
from test_faq_xlsx import sheet

FEE = Entry("property_fee", ("物业费怎么交", "物业费在哪里缴纳"), "可在物业服务中心或 WeChat 缴纳。", "物业 1234567")
HOURS = Entry("office_hours", ("光明社区几点上班", "社区办公时间"), "工作日 8:30-17:30。", community="光明社区")
PARKING = Entry("parking_permit", ("停车证在哪办", "和谐社区停车怎么办证"), "到和谐社区服务站办理。", community="和谐社区")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def faq_site(site):  # noqa: F811
    """Three entries (for everyone, 光明社区's, 和谐社区's), residents' unanswered questions of both
    communities and of an unknown one, and 春晖家园's (和谐社区) branch secretary."""
    with Session(site.engine, future=True) as s, s.begin():
        faq_store.import_entries(s, [FEE, HOURS, PARKING], "admin", site.now)
        for text, community, outcome in (("物业费能用微信交吗", "光明社区", "suggested"),
                                         ("物业费能用微信交吗", "光明社区", "suggested"),
                                         ("望江华庭车位多少钱", "和谐社区", "not_sure"),
                                         ("垃圾几点收", None, "not_sure")):
            faq_store.record_asked(s, text, community, outcome, site.now)
        create_user(s, "chun", "branch_secretary", PASSWORD, site.now, compounds=["春晖家园"])
    return site


def asked_id(site, text: str) -> int:
    with Session(site.engine, future=True) as s:
        return s.scalar(select(FaqAsked.id).where(FaqAsked.text == text))


def entries(site) -> dict[str, Entry]:
    with Session(site.engine, future=True) as s:
        return {entry.id: entry for entry in faq_store.entries(s)}


def change_count(site) -> int:
    with Session(site.engine, future=True) as s:
        return s.scalar(select(func.count(FaqChange.id)))


def listed(html: str) -> set[str]:
    return set(re.findall(r'href="/faq/([a-z][a-z0-9_]*)"', html)) - {"new"}


async def post(client, path: str, data: dict):
    return await client.post(path, data={"csrf_token": await csrf_of(client, "/faq"), **data},
                             allow_redirects=False)


async def upload(client, filename: str, body: bytes):
    form = FormData()
    form.add_field("csrf_token", await csrf_of(client, "/faq"))
    form.add_field("file", body, filename=filename, content_type="application/octet-stream")
    return await client.post("/faq/import", data=form, allow_redirects=False)


async def page(client, path: str = "/faq") -> str:
    answer = await client.get(path)
    assert answer.status == 200, path
    return await answer.text()


@pytest.mark.parametrize("user, expected", [
    ("admin", {"property_fee", "office_hours", "parking_permit"}),
    ("guangming", {"property_fee", "office_hours"}),
    ("zhang", {"property_fee", "office_hours"}),  # 金御城 is in 光明社区
    ("chun", {"property_fee", "parking_permit"}),
])
async def test_each_user_lists_the_entries_for_every_community_and_their_own(
        client_as, faq_site, user, expected):  # noqa: F811
    assert listed(await page(await client_as(user))) == expected


async def test_the_search_finds_a_question_or_an_answer_whatever_the_case(client_as, faq_site):  # noqa: F811
    admin = await client_as("admin")
    assert listed(await page(admin, "/faq?q=办公时间")) == {"office_hours"}
    assert listed(await page(admin, "/faq?q=wechat")) == {"property_fee"}
    found = await page(admin, "/faq?q=没有这种问题")
    assert listed(found) == set() and "没有符合的条目" in found


async def test_an_edited_answer_is_what_the_faq_answers_and_the_timeline_says_who(client_as, faq_site):  # noqa: F811
    guangming = await client_as("guangming")
    answer = await post(guangming, "/faq/office_hours/answer", {"answer": "工作日 9:00-17:00，周六上午值班。",
                                                               "contact": "社区办 7654321", "link": ""})
    assert answer.status == 302 and answer.headers["Location"] == "/faq/office_hours"
    edited = entries(faq_site)["office_hours"]
    assert (edited.answer, edited.contact, edited.link) == ("工作日 9:00-17:00，周六上午值班。", "社区办 7654321", None)
    with Session(faq_site.engine, future=True) as s:
        change = faq_store.changes(s, "office_hours")[0]
        assert (change.action, change.actor) == ("answer_edited", "guangming")
    shown = await page(guangming, "/faq/office_hours")
    assert "答案已保存" in shown and "修改答案：工作日 9:00-17:00" in shown and "guangming" in shown
    assert (await post(guangming, "/faq/office_hours/answer", {"answer": "  "})).status == 302
    assert "答案不能为空" in await page(guangming, "/faq/office_hours")
    assert entries(faq_site)["office_hours"].answer == "工作日 9:00-17:00，周六上午值班。"


async def test_a_residents_question_is_added_to_an_entry_in_one_click(client_as, faq_site):  # noqa: F811
    guangming = await client_as("guangming")
    listing = await page(guangming)
    assert "物业费能用微信交吗" in listing and "给了猜你想问" in listing
    assert "望江华庭车位多少钱" not in listing and "垃圾几点收" not in listing  # 和谐社区's, unknown: admins'
    answer = await post(guangming, f"/faq/asked/{asked_id(faq_site, '物业费能用微信交吗')}", {"entry": "property_fee"})
    assert answer.status == 302
    listing = await page(guangming)
    assert "加为条目 property_fee 的问法" in listing and "<td>物业费能用微信交吗</td>" not in listing
    assert "物业费能用微信交吗" in entries(faq_site)["property_fee"].questions
    with Session(faq_site.engine, future=True) as s:
        assert s.scalar(select(FaqQuestion.source).where(FaqQuestion.text == "物业费能用微信交吗")) == "resident"
    assert "居民" in await page(guangming, "/faq/property_fee")
    assert "没答上" in await page(await client_as("admin"))


async def test_the_entry_a_resident_chose_is_shown_and_offered_first(client_as, faq_site):  # noqa: F811
    with Session(faq_site.engine, future=True) as s, s.begin():  # chose 2. of the suggestions, 社区办公时间
        faq_store.record_picked(s, "物业费能用微信交吗", "光明社区", "office_hours")
    listing = await page(await client_as("guangming"))
    row = re.search(r"<td>物业费能用微信交吗</td>.*?</tr>", listing, re.S).group()
    assert "居民选了 office_hours" in row
    assert re.findall(r'<option value="([a-z_]+)"', row)[0] == "office_hours"  # the form's default


async def test_a_new_entry_is_added_for_one_of_the_users_communities(client_as, faq_site):  # noqa: F811
    guangming = await client_as("guangming")
    form = {"key": "gym_hours", "community": "光明社区", "questions": "健身房几点开\n\n健身房开放时间",
            "answer": "每天 6:00-22:00。", "contact": "", "link": ""}
    answer = await post(guangming, "/faq/new", form)
    assert answer.status == 302 and answer.headers["Location"] == "/faq/gym_hours"
    assert entries(faq_site)["gym_hours"] == Entry("gym_hours", ("健身房几点开", "健身房开放时间"), "每天 6:00-22:00。",
                                                   community="光明社区")
    refused = await post(guangming, "/faq/new", {**form, "key": "Gym"})
    assert refused.status == 400 and "条目编号只能用小写字母" in await refused.text() and "健身房几点开" in await refused.text()
    assert (await post(guangming, "/faq/new", {**form, "key": "gym2", "community": "和谐社区"})).status == 403
    assert (await post(guangming, "/faq/new", {**form, "key": "gym2", "community": ""})).status == 403
    admin = await client_as("admin")
    assert "全部社区" in await page(admin, "/faq/new")
    assert (await post(admin, "/faq/new", {**form, "key": "gym_all", "community": "",
                                           "questions": "健身房在哪\n有没有健身房"})).status == 302
    assert entries(faq_site)["gym_all"].community is None


async def test_a_question_is_added_and_removed_but_never_below_two(client_as, faq_site):  # noqa: F811
    guangming = await client_as("guangming")
    assert (await post(guangming, "/faq/office_hours/question", {"text": "居委会  几点开门"})).status == 302
    assert entries(faq_site)["office_hours"].questions[-1] == "居委会 几点开门"
    assert "工作台" in await page(guangming, "/faq/office_hours")
    await post(guangming, "/faq/office_hours/question", {"text": "物业费怎么交"})
    assert "这个问法已在条目 property_fee 下" in await page(guangming, "/faq/office_hours")
    assert (await post(guangming, "/faq/office_hours/remove", {"text": "光明社区几点上班"})).status == 302
    assert entries(faq_site)["office_hours"].questions == ("社区办公时间", "居委会 几点开门")
    await post(guangming, "/faq/office_hours/remove", {"text": "居委会 几点开门"})
    assert "至少要留2个问法" in await page(guangming, "/faq/office_hours")
    assert len(entries(faq_site)["office_hours"].questions) == 2
    assert (await post(guangming, "/faq/office_hours/nothing", {})).status == 404
    assert (await (await client_as("admin")).get("/faq/no_such_entry")).status == 404


async def test_the_exports_read_back_as_the_entries_the_user_sees(client_as, faq_site, tmp_path):  # noqa: F811
    guangming = await client_as("guangming")
    exported = await guangming.get("/faq/export.yml")
    assert exported.status == 200 and "attachment" in exported.headers["Content-Disposition"]
    (tmp_path / "faq.yml").write_bytes(await exported.read())
    assert faq.load(tmp_path / "faq.yml") == [FEE, HOURS]
    workbook = await (await client_as("admin")).get("/faq/export.xlsx")
    assert workbook.content_type == XLSX
    assert faq_xlsx.read(await workbook.read()) == [FEE, HOURS, PARKING]


async def test_a_workbook_and_a_faq_file_are_imported_adding_and_updating_entries(client_as, faq_site):  # noqa: F811
    admin = await client_as("admin")
    fee = Entry(FEE.id, ("物业费怎么交", "物业费交到哪"), "请到物业服务中心缴纳。")
    water = Entry("water_fee", ("水费怎么交", "水费在哪交"), "在网上营业厅缴纳。", community="和谐社区")
    answer = await upload(admin, "常见问题.xlsx", faq_xlsx.write([fee, water]))
    assert answer.status == 302
    assert "已导入2条：新增1条，更新1条" in await page(admin)
    now = entries(faq_site)
    assert now["water_fee"] == water and now["property_fee"].answer == "请到物业服务中心缴纳。"
    assert now["property_fee"].questions == ("物业费怎么交", "物业费在哪里缴纳", "物业费交到哪")  # none removed
    hall = Entry("hall", ("活动室怎么借", "活动室预约"), "提前一天到服务站登记。", community="光明社区")
    assert (await upload(await client_as("guangming"), "faq.yaml", faq.dump([hall]).encode())).status == 302
    assert entries(faq_site)["hall"] == hall
    with Session(faq_site.engine, future=True) as s:
        assert [c.actor for c in faq_store.changes(s) if c.action == "imported"][:2] == ["guangming", "admin"]


@pytest.mark.parametrize("filename, body, problem", [
    ("faq.xlsx", b"not a workbook", "不是能打开的 Excel 文件"),
    ("faq.xlsx", sheet(HEADER, ("x", "只有一个问法\n只有一个问法", "答")),
     "第2行 (row 2) (x): needs at least two different questions"),
    ("faq.yml", b"entries:\n  - id: x\n    questions: [only one]\n    answer: a\n", "needs at least two"),
    ("faq.yml", "entries: [".encode(), "not valid YAML"),
    ("faq.yml", "entries:\n- id: x\n  questions: [一, 二]\n  answer: 答\n".encode("gbk"), "不是 UTF-8"),
    ("faq.txt", b"whatever", "只能导入 .yml、.yaml 或 .xlsx 文件"),
], ids=["not-a-workbook", "xlsx-one-question", "yml-one-question", "bad-yaml", "gbk", "txt"])  # a workbook's
# bytes carry the time it was made: as a test id they would differ between two workers' collections
async def test_a_bad_file_is_refused_with_why_and_changes_nothing(
        client_as, faq_site, filename, body, problem):  # noqa: F811
    admin = await client_as("admin")
    before, changes = entries(faq_site), change_count(faq_site)
    assert (await upload(admin, filename, body)).status == 302
    shown = await page(admin)
    assert "导入失败，常见问题没有改动" in shown and problem in shown
    assert "/tmp" not in shown
    assert entries(faq_site) == before and change_count(faq_site) == changes


async def test_community_staff_import_only_their_communities_entries(client_as, faq_site):  # noqa: F811
    guangming = await client_as("guangming")
    theirs = Entry("hall", ("活动室怎么借", "活动室预约"), "提前一天到服务站登记。", community="光明社区")
    everyone = Entry("bins", ("垃圾几点收", "垃圾车几点来"), "每天 7 点和 19 点。")
    taken = Entry(PARKING.id, PARKING.questions, "改成光明社区的答案", community="光明社区")
    for imported, named in (([theirs, everyone], "bins"), ([theirs, taken], "parking_permit")):
        before = entries(faq_site)
        assert (await upload(guangming, "faq.xlsx", faq_xlsx.write(imported))).status == 302
        shown = await page(guangming)
        assert "这些条目不在范围内：" + named in shown
        assert entries(faq_site) == before
    assert (await upload(await client_as("zhang"), "faq.xlsx", faq_xlsx.write([theirs]))).status == 403


async def test_a_secretary_of_another_community_neither_sees_nor_changes_its_entries(client_as, faq_site):  # noqa: F811
    chun = await client_as("chun")
    assert (await chun.get("/faq/office_hours")).status == 403
    assert "物业费能用微信交吗" not in await page(chun)
    assert "望江华庭车位多少钱" in await page(chun)
    exported = await (await chun.get("/faq/export.yml")).text()
    assert "office_hours" not in exported and "parking_permit" in exported
    before = entries(faq_site)
    for path, data in (("/faq/office_hours/answer", {"answer": "改"}), ("/faq/office_hours/question", {"text": "改"}),
                       ("/faq/office_hours/remove", {"text": "社区办公时间"}),
                       ("/faq/property_fee/answer", {"answer": "改"}),  # for every community: not a secretary's
                       (f"/faq/asked/{asked_id(faq_site, '物业费能用微信交吗')}", {"entry": "property_fee"}),
                       (f"/faq/asked/{asked_id(faq_site, '望江华庭车位多少钱')}", {"entry": "office_hours"})):
        assert (await post(chun, path, data)).status == 403, path
    assert entries(faq_site) == before
    shown = await page(chun, "/faq/property_fee")
    assert "保存答案" not in shown and "由管理员和社区工作者维护" in shown
    assert (await post(chun, "/faq/parking_permit/question", {"text": "停车证要带什么"})).status == 302
    assert "停车证要带什么" in entries(faq_site)["parking_permit"].questions


async def test_every_faq_form_without_the_sessions_csrf_token_is_refused(client_as, faq_site):  # noqa: F811
    admin = await client_as("admin")
    for path, data in (("/faq/office_hours/answer", {"answer": "改"}), ("/faq/office_hours/question", {"text": "改"}),
                       ("/faq/office_hours/remove", {"text": "社区办公时间"}),
                       ("/faq/new", {"key": "x", "questions": "a\nb", "answer": "c", "community": ""}),
                       (f"/faq/asked/{asked_id(faq_site, '垃圾几点收')}", {"entry": "property_fee"})):
        assert (await admin.post(path, data=data, allow_redirects=False)).status == 403, path
    form = FormData()
    form.add_field("file", faq_xlsx.write([PARKING]), filename="faq.xlsx", content_type=XLSX)
    assert (await admin.post("/faq/import", data=form, allow_redirects=False)).status == 403
    assert entries(faq_site) == {entry.id: entry for entry in (FEE, HOURS, PARKING)}
