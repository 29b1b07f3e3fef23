"""Tickets (工单): the list with filters, the CSV export, the detail page and its actions."""
import aiohttp_jinja2
from aiohttp import web

routes = web.RouteTableDef()


@routes.get("/tickets", name="tickets")
@aiohttp_jinja2.template("tickets.html")
async def ticket_list(request: web.Request) -> dict:
    return {}


def setup(app: web.Application) -> None:
    app.add_routes(routes)
