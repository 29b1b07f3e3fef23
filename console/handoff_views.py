"""转人工 (handoff) in the console: the queue of handed-off conversations, the transcript, and
what staff do with one — take it, reply, file or link a ticket, hand it back to the bot.

Every handler finds the handoff through `_handoff_for`, which refuses (403) one outside the
user's scope; the queue lists only the user's compounds. The queue and the transcript refresh
themselves by fetching small HTML fragments, so new conversations appear without a reload.
"""
import logging
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot import handoff as handoffs
from bot.clock import utc_now
from bot.models import Handoff, Ticket, User
from bot.taxonomy import CATEGORIES
from bot.tickets import OPEN_STATUSES
from console import media_views
from console.auth import current_user
from console.keys import ENGINE, RASA
from console.params import whole_number
from console.scope import can_see_compound, compound_ids_for

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

REFRESH_SECONDS = 5
NOTICES = {"taken": "已接手这个对话。", "replied": "回复已发出。", "filed": "已登记工单并告知居民。",
           "linked": "已关联工单。", "returned": "对话已交回小助手。",
           "unrecorded": "回复已发出，但小助手服务暂时连不上，这条回复没能记入对话记录。"}


def waited(since: datetime, now: datetime) -> str:
    """How long a resident has waited, as staff read it: 5分钟, 2小时10分, 1天3小时."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}分钟"
    if minutes < 24 * 60:
        return f"{minutes // 60}小时{minutes % 60}分"
    return f"{minutes // (24 * 60)}天{minutes // 60 % 24}小时"


def _session(request: web.Request) -> Session:
    return Session(request.app[ENGINE], future=True, expire_on_commit=False)


def _handoff_for(request: web.Request, session: Session) -> Handoff:
    """The handoff of the URL, if the user may see it: 404 when there is none, 403 outside their scope."""
    handoff = session.get(Handoff, int(request.match_info["id"]),
                          options=[selectinload(Handoff.compound), selectinload(Handoff.taken_by),
                                   selectinload(Handoff.ticket)])
    if handoff is None:
        raise web.HTTPNotFound(text="没有这个转人工对话。")
    user = current_user(request)
    if not can_see_compound(user, handoff.compound_id):
        log.warning("handoff %s refused to %s: outside their scope", handoff.id, user.username)
        raise web.HTTPForbidden(text="这个对话不在您负责的范围内。")
    return handoff


def _queue_rows(request: web.Request) -> dict:
    now = utc_now()
    with _session(request) as session:
        queue = handoffs.queue(session, compound_ids_for(session, current_user(request)))
        latest = handoffs.last_messages(session, [h.sender_id for h in queue])
        rows = [{"handoff": h, "waited": waited(h.created_at, now), "compound": h.compound.name if h.compound else "",
                 "taken_by": h.taken_by.username if h.taken_by else "",
                 "last": latest[h.sender_id].text if h.sender_id in latest else h.last_message}
                for h in queue]
    return {"rows": rows, "reasons": handoffs.REASONS, "statuses": handoffs.HANDOFF_STATUS_ZH}


@routes.get("/handoff", name="handoff_queue")
@aiohttp_jinja2.template("handoff_queue.html")
async def queue_page(request: web.Request) -> dict:
    return {**_queue_rows(request), "refresh_seconds": REFRESH_SECONDS}


@routes.get("/handoff/rows", name="handoff_rows")
@aiohttp_jinja2.template("handoff_rows.html")
async def queue_rows(request: web.Request) -> dict:
    """The queue's rows alone, fetched by the queue page every few seconds."""
    return _queue_rows(request)


def _open_tickets(session: Session, handoff: Handoff) -> list[Ticket]:
    if handoff.compound_id is None:
        return []
    return list(session.scalars(select(Ticket).where(Ticket.compound_id == handoff.compound_id,
                                                     Ticket.status.in_(OPEN_STATUSES))
                                .order_by(Ticket.created_at.desc()).limit(50)))


def _detail(request: web.Request, error: str | None = None) -> dict:
    with _session(request) as session:
        handoff = _handoff_for(request, session)
        return {"handoff": handoff, "lines": media_views.with_media(
                    session, handoff.sender_id, handoffs.transcript(session, handoff.sender_id)),
                "open_tickets": _open_tickets(session, handoff), "categories": CATEGORIES,
                "reasons": handoffs.REASONS, "statuses": handoffs.HANDOFF_STATUS_ZH,
                "waited": waited(handoff.created_at, utc_now()), "error": error,
                "notice": NOTICES.get(request.query.get("done", "")), "refresh_seconds": REFRESH_SECONDS}


@routes.get(r"/handoff/{id:\d+}", name="handoff_detail")
@aiohttp_jinja2.template("handoff_detail.html")
async def detail_page(request: web.Request) -> dict:
    return _detail(request)


@routes.get(r"/handoff/{id:\d+}/transcript", name="handoff_transcript")
@aiohttp_jinja2.template("handoff_transcript.html")
async def transcript_fragment(request: web.Request) -> dict:
    """The transcript alone, fetched by the detail page every few seconds."""
    with _session(request) as session:
        handoff = _handoff_for(request, session)
        return {"lines": media_views.with_media(session, handoff.sender_id,
                                                handoffs.transcript(session, handoff.sender_id))}


def _back(request: web.Request, done: str) -> web.HTTPSeeOther:
    url = request.app.router["handoff_detail"].url_for(id=request.match_info["id"]).with_query(done=done)
    return web.HTTPSeeOther(url)


Change = Callable[[Session, Handoff, User, datetime], Any]


def _apply(request: web.Request, change: Change) -> tuple[Handoff, Any]:
    """Apply `change(session, handoff, user, now)` in one transaction; 409 or 400 with the reason
    when the handoff's state or the input does not allow it."""
    try:
        with _session(request) as session, session.begin():
            handoff = _handoff_for(request, session)
            return handoff, change(session, handoff, session.get(User, current_user(request).id), utc_now())
    except handoffs.HandoffError as error:
        raise web.HTTPConflict(text=str(error)) from None
    except ValueError as error:
        raise web.HTTPBadRequest(text=str(error)) from None


@routes.post(r"/handoff/{id:\d+}/take", name="handoff_take")
async def take(request: web.Request) -> web.Response:
    _apply(request, lambda session, handoff, user, now: handoffs.take(handoff, user, now))
    raise _back(request, "taken")


@routes.post(r"/handoff/{id:\d+}/reply", name="handoff_reply")
async def reply(request: web.Request) -> web.Response:
    """The reply goes out through the outbox, then is recorded in the conversation."""
    text = str((await request.post()).get("text", ""))
    handoff, sent = _apply(request, lambda session, handoff, user, now:
                           handoffs.reply(session, handoff, user, text, now))
    try:
        await request.app[RASA].record_staff_message(
            handoff.sender_id, sent.text, current_user(request).username)
    except handoffs.RasaError as error:
        log.warning("handoff %s: reply sent but not recorded in the conversation: %s", handoff.id, error)
        raise _back(request, "unrecorded")
    raise _back(request, "replied")


def _link(session: Session, handoff: Handoff, user: User, value: str) -> None:
    value = value.strip().lstrip("#")
    number = whole_number(value)
    ticket = session.get(Ticket, number) if number is not None else None
    if ticket is None or not can_see_compound(user, ticket.compound_id):
        raise ValueError(f"找不到您负责范围内的工单“{value}”。")
    handoffs.link_ticket(handoff, ticket)


@routes.post(r"/handoff/{id:\d+}/link", name="handoff_link")
async def link(request: web.Request) -> web.Response:
    value = str((await request.post()).get("ticket_id", ""))
    _apply(request, lambda session, handoff, user, now: _link(session, handoff, user, value))
    raise _back(request, "linked")


# Where the problem is, as staff type it: 7 or 7号楼, C座, 2单元, 502室 (the word after the
# number is optional); what the form calls it, and an example for the error message.
PLACES = {"building": (re.compile(r"(\d{1,3}|[A-Za-z])\s*(?:号楼|号栋|号幢|号座|栋|幢|座|#楼|#|号)?"), "楼栋", "7、7号楼或C座"),
          "unit": (re.compile(r"(\d{1,2})\s*(?:单元)?"), "单元", "2或2单元"),
          "room": (re.compile(r"(\d{3,4})\s*(?:室|号)?"), "室号", "502或502室")}


def place(form: Any, field: str) -> str | None:
    """The building, unit or room the form gives, as the directory keeps it ("07" → "7", "c座" →
    "C"); None when left empty; ValueError, in Chinese, for what is not one."""
    pattern, name, example = PLACES[field]
    value = unicodedata.normalize("NFKC", str(form.get(field, ""))).strip()  # full-width ７ → 7
    if not value:
        return None
    match = pattern.fullmatch(value)
    number = (str(int(match[1])) if match[1].isdigit() else match[1].upper()) if match else "0"
    if number == "0":
        raise ValueError(f"{name}“{value[:20]}”看不懂，请填写如{example}，不知道可以不填。")
    return number


def urgent_box(form: Any) -> bool:
    value = str(form.get("urgent", ""))
    if value not in ("", "1", "on"):
        raise ValueError("“紧急”只能勾选或不勾选。")
    return bool(value)


@routes.post(r"/handoff/{id:\d+}/ticket", name="handoff_file_ticket")
async def file_ticket(request: web.Request) -> web.Response:
    form = await request.post()
    category, text = str(form.get("category", "")), str(form.get("text", ""))
    _apply(request, lambda session, handoff, user, now: handoffs.file_ticket(
        session, handoff, category, text, user, now, building=place(form, "building"), unit=place(form, "unit"),
        room=place(form, "room"), urgent=urgent_box(form)))
    raise _back(request, "filed")


@routes.post(r"/handoff/{id:\d+}/return", name="handoff_return")
async def hand_back(request: web.Request) -> web.Response:
    """Resume the conversation in Rasa first: while Rasa is unreachable nothing changes."""
    with _session(request) as session:
        handoff = _handoff_for(request, session)
    if handoff.status == "returned":
        raise web.HTTPConflict(text="这个对话已经交回小助手了。")
    try:
        await request.app[RASA].resume(handoff.sender_id, handoffs.HANDED_BACK)
    except handoffs.RasaError as error:
        log.error("handoff %s not handed back: %s", handoff.id, error)
        return aiohttp_jinja2.render_template("handoff_detail.html", request, _detail(
            request, "小助手服务暂时连不上，对话还没有交回，请稍后再试。"), status=502)
    _apply(request, lambda session, handoff, user, now: handoffs.hand_back(session, handoff, now))
    raise _back(request, "returned")


def setup(app: web.Application) -> None:
    app.add_routes(routes)
