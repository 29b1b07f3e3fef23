"""The admins' page of staff accounts (账号管理): who has an account and what it covers, 停用 and
启用, 重置密码 shown once, 结束登录 — and nobody else reaches it."""
import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.models import User
from console_site import PASSWORD, client_as, csrf_of, log_in, site  # noqa: F401 - fixtures

ACTIONS = ("disable", "enable", "reset_password", "end_sessions")


def account_id(site, username: str) -> int:
    with Session(site.engine, future=True) as s:
        return s.scalars(select(User.id).where(User.username == username)).one()


async def act(client, site, username: str, action: str):
    """An admin's button on the accounts page, pressed for `username`."""
    return await client.post(f"/accounts/{account_id(site, username)}/{action}",
                             data={"csrf_token": await csrf_of(client, "/accounts")}, allow_redirects=False)


async def rows(client) -> dict[str, str]:
    """The accounts page's table: user name → the text of its row."""
    page = await client.get("/accounts")
    assert page.status == 200
    found = re.findall(r"<tr>\s*<td>([^<]+)</td>(.*?)</tr>", await page.text(), re.S)
    return {name: re.sub(r"<[^>]+>|\s+", " ", row) for name, row in found}


async def flash(client) -> str:
    return re.search(r'<p class="notice" role="status">([^<]*)</p>', await (await client.get("/accounts")).text())[1]


async def test_admins_see_every_account_with_its_role_scope_state_and_last_login(client_as):
    admin = await client_as("admin")
    table = await rows(admin)
    assert set(table) == {"admin", "guangming", "hexie", "zhang"}
    assert "管理员" in table["admin"] and "全部" in table["admin"] and "从未登录" not in table["admin"]
    assert "1 处" in table["admin"]  # this very login
    assert "社区工作者" in table["guangming"] and "光明社区" in table["guangming"]
    assert "小区党支部书记" in table["zhang"] and "金御城" in table["zhang"] and "正常" in table["zhang"]
    assert "从未登录" in table["hexie"] and " 无 " in table["hexie"]
    assert 'href="/accounts"' in await (await admin.get("/tickets")).text()  # in the navigation


async def test_only_admins_reach_the_account_pages(client_as, site):
    for name in ("guangming", "zhang"):
        client = await client_as(name)
        assert 'href="/accounts"' not in await (await client.get("/tickets")).text()
        page = await client.get("/accounts")
        assert page.status == 403 and "只有管理员可以管理账号" in await page.text()
        token = await csrf_of(client, "/tickets")
        for action in ACTIONS:
            answer = await client.post(f"/accounts/{account_id(site, 'admin')}/{action}", data={"csrf_token": token})
            assert answer.status == 403, action
    assert (await log_in(await client_as(None), "admin")).status == 302  # nothing was done to the admin


async def test_every_form_of_the_accounts_page_carries_the_csrf_token_and_none_works_without(client_as, site):
    admin = await client_as("admin")
    await client_as("zhang")  # so that 结束登录 shows too
    with Session(site.engine, future=True) as s, s.begin():  # and 启用
        s.execute(update(User).where(User.username == "hexie").values(disabled_at=site.now))
    forms = re.findall(r"<form.*?</form>", await (await admin.get("/accounts")).text(), re.S)
    assert {action for form in forms for action in re.findall(r'action="/accounts/\d+/(\w+)"', form)} == set(ACTIONS)
    assert all('name="csrf_token"' in form for form in forms)
    for action in ACTIONS:
        answer = await admin.post(f"/accounts/{account_id(site, 'zhang')}/{action}", data={}, allow_redirects=False)
        assert answer.status == 403, action
    assert "正常" in (await rows(admin))["zhang"]


async def test_a_disabled_account_is_logged_out_everywhere_and_may_not_log_in_until_enabled(client_as, site):
    admin, hexie = await client_as("admin"), await client_as("hexie")
    assert (await act(admin, site, "hexie", "disable")).headers["Location"] == "/accounts"
    assert await flash(admin) == "已停用 hexie，其登录已全部结束。"
    assert "已停用" in (await rows(admin))["hexie"]
    assert (await hexie.get("/tickets", allow_redirects=False)).status == 302
    again = await client_as(None)
    answer = await log_in(again, "hexie")
    assert answer.status == 403 and "该账号已停用，请联系管理员。" in await answer.text()
    assert (await log_in(again, "hexie", "wrong-password")).status == 401  # without the password: told nothing
    await act(admin, site, "hexie", "enable")
    assert (await log_in(again, "hexie")).status == 302


async def test_an_admin_cannot_disable_their_own_account(client_as, site):
    admin = await client_as("admin")
    assert "停用" not in (await rows(admin))["admin"]
    await act(admin, site, "admin", "disable")
    assert await flash(admin) == "不能停用自己的账号。"
    assert "正常" in (await rows(admin))["admin"]


async def test_ending_an_accounts_sessions_logs_out_every_browser_it_uses(client_as, site):
    admin, office, home = await client_as("admin"), await client_as("zhang"), await client_as("zhang")
    assert "2 处" in (await rows(admin))["zhang"]
    await act(admin, site, "zhang", "end_sessions")
    assert await flash(admin) == "已结束 zhang 的全部登录。"
    for browser in (office, home):
        assert (await browser.get("/tickets", allow_redirects=False)).status == 302
    assert " 无 " in (await rows(admin))["zhang"]
    assert (await log_in(office, "zhang")).status == 302  # the account itself is untouched


async def test_a_reset_password_is_shown_once_and_replaces_the_old_one(client_as, site):
    admin, zhang = await client_as("admin"), await client_as("zhang")
    answer = await act(admin, site, "zhang", "reset_password")
    assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code id="new-password">([^<]+)</code>', await answer.text())[1]
    assert password not in await (await admin.get("/accounts")).text()
    assert (await zhang.get("/tickets", allow_redirects=False)).status == 302  # logged out with the old one
    assert (await log_in(zhang, "zhang")).status == 401
    assert (await log_in(zhang, "zhang", password)).status == 302
