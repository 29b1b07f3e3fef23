"""The staff console (工作人员后台): an aiohttp application with server-rendered pages.

`create_app(engine, rasa_url=…, rasa_token=…)` builds it; `python -m console` runs it (see `main`). Each
feature is a view module with `setup(app)`: accounts (`auth_views`), tickets, the dashboard,
volunteers, the FAQ (`faq_views`), and the handoff queue (`handoff_views`) when that module is
there. Templates extend `base.html`. Every answer carries the browser's guards
(`SECURITY_HEADERS`), and every refusal or failure reaches a browser as a page in Chinese with its
status (`error_pages`), whether or not anyone is logged in.
"""
import argparse
import base64
import binascii
import importlib
import importlib.util
import logging
import secrets
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from sqlalchemy.engine import Engine
from yarl import URL

from bot import settings
from bot.handoff import RasaConversations
from bot.users import ROLES
from console.auth import SESSION_SECONDS, csrf_protect, csrf_token, login_required, optional_user
from console.keys import ENGINE, RASA
from console.params import whole_number
from console.text import FILTERS

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
VIEW_MODULES = ("console.auth_views", "console.tickets_views", "console.dashboard_views",
                "console.volunteers_views", "console.faq_views", "console.health_views", "console.media_views")
OPTIONAL_VIEW_MODULES = ("console.handoff_views",)
MAX_BODY = 256 * 1024  # a request body larger than this is refused (413)
ERROR_TITLES = {400: "请求有误", 403: "无权访问", 404: "找不到页面", 405: "不支持的操作", 413: "内容太大",
                500: "出错了"}
# What an error page says when whoever raised the error said nothing staff can read (aiohttp's
# own refusals carry English texts such as "404: Not Found").
ERROR_HINTS = {400: "请求的内容无法处理，请检查后重试。", 403: "您无权进行这个操作。",
               404: "要找的页面或记录不存在，可能已被删除，或地址输错了。", 405: "这个页面不支持这样操作。",
               413: f"提交的内容超过了 {MAX_BODY // 1024} KB 的上限，没有保存。请删减文字，或把要导入的文件拆小后重试。",
               500: "工作台出了故障，这次操作可能没有完成。故障已记入日志，请稍后再试，或联系管理员。"}
STALE_FORM = "表单已过期（登录超时，或页面打开太久），这次提交没有保存。请返回上一页，刷新后重新提交。"
# The browser's own guards on every answer, pages, errors and static files alike: only the
# console's own files may run or style a page (so injected markup cannot act), no site may show
# the console inside a frame (clickjacking), a file is never taken for another type, and no
# address of the console leaks to another site.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class StaleForm(web.HTTPForbidden):
    """A POST the CSRF check refused: almost always a form left open past the end of its session."""


@web.middleware
async def error_pages(request: web.Request, handler) -> web.StreamResponse:
    """Errors are logged, and shown to a browser as a page in the console's style: a refusal
    with its status and what to do, anything else as a 500 that says the console failed."""
    try:
        return await handler(request)
    except web.HTTPClientError as error:
        log.warning("%s %s → %s %s", request.method, request.path, error.status, error.text or error.reason)
        if "text/html" not in request.headers.get("Accept", ""):
            raise
        return await _error_page(request, error)
    except web.HTTPException:  # a redirect, or a 5xx a view chose, goes out as it is
        raise
    except Exception:
        if "text/html" not in request.headers.get("Accept", ""):
            raise  # aiohttp logs it and answers a plain 500
        log.exception("%s %s failed", request.method, request.path)
        return await _error_page(request, web.HTTPInternalServerError())


async def _error_page(request: web.Request, error: web.HTTPException) -> web.Response:
    status, text = error.status, error.text or ""
    context = {"title": ERROR_TITLES.get(status, "出错了"), "status": status, "back": _same_site_referer(request),
               "sent": []}
    if isinstance(error, StaleForm):
        context.update(title="表单已过期", message=STALE_FORM, sent=await _typed_text(request))
    elif status == 413 or not text or text.startswith(f"{status}:"):
        context["message"] = ERROR_HINTS.get(status, "")
    else:
        context["message"] = text
    return aiohttp_jinja2.render_template("error.html", request, {**await _error_context(request), **context},
                                          status=status)


async def _error_context(request: web.Request) -> dict:
    """The page context, or that of nobody logged in when reading it fails as well (the session
    or the database being what broke): an error page must always render."""
    try:
        return await _page_context(request)
    except Exception:  # noqa: BLE001 - what broke the page must not break its error page too
        return {"request": request, "user": None, "csrf_token": "", "roles": ROLES, "has_handoff": False}


def _same_site_referer(request: web.Request) -> str | None:
    """The console page the request came from, to go back to; None when it came from elsewhere."""
    try:
        referer = URL(request.headers.get("Referer", ""))
    except ValueError:  # a Referer that is no URL at all
        return None
    return referer.path_qs if referer.raw_authority and referer.raw_authority == request.host else None


async def _typed_text(request: web.Request) -> list[str]:
    """What a refused form carried that staff typed, to copy into the form again: never the
    token or a password, and nothing from a GET."""
    form = await request.post()
    return [value for name, value in form.items() if isinstance(value, str) and value.strip()
            and name != "csrf_token" and "password" not in name]


@web.middleware
async def csrf_refusals(request: web.Request, handler) -> web.StreamResponse:
    """`csrf_protect`, with its refusal told apart from a view's own 403 (which says what the
    user may not do), so that the error page can say how to submit the form again."""
    reached_the_view = False

    async def view(request: web.Request) -> web.StreamResponse:
        nonlocal reached_the_view
        reached_the_view = True
        return await handler(request)
    try:
        return await csrf_protect(request, view)
    except web.HTTPForbidden as refusal:
        if reached_the_view:
            raise
        raise StaleForm(text=STALE_FORM) from refusal


@web.middleware
async def impossible_input(request: web.Request, handler) -> web.StreamResponse:
    """Input that no database can look up or keep, refused here once for every view: an id in
    the path beyond the largest row id (404: SQLite cannot even compare it), a NUL character in
    the path, the query or a form (400: PostgreSQL cannot store one)."""
    if "id" in request.match_info and whole_number(request.match_info["id"]) is None:
        raise web.HTTPNotFound(text="没有这条记录。")
    form = await request.post()
    values = [*request.match_info.values(), *request.query.values(),
              *(value for value in form.values() if isinstance(value, str))]
    if any("\x00" in value for value in values):
        raise web.HTTPBadRequest(text="提交的内容里有无法保存的控制字符（多半是从别的软件复制时带来的），请删去后重试。")
    return await handler(request)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


async def _page_context(request: web.Request) -> dict:
    """What every template sees: the user (or None), the CSRF token, role names, the navigation."""
    router = request.app.router
    return {"request": request, "user": optional_user(request), "csrf_token": csrf_token(request),
            "roles": ROLES, "has_handoff": "handoff_queue" in router}


def create_app(engine: Engine, *, rasa_url: str, rasa_token: str | None = None, secret: bytes | None = None,
               secure_cookies: bool = False) -> web.Application:
    """The console on `engine`, reaching the Rasa server's HTTP API at `rasa_url` with its
    `--auth-token` `rasa_token`. `secret` (32 bytes) encrypts the session cookies; without it a
    random one is used, so sessions end when the process does. `secure_cookies` when served
    over HTTPS."""
    storage = EncryptedCookieStorage(secret or secrets.token_bytes(32), cookie_name="console_session",
                                     max_age=SESSION_SECONDS, httponly=True, samesite="Lax",
                                     secure=secure_cookies or None)
    # In order: the session, the error pages around everything below, the login, the form's
    # token, then what no view can use.
    app = web.Application(middlewares=[session_middleware(storage), error_pages, login_required, csrf_refusals,
                                       impossible_input], client_max_size=MAX_BODY)
    app.on_response_prepare.append(_security_headers)
    app[ENGINE] = engine
    app[RASA] = RasaConversations(rasa_url.rstrip("/"), rasa_token)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                         context_processors=[_page_context], filters=FILTERS, autoescape=True,
                         undefined=jinja2.StrictUndefined)
    app[aiohttp_jinja2.static_root_key] = "/static"
    app.router.add_static("/static", HERE / "static", name="static")
    for module in VIEW_MODULES + tuple(m for m in OPTIONAL_VIEW_MODULES if importlib.util.find_spec(m)):
        importlib.import_module(module).setup(app)
    return app


def _secret(path: Path) -> bytes:
    """CONSOLE_SECRET (base64 of 32 bytes), else a key kept in `path`, made on the first start,
    so logins survive a restart."""
    if encoded := settings.console_secret():
        try:
            key = base64.urlsafe_b64decode(encoded)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise SystemExit("error: CONSOLE_SECRET must be the base64 of 32 random bytes")
        return key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(secrets.token_bytes(32))
    return path.read_bytes()


def main(argv: list[str] | None = None) -> None:
    """`python -m console [--host H] [--port P]`: the console on DATABASE_URL."""
    from bot.db import make_engine
    from bot.migrate import upgrade
    parser = argparse.ArgumentParser(prog="python -m console", description="社区小助手 staff console")
    parser.add_argument("--host", default=settings.console_host())
    parser.add_argument("--port", type=int, default=settings.console_port())
    parser.add_argument("--rasa-url", default=settings.rasa_url())
    parser.add_argument("--rasa-token", default=settings.rasa_token(),
                        help="the Rasa server's --auth-token (default: RASA_TOKEN)")
    parser.add_argument("--secret-file", type=Path, default=Path("var/console_secret.key"))
    parser.add_argument("--secure-cookies", action="store_true", help="when the console is served over HTTPS")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = make_engine()
    upgrade(engine)
    app = create_app(engine, rasa_url=args.rasa_url, rasa_token=args.rasa_token, secret=_secret(args.secret_file),
                     secure_cookies=args.secure_cookies)
    web.run_app(app, host=args.host, port=args.port, print=lambda text: log.info(text.strip()))
