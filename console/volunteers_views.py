"""Party-member volunteers (党员志愿者) in the console: registrations to confirm, tickets to offer,
tasks to confirm after 48 hours, each volunteer's history and points ledger with exchanges, the
monthly ranking per community, and the ledger as CSV.

Everything is within the user's scope (`console.scope`): a volunteer, task or ticket of another
compound answers 403, whichever URL is used.
"""
import csv
import io
from datetime import date, timedelta
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot import tickets, volunteer_figures, volunteers
from bot.clock import utc_now
from bot.models import PointsEntry, Ticket, Volunteer, VolunteerTask
from bot.skills import SKILLS, skills_zh
from console.auth import cookie_session, current_user
from console.keys import ENGINE
from console.metrics import Period, local_day
from console.params import month, whole_number
from console.scope import can_see_compound, covered_compound_ids, limit_to
from console.text import local_datetime
from console.tickets_views import _cell

routes = web.RouteTableDef()
OFFERABLE_SHOWN = 50
MAX_POINTS = 100000


def _scope(request: web.Request) -> set[int] | None:
    return covered_compound_ids(current_user(request))


def _visible(request: web.Request, session: Session, model, key: str = "id"):
    """The row of the URL: 404 when there is none, 403 when its compound is outside the scope."""
    row = session.get(model, int(request.match_info[key]))
    if row is None:
        raise web.HTTPNotFound(text="没有这条记录。")
    if not can_see_compound(current_user(request), row.compound_id):
        raise web.HTTPForbidden(text="您无权查看其他小区的志愿者信息。")
    return row


def _back(request: web.Request, message: str, name: str = "volunteers", **parts) -> web.HTTPFound:
    cookie_session(request)["flash"] = message
    return web.HTTPFound(request.app.router[name].url_for(**parts))


@routes.get("/volunteers", name="volunteers")
async def overview(request: web.Request) -> web.Response:
    """Registrations (pending first), open tasks, and open tickets that could go to volunteers."""
    scope = _scope(request)
    with Session(request.app[ENGINE], future=True) as session:
        people = session.scalars(limit_to(select(Volunteer), Volunteer.compound_id, scope)
                                 .options(selectinload(Volunteer.compound))
                                 .order_by((Volunteer.status != "pending"), Volunteer.compound_id, Volunteer.name)).all()
        tasks = session.scalars(limit_to(select(VolunteerTask), VolunteerTask.compound_id, scope)
                                .where(VolunteerTask.status != "confirmed").order_by(VolunteerTask.offered_at)).all()
        offerable = session.scalars(limit_to(select(Ticket), Ticket.compound_id, scope)
                                    .where(Ticket.status.in_(tickets.OPEN_STATUSES),
                                           Ticket.id.not_in(select(VolunteerTask.ticket_id)))
                                    .order_by(Ticket.created_at.desc()).limit(OFFERABLE_SHOWN)).all()
        return aiohttp_jinja2.render_template("volunteers.html", request, {
            "people": people, "tasks": tasks, "offerable": offerable, "now": utc_now(),
            "confirm_after": volunteers.CONFIRM_AFTER, "skills": SKILLS,
            "skills_zh": skills_zh, "status_zh": volunteers.REGISTRATION_STATUS_ZH,
            "task_status_zh": volunteers.TASK_STATUS_ZH, "describe": tickets.describe,
            "flash": cookie_session(request).pop("flash", None)})


@routes.post(r"/volunteers/{id:\d+}/decide", name="volunteer_decide")
async def decide(request: web.Request) -> web.Response:
    """The branch secretary confirms (确认) or rejects (不通过) a registration."""
    form = await request.post()
    choice = form.get("decision")
    if choice not in ("confirm", "reject"):
        raise web.HTTPBadRequest(text="请选择确认或不通过。")
    with Session(request.app[ENGINE], future=True) as session, session.begin():
        volunteer = _visible(request, session, Volunteer)
        try:
            volunteers.decide_registration(session, volunteer, choice == "confirm", current_user(request).username,
                                           utc_now())
        except volunteers.VolunteerError as refusal:
            raise web.HTTPBadRequest(text=str(refusal)) from None
        message = f"{volunteer.name}的报到{volunteers.REGISTRATION_STATUS_ZH[volunteer.status]}，已通知本人。"
    raise _back(request, message)


def _skills_of(form: MultiMapping) -> list[str]:
    skill = str(form.get("skill", ""))
    if skill and skill not in SKILLS:
        raise web.HTTPBadRequest(text="没有这种特长。")
    return [skill] if skill else []


@routes.post("/volunteers/offer", name="volunteer_offer")
async def offer(request: web.Request) -> web.Response:
    """Mark a ticket as suitable for volunteers: it is offered to those whose skills fit."""
    form = await request.post()
    ticket_id = whole_number(str(form.get("ticket_id", "")))
    if ticket_id is None:
        raise web.HTTPBadRequest(text="工单号无效。")
    with Session(request.app[ENGINE], future=True) as session, session.begin():
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise web.HTTPNotFound(text="没有这个工单。")
        if not can_see_compound(current_user(request), ticket.compound_id):
            raise web.HTTPForbidden(text="您无权操作这个工单。")
        try:
            task = volunteers.offer(session, ticket, _skills_of(form), utc_now(), current_user(request).username)
        except volunteers.VolunteerError as refusal:
            raise web.HTTPBadRequest(text=str(refusal)) from None
        message = (f"#{ticket.id}已发给{len(volunteers.fitting_volunteers(session, task))}位"
                   f"合适的志愿者（需要：{skills_zh(task.skills)}）。")
    raise _back(request, message)


@routes.post(r"/volunteers/tasks/{id:\d+}/confirm", name="volunteer_task_confirm")
async def confirm_task(request: web.Request) -> web.Response:
    """The secretary confirms a task the residents have not answered for 48 hours."""
    with Session(request.app[ENGINE], future=True) as session, session.begin():
        task = _visible(request, session, VolunteerTask)
        try:
            points = volunteers.confirm_by_secretary(session, task, utc_now(), current_user(request).username)
        except volunteers.VolunteerError as refusal:
            raise web.HTTPBadRequest(text=str(refusal)) from None
        message = f"#{task.ticket_id}已确认完成，{task.volunteer.name}积分+{points}。"
    raise _back(request, message)


@routes.get(r"/volunteers/{id:\d+}", name="volunteer")
async def history(request: web.Request) -> web.Response:
    """One volunteer: registration, tasks, the points ledger and its balance, the exchange form."""
    with Session(request.app[ENGINE], future=True) as session:
        volunteer = _visible(request, session, Volunteer)
        tasks = session.scalars(select(VolunteerTask).where(VolunteerTask.volunteer_id == volunteer.id)
                                .order_by(VolunteerTask.claimed_at.desc())).all()
        return aiohttp_jinja2.render_template("volunteer.html", request, {
            "volunteer": volunteer, "tasks": tasks, "entries": volunteers.ledger(session, volunteer.id),
            "balance": volunteers.balance(session, volunteer.id), "skills_zh": skills_zh,
            "status_zh": volunteers.REGISTRATION_STATUS_ZH, "task_status_zh": volunteers.TASK_STATUS_ZH,
            "describe": tickets.describe, "flash": cookie_session(request).pop("flash", None)})


def _points(form: MultiMapping) -> int:
    points = whole_number(str(form.get("points", "")).strip(), MAX_POINTS)
    if not points:
        raise web.HTTPBadRequest(text=f"兑换积分须为 1 到 {MAX_POINTS} 之间的整数。")
    return points


@routes.post(r"/volunteers/{id:\d+}/spend", name="volunteer_spend")
async def spend(request: web.Request) -> web.Response:
    """积分兑换: record points spent, with the reason."""
    form = await request.post()
    points = _points(form)
    with Session(request.app[ENGINE], future=True) as session, session.begin():
        volunteer = _visible(request, session, Volunteer)
        try:
            volunteers.spend(session, volunteer, points, str(form.get("reason", "")), current_user(request).username,
                             utc_now())
        except volunteers.VolunteerError as refusal:
            raise web.HTTPBadRequest(text=str(refusal)) from None
        message = f"已记录兑换{points}积分，余额{volunteers.balance(session, volunteer.id)}。"
    raise _back(request, message, "volunteer", id=request.match_info["id"])


def month_period(query: MultiMapping, today: date) -> Period:
    """`month` (YYYY-MM, Beijing time); this month by default."""
    first = month(query["month"]) if query.get("month") else today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, following - timedelta(days=1))


@routes.get("/volunteers/ranking", name="volunteer_ranking")
async def ranking(request: web.Request) -> web.Response:
    """The month's points earned, per community, most first."""
    period = month_period(request.query, local_day(utc_now()))
    with Session(request.app[ENGINE], future=True) as session:
        by_community = volunteer_figures.monthly_ranking(session, _scope(request), *period.utc_bounds())
        return aiohttp_jinja2.render_template("volunteer_ranking.html", request, {
            "month": f"{period.start:%Y-%m}", "ranking": by_community})


CSV_HEADERS = ("时间", "志愿者", "小区", "工作单位", "积分", "事由", "工单号", "经办人")


def _csv_row(entry: PointsEntry) -> list[str]:
    """Text cells escaped for Excel; the points stay a number (a spent -15 is not a formula)."""
    volunteer = entry.volunteer
    texts = [_cell(value) for value in (local_datetime(entry.at), volunteer.name, volunteer.compound.name,
                                        volunteer.work_unit)]
    return texts + [str(entry.points)] + [_cell(value) for value in (
        entry.reason, entry.task.ticket_id if entry.task else "", entry.actor)]


@routes.get("/volunteers/export.csv", name="volunteers_export")
async def export_csv(request: web.Request) -> web.Response:
    """The points ledger within the scope as CSV for Excel (UTF-8 with a BOM, Chinese headers)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    with Session(request.app[ENGINE], future=True) as session:
        query = limit_to(select(PointsEntry).join(Volunteer), Volunteer.compound_id, _scope(request)).order_by(
            PointsEntry.at, PointsEntry.id)
        writer.writerows(_csv_row(entry) for entry in session.scalars(query))
    name = f"志愿积分_{local_day(utc_now()):%Y%m%d}.csv"  # the day in Beijing, whatever the server's zone
    return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f"attachment; filename=\"volunteer-points.csv\"; "
                                                        f"filename*=UTF-8''{quote(name)}"})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
