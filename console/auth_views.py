"""Accounts (账号): logging in and out (登录、退出), and the admins' page of staff accounts, where
an account is disabled or enabled (停用、启用), given a new password (重置密码) or logged out
everywhere (结束会话)."""
import asyncio
import logging

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload
from yarl import URL

from bot import users
from bot.clock import local_text, utc_now
from bot.models import User
from console.auth import admin_user, cookie_session, log_in, log_out, public
from console.keys import ENGINE

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
WRONG = "用户名或密码不正确。"
_SITE = URL("http://console.invalid")  # `next` is resolved against it, as a browser resolves it against ours


def _next_page(request: web.Request, value: str | None) -> str:
    """Where to go after logging in: a path on this site only, else the start page.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so `/\\t/evil.example`
    would become `//evil.example`, another host: such values are refused whole. Dot segments are
    resolved first, as the browser would, so `/.//evil.example` cannot become `//evil.example` either.
    """
    start = str(request.app.router["tickets"].url_for())
    if not value or not value.isprintable() or "\\" in value or not value.startswith("/") or value.startswith("//"):
        return start
    try:
        path = _SITE.join(URL(value)).raw_path_qs
    except ValueError:
        return start
    return start if path.startswith("//") else path


def _check_password(engine: Engine, username: str, password: str, client: str) -> tuple[str | None, users.LoginResult]:
    """The login's session id (None when refused), and why."""
    now = utc_now()
    with Session(engine, future=True) as session, session.begin():
        result = users.authenticate(session, username, password, client, now)
        return (users.start_session(session, result.user, now) if result.user else None), result


@routes.get("/", name="home")
async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound(_next_page(request, None))


@routes.get("/login", name="login")
@public
async def login_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("login.html", request, {"next": request.query.get("next", ""),
                                                                 "message": None, "username": ""})


@routes.post("/login")
@public
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    client = request.remote or "unknown"
    # Argon2 is slow on purpose: off the event loop, so other pages keep answering meanwhile
    session_id, result = await asyncio.get_running_loop().run_in_executor(
        None, _check_password, request.app[ENGINE], username, password, client)
    if session_id is not None:
        log.info("login: %s from %s", username, client)
        log_in(request, session_id)
        raise web.HTTPFound(_next_page(request, str(form.get("next", ""))))
    if result.refused_until:
        log.warning("login refused, too many failures: %r from %s", username, client)
        message, status = f"登录失败次数过多，请在{local_text(result.refused_until)}后再试。", 429
    elif result.disabled:
        log.warning("login refused, account disabled: %r from %s", username, client)
        message, status = "该账号已停用，请联系管理员。", 403
    else:
        log.warning("login failed: %r from %s", username, client)
        message, status = WRONG, 401
    return aiohttp_jinja2.render_template("login.html", request, {
        "next": form.get("next", ""), "message": message, "username": username}, status=status)


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.Response:
    log_out(request)
    raise web.HTTPFound(request.app.router["login"].url_for())


@routes.get("/accounts", name="accounts")
async def accounts(request: web.Request) -> web.Response:
    """Every staff account: role, what it covers, whether it may log in, its last login and live sessions."""
    me = admin_user(request)
    with Session(request.app[ENGINE], future=True) as session:
        rows = session.scalars(select(User).order_by(User.username).options(
            selectinload(User.communities), selectinload(User.compounds))).all()
        return aiohttp_jinja2.render_template("accounts.html", request, {
            "accounts": rows, "me": me, "live": users.live_sessions(session, utc_now()),
            "flash": cookie_session(request).pop("flash", None)})


def _disable(session: Session, account: User, me: User) -> str:
    if account.id == me.id:
        return "不能停用自己的账号。"
    users.set_disabled(session, account, True, utc_now())
    return f"已停用 {account.username}，其登录已全部结束。"


def _enable(session: Session, account: User, me: User) -> str:
    users.set_disabled(session, account, False, utc_now())
    return f"已启用 {account.username}。"


def _end_sessions(session: Session, account: User, me: User) -> str:
    users.end_sessions_of(session, account.id, utc_now())
    return f"已结束 {account.username} 的全部登录。"


ACTIONS = {"disable": _disable, "enable": _enable, "end_sessions": _end_sessions}


@routes.post(r"/accounts/{id:\d+}/{action}", name="account_action")
async def account_action(request: web.Request) -> web.Response:
    """停用, 启用, 结束会话 (back to the list with what happened) or 重置密码 (a page that shows
    the new password this once)."""
    action = request.match_info["action"]
    if action not in ACTIONS and action != "reset_password":
        raise web.HTTPNotFound(text="没有这个操作。")
    me = admin_user(request)
    with Session(request.app[ENGINE], future=True) as session, session.begin():
        account = session.get(User, int(request.match_info["id"]))
        if account is None:
            raise web.HTTPNotFound(text="没有这个账号。")
        log.info("account %s: %s by %s", account.username, action, me.username)
        if action == "reset_password":
            password = users.reset_password(session, account, utc_now())
            response = aiohttp_jinja2.render_template("account_password.html", request, {
                "account": account, "password": password})
            response.headers["Cache-Control"] = "no-store"  # the password must not stay in a cache
            return response
        cookie_session(request)["flash"] = ACTIONS[action](session, account, me)
    raise web.HTTPFound(request.app.router["accounts"].url_for())


def setup(app: web.Application) -> None:
    app.add_routes(routes)
