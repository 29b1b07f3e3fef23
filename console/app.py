"""The staff console (工作人员后台): an aiohttp application with server-rendered pages.

`create_app(engine, rasa_url=…)` builds it; `python -m console` runs it (see `main`). Each
feature is a view module with `setup(app)`: accounts (`auth_views`), tickets, the dashboard,
volunteers, the FAQ (`faq_views`), and the handoff queue (`handoff_views`) when that module is
there. Templates extend `base.html`.
"""
import argparse
import base64
import binascii
import importlib
import importlib.util
import logging
import os
import secrets
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from sqlalchemy.engine import Engine

from bot.users import ROLES
from console.auth import SESSION_SECONDS, csrf_protect, csrf_token, login_required, optional_user
from console.keys import ENGINE, RASA_URL
from console.text import FILTERS

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
VIEW_MODULES = ("console.auth_views", "console.tickets_views", "console.dashboard_views",
                "console.volunteers_views", "console.faq_views")
OPTIONAL_VIEW_MODULES = ("console.handoff_views",)
ERROR_TITLES = {400: "请求有误", 403: "无权访问", 404: "找不到页面", 405: "不支持的操作", 413: "内容太大"}


@web.middleware
async def error_pages(request: web.Request, handler) -> web.StreamResponse:
    """Client errors are logged, and shown to a browser as a page in the console's style."""
    try:
        return await handler(request)
    except web.HTTPClientError as error:
        log.warning("%s %s → %s %s", request.method, request.path, error.status, error.text or error.reason)
        if "text/html" not in request.headers.get("Accept", ""):
            raise
        return aiohttp_jinja2.render_template(
            "error.html", request, {"title": ERROR_TITLES.get(error.status, "出错了"), "error": error},
            status=error.status)


async def _page_context(request: web.Request) -> dict:
    """What every template sees: the user (or None), the CSRF token, role names, the navigation."""
    router = request.app.router
    return {"request": request, "user": optional_user(request), "csrf_token": csrf_token(request),
            "roles": ROLES, "has_handoff": "handoff_queue" in router}


def create_app(engine: Engine, *, rasa_url: str, secret: bytes | None = None,
               secure_cookies: bool = False) -> web.Application:
    """The console on `engine`. `secret` (32 bytes) encrypts the session cookies; without it a
    random one is used, so sessions end when the process does. `secure_cookies` when served
    over HTTPS."""
    storage = EncryptedCookieStorage(secret or secrets.token_bytes(32), cookie_name="console_session",
                                     max_age=SESSION_SECONDS, httponly=True, samesite="Lax",
                                     secure=secure_cookies or None)
    app = web.Application(middlewares=[session_middleware(storage), error_pages, login_required, csrf_protect],
                          client_max_size=256 * 1024)
    app[ENGINE] = engine
    app[RASA_URL] = rasa_url.rstrip("/")
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
    if os.environ.get("CONSOLE_SECRET"):
        try:
            key = base64.urlsafe_b64decode(os.environ["CONSOLE_SECRET"])
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
    parser.add_argument("--host", default=os.environ.get("CONSOLE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CONSOLE_PORT", "8080")))
    parser.add_argument("--rasa-url", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    parser.add_argument("--secret-file", type=Path, default=Path("var/console_secret.key"))
    parser.add_argument("--secure-cookies", action="store_true", help="when the console is served over HTTPS")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = make_engine()
    upgrade(engine)
    app = create_app(engine, rasa_url=args.rasa_url, secret=_secret(args.secret_file),
                     secure_cookies=args.secure_cookies)
    web.run_app(app, host=args.host, port=args.port, print=lambda text: log.info(text.strip()))
