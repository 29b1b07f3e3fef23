"""The dashboard (数据看板): the user's scope over a chosen period, numbers next to charts."""
from datetime import date, timedelta

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping
from sqlalchemy.orm import Session

from bot import health, volunteer_figures
from bot.clock import utc_now
from console.auth import current_user
from console.charts import bar_chart, column_chart
from console.keys import ENGINE
from console.metrics import Figures, Period, figures, local_day
from console.params import day
from console.scope import covered_compound_ids

routes = web.RouteTableDef()
DEFAULT_DAYS = 56  # eight weeks
MAX_DAYS = 366


def parse_period(query: MultiMapping, today: date) -> Period:
    """`from` and `to` (YYYY-MM-DD, Beijing days); the last eight weeks by default."""
    end = day(query["to"], "结束日期") if query.get("to") else today
    start = day(query["from"], "开始日期") if query.get("from") else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise web.HTTPBadRequest(text="开始日期不能晚于结束日期。")
    if (end - start).days >= MAX_DAYS:
        raise web.HTTPBadRequest(text=f"时间段最长{MAX_DAYS}天。")
    return Period(start, end)


def _charts(numbers: Figures) -> dict:
    weeks = [f"{week.monday.month}/{week.monday.day}" for week in numbers.weeks]
    return {
        "by_category": bar_chart(numbers.by_category.most_common(), "各类别工单数"),
        "by_compound": bar_chart(numbers.by_compound.most_common(), "各小区工单数"),
        "trend": column_chart(weeks, [("新增工单", [w.filed for w in numbers.weeks]),
                                      ("按时办结", [w.resolved_in_sla for w in numbers.weeks])], "每周趋势"),
    }


@routes.get("/dashboard", name="dashboard")
async def dashboard(request: web.Request) -> web.Response:
    scope = covered_compound_ids(current_user(request))
    now = utc_now()
    period = parse_period(request.query, local_day(now))
    with Session(request.app[ENGINE], future=True) as session:
        numbers = figures(session, scope, period, now)
        by_community = volunteer_figures.figures(session, scope, *period.utc_bounds())
        worker = health.worker_state(session, now)
    return aiohttp_jinja2.render_template("dashboard.html", request, {
        "period": period, "numbers": numbers, "charts": _charts(numbers), "volunteer_figures": by_community,
        "worker": worker, "worker_minutes": None if worker["age_seconds"] is None else int(worker["age_seconds"] // 60)})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
