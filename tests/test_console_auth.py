"""The console's accounts: logging in and out, sessions kept on the server, CSRF, refusing a
client that guesses, password hashes, and that every route needs a login — on SQLite and
PostgreSQL."""
import base64
import hashlib
import re
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.models import ConsoleSession, LoginFailure, User
from bot.users import (MAX_CLIENT_FAILURES, MAX_FAILED_LOGINS, UserError, create_user, ensure_admin,
                       verify_password)
from console.app import create_app
from console_site import PASSWORD, client_as, csrf_of, log_in, site  # noqa: F401 - fixtures

MESSAGE = re.compile(r'<p class="error" role="alert">([^<]*)</p>')
WRONG = (401, "用户名或密码不正确。")
REFUSED = (429, "登录失败次数过多，请在…后再试。")
ANOTHER_CLIENT = "203.0.113.9"
PUBLIC_PATHS = {"/login", "/health", "/metrics"}  # the only routes anonymous visitors reach


@pytest.fixture
def client_from(aiohttp_client, site):
    """`await client_from("203.0.113.9")`: an anonymous client of a console of its own, whose
    requests the console sees coming from that address (as `request.remote`)."""
    async def make(address: str):
        @web.middleware
        async def from_address(request, handler):
            return await handler(request.clone(remote=address))
        app = create_app(site.engine, rasa_url="http://127.0.0.1:9")
        app.middlewares.insert(0, from_address)
        return await aiohttp_client(app)
    return make


async def answer_of(response) -> tuple[int, str]:
    """A refused login's status and message, its time (请在…后再试) left out."""
    message = MESSAGE.search(await response.text()).group(1)
    return response.status, re.sub(r"请在.*后再试", "请在…后再试", message)


FILLED = {"action": "note", "token": "Zm9yZ2VkLXRva2VuLXgx"}  # a media token is 16 or more characters


def concrete_paths(app) -> list[tuple[str, str]]:
    """(method, path) of every route of the console, with a ticket id and an action filled in."""
    paths = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        if route.method == "HEAD" or "directory" in info:
            continue
        path = info.get("path") or info.get("formatter")
        paths.append((route.method, re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: FILLED.get(m[1], "1"), path)))
    return paths


def test_every_route_is_covered_by_the_route_list(site):
    paths = concrete_paths(create_app(site.engine, rasa_url="http://127.0.0.1:9"))
    assert ("GET", "/tickets/1") in paths and ("POST", "/tickets/1/note") in paths
    assert ("GET", "/dashboard") in paths and ("GET", "/tickets/export.csv") in paths
    assert ("GET", "/accounts") in paths and ("POST", "/accounts/1/note") in paths


async def test_anonymous_visitors_are_sent_to_the_login_page_from_every_route(client_as, site):
    client = await client_as(None)
    for method, path in concrete_paths(client.app):
        if path in PUBLIC_PATHS:
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


# Browsers drop tabs and newlines, read a backslash as a slash and resolve dot segments: each of
# these would reach another host, or is no path of ours.
NASTY_NEXT = ["//evil.example.com/x", "https://evil.example.com/", "/\t/evil.example/", "/\n/evil.example/",
              "/\r\n/evil.example/", "\t//evil.example/", "/\\evil.example/", "\\\\evil.example/",
              "/\\/evil.example/", " //evil.example/", "/.//evil.example/", "/tickets/..//evil.example/",
              "///evil.example/", "https:evil.example", "javascript:alert(1)", "/\x1f/evil.example/",
              "/\u2028/evil.example/", "tickets"]


async def test_after_login_the_visitor_returns_to_the_page_they_asked_for_but_never_to_another_site(client_as):
    client = await client_as(None)
    assert (await client.get("/dashboard", allow_redirects=False)).headers["Location"] == "/login?next=/dashboard"
    token = await csrf_of(client)
    for wanted, landed in [("/dashboard", "/dashboard"), ("/tickets?status=open&page=2", "/tickets?status=open&page=2"),
                           ("/tickets/../dashboard", "/dashboard")] + [(nasty, "/tickets") for nasty in NASTY_NEXT]:
        answer = await client.post("/login", data={"csrf_token": token, "username": "zhang", "password": PASSWORD,
                                                   "next": wanted}, allow_redirects=False)
        assert answer.headers["Location"] == landed, repr(wanted)
        token = await csrf_of(client, "/tickets")  # a fresh session has a fresh token


async def test_a_login_link_whose_next_hides_a_tab_does_not_lead_to_another_host(client_as):
    client = await client_as(None)
    page = await client.get("/login?next=%2F%09%2Fevil.example%2F")
    kept = re.search(r'name="next" value="([^"]*)"', await page.text()).group(1)
    assert kept == "/\t/evil.example/"
    answer = await client.post("/login", data={"csrf_token": await csrf_of(client), "username": "zhang",
                                               "password": PASSWORD, "next": kept}, allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == "/tickets"


async def test_wrong_passwords_for_a_name_refuse_that_name_from_that_client_for_a_while(client_as, site):
    client = await client_as(None)
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert await answer_of(await log_in(client, "zhang", "wrong-password")) == WRONG
    assert await answer_of(await log_in(client, "zhang", "wrong-password")) == REFUSED
    assert await answer_of(await log_in(client, "zhang")) == REFUSED  # even the right password, while refused
    assert (await client.get("/tickets", allow_redirects=False)).status == 302
    assert (await log_in(client, "guangming")).status == 302  # another name from this client may still log in
    with Session(site.engine, future=True) as s, s.begin():  # the failures leave the window
        s.execute(update(LoginFailure).values(at=LoginFailure.at - timedelta(minutes=15, seconds=1)))
    assert (await log_in(client, "zhang")).status == 302


async def test_a_successful_login_forgets_the_clients_failures_for_that_name(client_as):
    client = await client_as(None)
    for _ in range(2):
        for _ in range(MAX_FAILED_LOGINS - 1):
            assert (await log_in(client, "zhang", "wrong-password")).status == 401
        assert (await log_in(client, "zhang")).status == 302


async def test_failures_from_another_client_do_not_lock_the_admin_out(client_as, client_from):
    attacker = await client_from(ANOTHER_CLIENT)
    for _ in range(MAX_FAILED_LOGINS + 2):
        answer = await log_in(attacker, "admin", "guess-1234")
    assert await answer_of(answer) == REFUSED
    admin = await client_as(None)
    assert (await log_in(admin, "admin")).status == 302


async def test_an_unknown_name_gets_exactly_the_answers_a_real_one_gets(client_from):
    answers = {}
    for name, address in (("zhang", "198.51.100.1"), ("nobody", "198.51.100.2")):
        client = await client_from(address)
        answers[name] = [await answer_of(await log_in(client, name, "wrong-password"))
                         for _ in range(MAX_FAILED_LOGINS + 1)]
    assert answers["zhang"] == answers["nobody"] == [WRONG] * (MAX_FAILED_LOGINS - 1) + [REFUSED] * 2


async def test_a_client_guessing_across_many_names_is_refused_for_every_name(client_from):
    guesser = await client_from(ANOTHER_CLIENT)
    names = ["admin", "guangming", "hexie", "zhang", "nobody"]
    tries = [names[i % len(names)] for i in range(MAX_CLIENT_FAILURES)]  # under the limit of each name
    answers = [await answer_of(await log_in(guesser, name, "wrong-password")) for name in tries]
    assert answers == [WRONG] * (MAX_CLIENT_FAILURES - 1) + [REFUSED]
    assert await answer_of(await log_in(guesser, "zhang")) == REFUSED  # the right password too
    elsewhere = await client_from("198.51.100.3")
    assert (await log_in(elsewhere, "zhang")).status == 302


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


def cookie_of(client) -> dict:
    """The client's session cookie, as a header another browser could send."""
    value = client.session.cookie_jar.filter_cookies(client.make_url("/"))["console_session"].value
    return {"Cookie": f"console_session={value}"}


async def test_a_copied_cookie_stops_working_after_logout(client_as, aiohttp_client):
    client = await client_as("guangming")
    cookie, copy = cookie_of(client), await aiohttp_client(client.server)  # another browser, same cookie
    assert (await copy.get("/tickets", headers=cookie, allow_redirects=False)).status == 200
    await client.post("/logout", data={"csrf_token": await csrf_of(client, "/tickets")})
    assert (await copy.get("/tickets", headers=cookie, allow_redirects=False)).status == 302


async def test_a_login_lasts_twelve_hours_at_most(client_as, site):
    client = await client_as("zhang")
    with Session(site.engine, future=True) as s, s.begin():
        s.execute(update(ConsoleSession).values(created_at=ConsoleSession.created_at - timedelta(hours=12)))
    assert (await client.get("/tickets", allow_redirects=False)).status == 302


async def test_a_login_notes_when_it_was_last_used_at_most_once_a_minute(client_as, site):
    client = await client_as("zhang")

    def last_seen():
        with Session(site.engine, future=True) as s:
            return s.scalars(select(ConsoleSession.last_seen_at)).one()
    await client.get("/tickets")
    first = last_seen()
    await client.get("/tickets")
    assert last_seen() == first
    with Session(site.engine, future=True) as s, s.begin():
        s.execute(update(ConsoleSession).values(last_seen_at=first - timedelta(minutes=1)))
    await client.get("/tickets")
    assert last_seen() >= first


async def test_logins_that_can_never_be_live_again_and_failures_that_no_longer_count_are_not_kept(client_as, site):
    client = await client_as("zhang")
    await log_in(client, "zhang", "wrong-password")
    with Session(site.engine, future=True) as s, s.begin():
        s.execute(update(ConsoleSession).values(created_at=ConsoleSession.created_at - timedelta(hours=12)))
        s.execute(update(LoginFailure).values(at=LoginFailure.at - timedelta(minutes=15, seconds=1)))
    assert (await log_in(client, "guangming")).status == 302
    with Session(site.engine, future=True) as s:
        assert s.scalars(select(ConsoleSession.user_id)).all() == [s.scalars(select(User.id).where(
            User.username == "guangming")).one()]
        assert s.scalars(select(LoginFailure)).all() == []


async def test_a_session_of_a_deleted_account_no_longer_opens_anything(client_as, site):
    client = await client_as("hexie")
    with Session(site.engine, future=True) as s, s.begin():
        s.delete(s.scalars(select(User).where(User.username == "hexie")).one())
    assert (await client.get("/tickets", allow_redirects=False)).status == 302


@pytest.mark.real_password_cost
def test_passwords_are_stored_as_salted_argon2id_hashes(engine):
    with Session(engine, future=True) as s, s.begin():
        hashes = [create_user(s, name, "admin", PASSWORD, utc_now()).password_hash for name in ("a", "b")]
    assert all(h.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and PASSWORD not in h for h in hashes)
    assert hashes[0] != hashes[1]  # same password, different salts
    assert verify_password(PASSWORD, hashes[0]) and not verify_password(PASSWORD + "x", hashes[0])
    assert not verify_password(PASSWORD, "not a hash")


def scrypt_hash(password: str) -> str:
    """A hash as the accounts made before Argon2id keep it."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2 ** 14, r=8, p=1)
    return f"scrypt${2 ** 14}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


async def test_an_old_scrypt_password_still_logs_in_and_is_then_kept_as_argon2id(client_as, site):
    old = scrypt_hash(PASSWORD)
    with Session(site.engine, future=True) as s, s.begin():
        s.execute(update(User).where(User.username == "zhang").values(password_hash=old))

    def stored() -> str:
        with Session(site.engine, future=True) as s:
            return s.scalars(select(User.password_hash).where(User.username == "zhang")).one()
    client = await client_as(None)
    assert (await log_in(client, "zhang", "wrong-password")).status == 401
    assert stored() == old  # a wrong password changes nothing
    assert (await log_in(client, "zhang")).status == 302
    assert stored().startswith("$argon2id$") and verify_password(PASSWORD, stored())


@pytest.mark.parametrize("role, communities, compounds, problem", [
    ("mayor", [], [], "没有 'mayor' 这个角色"),
    ("community_staff", [], [], "--community"),
    ("branch_secretary", [], ["不存在小区"], "没有名为 '不存在小区' 的小区"),
    ("admin", [], [], "已经存在"),
])
def test_accounts_that_make_no_sense_are_refused(site, role, communities, compounds, problem):
    with Session(site.engine, future=True) as s, pytest.raises(UserError, match=problem):
        create_user(s, "admin" if problem == "已经存在" else "new", role, PASSWORD, site.now,
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
