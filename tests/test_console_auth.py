"""The console's accounts: logging in and out, sessions, CSRF, lock-out, and that every route
needs a login — on SQLite and PostgreSQL."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.models import User
from bot.users import MAX_FAILED_LOGINS, UserError, create_user, ensure_admin, verify_password
from console.app import create_app
from console_site import PASSWORD, client_as, csrf_of, log_in, site  # noqa: F401 - fixtures


def concrete_paths(app) -> list[tuple[str, str]]:
    """(method, path) of every route of the console, with a ticket id and an action filled in."""
    paths = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        if route.method == "HEAD" or "directory" in info:
            continue
        path = info.get("path") or info.get("formatter")
        paths.append((route.method, re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: "note" if m[1] == "action" else "1", path)))
    return paths


def test_every_route_is_covered_by_the_route_list(site):
    paths = concrete_paths(create_app(site.engine, rasa_url="http://127.0.0.1:9"))
    assert ("GET", "/tickets/1") in paths and ("POST", "/tickets/1/note") in paths
    assert ("GET", "/dashboard") in paths and ("GET", "/tickets/export.csv") in paths


async def test_anonymous_visitors_are_sent_to_the_login_page_from_every_route(client_as, site):
    client = await client_as(None)
    for method, path in concrete_paths(client.app):
        if path == "/login":
            continue
        answer = await client.request(method, path, allow_redirects=False)
        assert answer.status == 302, (method, path, answer.status)
        assert answer.headers["Location"].startswith("/login"), (method, path)


async def test_logging_in_sets_an_httponly_samesite_cookie_and_opens_the_console(client_as):
    client = await client_as(None)
    answer = await log_in(client, "zhang")
    assert answer.status == 302 and answer.headers["Location"] == "/tickets"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = await client.get("/tickets")
    assert page.status == 200 and "zhang（小区党支部书记）" in await page.text()


async def test_after_login_the_visitor_returns_to_the_page_they_asked_for_but_never_to_another_site(client_as):
    client = await client_as(None)
    assert (await client.get("/dashboard", allow_redirects=False)).headers["Location"] == "/login?next=/dashboard"
    token = await csrf_of(client)
    for wanted, landed in (("/dashboard", "/dashboard"), ("//evil.example.com/x", "/tickets"),
                           ("https://evil.example.com/", "/tickets")):
        answer = await client.post("/login", data={"csrf_token": token, "username": "zhang", "password": PASSWORD,
                                                   "next": wanted}, allow_redirects=False)
        assert answer.headers["Location"] == landed
        token = await csrf_of(client, "/tickets")  # a fresh session has a fresh token


async def test_a_wrong_password_is_refused_and_the_account_locks_after_repeated_tries(client_as, site):
    client = await client_as(None)
    for _ in range(MAX_FAILED_LOGINS - 1):
        answer = await log_in(client, "zhang", "wrong-password")
        assert answer.status == 401 and "用户名或密码不正确" in await answer.text()
    answer = await log_in(client, "zhang", "wrong-password")
    assert answer.status == 429 and "账号已锁定" in await answer.text()
    answer = await log_in(client, "zhang")  # even the right password, while locked
    assert answer.status == 429
    assert (await client.get("/tickets", allow_redirects=False)).status == 302
    with Session(site.engine, future=True) as s, s.begin():  # the lock runs out
        s.execute(update(User).where(User.username == "zhang").values(locked_until=site.now - timedelta(seconds=1)))
    assert (await log_in(client, "zhang")).status == 302


async def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client_as):
    client = await client_as(None)
    answer = await log_in(client, "nobody", "whatever-1")
    assert answer.status == 401 and "用户名或密码不正确" in await answer.text()


async def test_every_post_without_the_sessions_csrf_token_is_refused(client_as, site):
    client = await client_as("admin")
    other = await client_as("admin")
    foreign_token = await csrf_of(other, "/tickets")
    ticket = site.tickets["heating"]
    for data in ({"note": "x"}, {"note": "x", "csrf_token": foreign_token}):
        answer = await client.post(f"/tickets/{ticket}/note", data=data, allow_redirects=False)
        assert answer.status == 403
    answer = await client.post("/logout", allow_redirects=False)
    assert answer.status == 403
    anonymous = await client_as(None)
    await anonymous.get("/login")
    answer = await anonymous.post("/login", data={"username": "admin", "password": PASSWORD}, allow_redirects=False)
    assert answer.status == 403


async def test_logging_out_ends_the_session(client_as):
    client = await client_as("guangming")
    token = await csrf_of(client, "/tickets")
    assert (await client.get("/logout", allow_redirects=False)).status == 405
    answer = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == "/login"
    assert (await client.get("/tickets", allow_redirects=False)).status == 302


async def test_a_session_of_a_deleted_account_no_longer_opens_anything(client_as, site):
    client = await client_as("hexie")
    with Session(site.engine, future=True) as s, s.begin():
        s.delete(s.scalars(select(User).where(User.username == "hexie")).one())
    assert (await client.get("/tickets", allow_redirects=False)).status == 302


def test_passwords_are_stored_as_salted_scrypt_hashes(site):
    with Session(site.engine, future=True) as s:
        hashes = [u.password_hash for u in s.scalars(select(User))]
    assert all(h.startswith("scrypt$") and PASSWORD not in h for h in hashes)
    assert len(set(hashes)) == len(hashes)  # same password, different salts
    assert verify_password(PASSWORD, hashes[0]) and not verify_password(PASSWORD + "x", hashes[0])
    assert not verify_password(PASSWORD, "not a hash")


@pytest.mark.parametrize("role, communities, compounds, problem", [
    ("mayor", [], [], "unknown role"),
    ("community_staff", [], [], "--community"),
    ("branch_secretary", [], ["不存在小区"], "no compound named"),
    ("admin", [], [], "exists already"),
])
def test_accounts_that_make_no_sense_are_refused(site, role, communities, compounds, problem):
    with Session(site.engine, future=True) as s, pytest.raises(UserError, match=problem):
        create_user(s, "admin" if problem == "exists already" else "new", role, PASSWORD, site.now,
                    communities, compounds)


def test_the_first_start_creates_an_admin_once_and_keeps_the_password_for_the_operator(engine, tmp_path):
    credentials = tmp_path / "var" / "console_admin.txt"
    password = ensure_admin(engine, credentials, utc_now())
    assert password and f"password: {password}" in credentials.read_text()
    assert credentials.stat().st_mode & 0o077 == 0
    assert ensure_admin(engine, credentials, utc_now()) is None
    with Session(engine, future=True) as s:
        admin = s.scalars(select(User).where(User.username == "admin")).one()
        assert admin.role == "admin" and verify_password(password, admin.password_hash)
