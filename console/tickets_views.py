"""Tickets (工单): the list with filters, the CSV export, the detail page and its actions.

Every handler reads only within the user's scope (`console.scope`): a ticket of another
compound answers 403 whether it is opened, exported or acted on.
"""
import csv
import io
from datetime import datetime
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot import media, tickets
from bot.clock import utc_now
from bot.models import Compound, OutboxMessage, Ticket
from bot.taxonomy import CATEGORIES
from bot.tickets import LEVEL_ZH, OPEN_STATUSES, SATISFACTION, STATUS_ZH
from console import media_views
from console.auth import cookie_session, current_user
from console.keys import ENGINE
from console.metrics import local_day
from console.params import whole_number
from console.scope import can_see_compound, covered_compound_ids, limit_to
from console.text import category_zh, local_datetime
from console.ticket_filters import TicketFilters, is_overdue, parse_filters, ticket_query

routes = web.RouteTableDef()
PAGE_SIZE = 50
MAX_PAGE = 10 ** 6  # far beyond any list, yet small enough that no database overflows on the offset
MAX_TEXT = 2000
STATUS_CHOICES = ("assigned", "in_progress", "closed")  # resolving needs a note: its own form


def _filters_in_scope(request: web.Request) -> tuple[TicketFilters, set[int] | None]:
    """The request's filters and the user's scope; 403 when the filter names a compound outside it."""
    user = current_user(request)
    filters = parse_filters(request.query)
    if filters.compound is not None and not can_see_compound(user, filters.compound):
        raise web.HTTPForbidden(text="您无权查看该小区的工单。")
    return filters, covered_compound_ids(user)


def _page(query: MultiMapping) -> int:
    page = query.get("page", "1")
    number = whole_number(page, MAX_PAGE)
    if not number:
        raise web.HTTPBadRequest(text=f"页码无效：{page[:20]}")
    return number


def _visible_compounds(session: Session, scope: set[int] | None) -> list[Compound]:
    return list(session.scalars(limit_to(select(Compound), Compound.id, scope).order_by(Compound.name)))


@routes.get("/tickets", name="tickets")
async def ticket_list(request: web.Request) -> web.Response:
    filters, scope = _filters_in_scope(request)
    page, now = _page(request.query), utc_now()
    query = ticket_query(filters, scope, now)
    with Session(request.app[ENGINE], future=True) as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.scalars(query.options(selectinload(Ticket.compound), selectinload(Ticket.reporters))
                               .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        return aiohttp_jinja2.render_template("tickets.html", request, {
            "tickets": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": filters, "params": filters.query_params(), "now": now, "is_overdue": is_overdue,
            "compounds": _visible_compounds(session, scope), "categories": CATEGORIES, "statuses": STATUS_ZH,
            "levels": LEVEL_ZH})


CSV_HEADERS = ("工单号", "类别", "紧急", "小区", "楼栋", "单元", "室", "反映内容", "状态", "级别", "负责人",
               "反映户数", "提交时间", "办结时限", "办结时间", "超期", "满意度", "照片和语音")


# Control characters a resident's message may carry (NUL, ESC, …) but a CSV cell cannot hold:
# the csv module refuses NUL, and Excel shows the others as boxes. Line breaks and tabs stay.
CONTROL = dict.fromkeys([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])


def _cell(value) -> str:
    """A CSV cell Excel shows as text: a leading = + - @ would make it a formula."""
    text = "" if value is None else str(value).translate(CONTROL)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _satisfaction_summary(ticket: Ticket) -> str:
    answers = [r.satisfaction for r in ticket.reporters if r.satisfaction]
    return "，".join(f"{name}{answers.count(key)}" for key, name in SATISFACTION.items() if answers.count(key))


def _csv_row(ticket: Ticket, now: datetime) -> list[str]:
    return [_cell(value) for value in (
        ticket.id, category_zh(ticket.category), "是" if ticket.urgent else "否", ticket.compound.name,
        ticket.building, ticket.unit, ticket.room, ticket.text, STATUS_ZH.get(ticket.status, ticket.status),
        LEVEL_ZH.get(ticket.level, ticket.level), ticket.assignee_name, len(ticket.reporters),
        local_datetime(ticket.created_at), local_datetime(ticket.due_at), local_datetime(ticket.resolved_at),
        "是" if is_overdue(ticket, now) else "否", _satisfaction_summary(ticket), media.summary(ticket.media))]


@routes.get("/tickets/export.csv", name="tickets_export")
async def export_csv(request: web.Request) -> web.Response:
    """The filtered list as CSV that Excel opens correctly: UTF-8 with a BOM, Chinese headers."""
    filters, scope = _filters_in_scope(request)
    now = utc_now()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    with Session(request.app[ENGINE], future=True) as session:
        query = ticket_query(filters, scope, now).options(selectinload(Ticket.compound),
                                                          selectinload(Ticket.reporters), selectinload(Ticket.media))
        writer.writerows(_csv_row(ticket, now) for ticket in session.scalars(query))
    name = f"工单_{local_day(now):%Y%m%d}.csv"  # the day in Beijing: at 07:00 there it is still yesterday in UTC
    return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f"attachment; filename=\"tickets.csv\"; "
                                                        f"filename*=UTF-8''{quote(name)}"})


def _visible_ticket(request: web.Request, session: Session, for_update: bool = False) -> Ticket:
    """The ticket of the URL: 404 when there is none, 403 when it is outside the user's scope."""
    query = select(Ticket).where(Ticket.id == int(request.match_info["id"]))
    ticket = session.scalars(query.with_for_update() if for_update else query).first()
    if ticket is None:
        raise web.HTTPNotFound(text="没有这个工单。")
    if not can_see_compound(current_user(request), ticket.compound_id):
        raise web.HTTPForbidden(text="您无权查看这个工单。")
    return ticket


@routes.get(r"/tickets/{id:\d+}", name="ticket")
async def ticket_detail(request: web.Request) -> web.Response:
    now = utc_now()
    with Session(request.app[ENGINE], future=True) as session:
        ticket = _visible_ticket(request, session)
        outbox = session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id)
                                 .order_by(OutboxMessage.id)).all()
        return aiohttp_jinja2.render_template("ticket.html", request, {
            "ticket": ticket, "outbox": outbox, "overdue": is_overdue(ticket, now),
            "is_open": ticket.status in OPEN_STATUSES, "people": tickets.assignable_people(session, ticket),
            "status_choices": STATUS_CHOICES, "flash": cookie_session(request).pop("flash", None),
            "media": media_views.of_ticket(ticket)})


def _text(form: MultiMapping, name: str, what: str) -> str:
    value = str(form.get(name, "")).strip()
    if not value:
        raise web.HTTPBadRequest(text=f"请填写{what}。")
    if len(value) > MAX_TEXT:
        raise web.HTTPBadRequest(text=f"{what}不能超过{MAX_TEXT}字。")
    return value


def _require_open(ticket: Ticket) -> None:
    if ticket.status not in OPEN_STATUSES:
        raise web.HTTPBadRequest(text=f"工单{STATUS_ZH[ticket.status]}，不能再这样操作。")


def _assign(session: Session, ticket: Ticket, form: MultiMapping, actor: str, now: datetime) -> str:
    people = {person.role: person for person in tickets.assignable_people(session, ticket)}
    person = people.get(str(form.get("person", "")))
    if person is None:
        raise web.HTTPBadRequest(text="请选择派给谁。")
    tickets.assign(session, ticket, person, now, actor)
    return f"已派给{person.role}{person.name}。"


def _change_status(session: Session, ticket: Ticket, form: MultiMapping, actor: str, now: datetime) -> str:
    status = str(form.get("status", ""))
    if status not in STATUS_CHOICES:
        raise web.HTTPBadRequest(text="请选择新的状态。")
    reason = str(form.get("reason", "")).strip()[:MAX_TEXT]
    tickets.set_status(session, ticket, status, now, f"状态改为{STATUS_ZH[status]}" + (f"：{reason}" if reason else ""),
                       actor)
    return f"状态已改为{STATUS_ZH[status]}。"


def _note(session: Session, ticket: Ticket, form: MultiMapping, actor: str, now: datetime) -> str:
    tickets.add_note(session, ticket, now, _text(form, "note", "备注"), actor)
    return "备注已记录。"


def _escalate(session: Session, ticket: Ticket, form: MultiMapping, actor: str, now: datetime) -> str:
    _require_open(ticket)
    reason = _text(form, "reason", "升级原因")
    if not tickets.escalate(session, ticket, now, reason, actor):
        raise web.HTTPBadRequest(text="工单已在街道级并已标记超期，无法再升级。")
    return f"已升级到{LEVEL_ZH[ticket.level]}。" if not ticket.overdue else "已在街道级，工单标记为超期。"


def _resolve(session: Session, ticket: Ticket, form: MultiMapping, actor: str, now: datetime) -> str:
    _require_open(ticket)
    tickets.resolve(session, ticket, now, _text(form, "note", "办结说明"), actor)
    return f"已办结，满意度回访已发给{len(ticket.reporters)}位反映人。"


ACTIONS = {"assign": _assign, "status": _change_status, "note": _note, "escalate": _escalate, "resolve": _resolve}


@routes.post(r"/tickets/{id:\d+}/{action}", name="ticket_action")
async def ticket_action(request: web.Request) -> web.Response:
    """One of the detail page's forms; back to the page with what happened."""
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise web.HTTPNotFound(text="没有这个操作。")
    form = await request.post()
    user = current_user(request)
    with Session(request.app[ENGINE], future=True) as session, session.begin():
        ticket = _visible_ticket(request, session, for_update=True)
        cookie_session(request)["flash"] = action(session, ticket, form, user.username, utc_now())
    raise web.HTTPFound(request.app.router["ticket"].url_for(id=request.match_info["id"]))


def setup(app: web.Application) -> None:
    app.add_routes(routes)
