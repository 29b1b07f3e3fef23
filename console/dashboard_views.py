"""The dashboard (数据看板): the user's scope over a chosen period, numbers next to charts."""
import aiohttp_jinja2
from aiohttp import web

routes = web.RouteTableDef()


@routes.get("/dashboard", name="dashboard")
@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict:
    return {}


def setup(app: web.Application) -> None:
    app.add_routes(routes)
