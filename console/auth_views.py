"""Logging in and out (登录、退出)."""
import asyncio
import logging

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.clock import local_text, utc_now
from bot.users import LoginResult, authenticate
from console.auth import log_in, log_out, public
from console.keys import ENGINE

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def _next_page(request: web.Request, value: str | None) -> str:
    """Where to go after logging in: a path on this site only (never another host)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return str(request.app.router["tickets"].url_for())


def _check_password(engine: Engine, username: str, password: str) -> tuple[int | None, LoginResult]:
    with Session(engine, future=True) as session, session.begin():
        result = authenticate(session, username, password, utc_now())
        return (result.user.id if result.user else None), result


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
    # scrypt is slow on purpose: off the event loop, so other pages keep answering meanwhile
    user_id, result = await asyncio.get_running_loop().run_in_executor(
        None, _check_password, request.app[ENGINE], username, password)
    if user_id is not None:
        log.info("login: %s from %s", username, request.remote)
        log_in(request, user_id)
        raise web.HTTPFound(_next_page(request, str(form.get("next", ""))))
    if result.locked_until:
        log.warning("login refused, account locked: %r from %s", username, request.remote)
        message, status = f"密码错误次数过多，账号已锁定，请在{local_text(result.locked_until)}后再试。", 429
    else:
        log.warning("login failed: %r from %s", username, request.remote)
        message, status = "用户名或密码不正确。", 401
    return aiohttp_jinja2.render_template("login.html", request, {
        "next": form.get("next", ""), "message": message, "username": username}, status=status)


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.Response:
    log_out(request)
    raise web.HTTPFound(request.app.router["login"].url_for())


def setup(app: web.Application) -> None:
    app.add_routes(routes)
