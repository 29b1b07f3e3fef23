"""Who is logged in, and the guards every request of the console passes.

For view modules (tickets, dashboard, handoff):

- `current_user(request) -> User`: the logged-in staff account, with its communities and
  compounds loaded (detached from any database session). Raises `HTTPFound` to `/login` when
  nobody is logged in, so a handler can simply call it.
- `admin_user(request) -> User`: the same, for pages of admins only (403 for anyone else).
- `login_required`: the middleware that makes every route need a login, except the routes
  whose handler is marked with `@public` (the login page) and static files.
- `csrf_token(request) -> str`: the token every POST form must carry as the hidden field
  `csrf_token` (templates get it as `{{ csrf_token }}`); a `fetch` may send it in the
  `X-CSRF-Token` header instead.
- `check_csrf(request, form)`: raises `HTTPForbidden` unless the form (or header) carries the
  session's token. The `csrf_protect` middleware calls it for every POST, so a handler that
  forgets it is still protected; calling it again is harmless.

Sessions are encrypted cookies (aiohttp-session's `EncryptedCookieStorage`), `HttpOnly` and
`SameSite=Lax`, that expire after `SESSION_SECONDS`. The cookie names a login kept in the
database (`bot.users.start_session`), checked at every request: 退出, an admin ending the
account's sessions, or disabling it, ends the login for every copy of the cookie.
"""
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from aiohttp_session import Session as CookieSession
from aiohttp_session import get_session
from sqlalchemy.orm import Session

from bot import users
from bot.clock import utc_now
from bot.models import User
from console.keys import ENGINE
from console.scope import load_user

log = logging.getLogger(__name__)

SESSION_SECONDS = int(users.SESSION_TIME.total_seconds())
_USER = "console.user"
_SESSION = "console.session"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def public(handler: Handler) -> Handler:
    """Marks a handler that anonymous visitors may reach (the login page)."""
    handler.public = True
    return handler


def cookie_session(request: web.Request) -> CookieSession:
    """The request's cookie session (loaded by the `login_required` middleware)."""
    return request[_SESSION]


def current_user(request: web.Request) -> User:
    """The logged-in user; raises HTTPFound to /login when there is none."""
    if _USER not in request:
        session_id = cookie_session(request).get("session_id")
        user = None
        if session_id is not None:
            with Session(request.app[ENGINE], future=True, expire_on_commit=False) as session, session.begin():
                user_id = users.session_user_id(session, session_id, utc_now())
                user = load_user(session, user_id) if user_id else None
        if user is None:
            raise web.HTTPFound(request.app.router["login"].url_for().with_query(next=request.path_qs))
        request[_USER] = user
    return request[_USER]


def admin_user(request: web.Request) -> User:
    """The logged-in user, who must be an admin (403 otherwise)."""
    user = current_user(request)
    if user.role != "admin":
        raise web.HTTPForbidden(text="只有管理员可以管理账号。")
    return user


def optional_user(request: web.Request) -> User | None:
    """The logged-in user, or None (for pages anonymous visitors see)."""
    try:
        return current_user(request)
    except web.HTTPFound:
        return None


def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, created on first use."""
    session = cookie_session(request)
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf(request: web.Request, form: Mapping) -> None:
    """Raise HTTPForbidden unless `form` (or the X-CSRF-Token header) carries the session's token."""
    sent = form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = cookie_session(request).get("csrf") or ""
    if not (expected and hmac.compare_digest(str(sent), expected)):
        log.warning("%s %s refused: missing or wrong CSRF token", request.method, request.path)
        raise web.HTTPForbidden(text="表单已过期或来源不明，请刷新页面后重试。")


def _is_public(request: web.Request) -> bool:
    route = request.match_info.route
    return isinstance(route.resource, web.StaticResource) or getattr(request.match_info.handler, "public", False)


@web.middleware
async def login_required(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route needs a logged-in user unless its handler is `@public`."""
    request[_SESSION] = await get_session(request)
    if not _is_public(request) and request.match_info.http_exception is None:
        current_user(request)
    return await handler(request)


@web.middleware
async def csrf_protect(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every POST must carry the session's CSRF token."""
    if request.method == "POST":
        form = await request.post() if request.content_type in (
            "application/x-www-form-urlencoded", "multipart/form-data") else {}
        check_csrf(request, form)
    return await handler(request)


def log_in(request: web.Request, session_id: str) -> None:
    """Give the browser the login `session_id` (from `bot.users.start_session`) in a fresh
    cookie session (a new CSRF token, nothing kept from before)."""
    session = cookie_session(request)
    session.invalidate()
    session["session_id"] = session_id
    session["csrf"] = secrets.token_urlsafe(32)
    session.changed()


def log_out(request: web.Request) -> None:
    """End the login in the database, so a copy of the cookie opens nothing, and drop the cookie."""
    session_id = cookie_session(request).get("session_id")
    if session_id:
        with Session(request.app[ENGINE], future=True) as session, session.begin():
            users.end_session(session, session_id, utc_now())
    cookie_session(request).invalidate()
