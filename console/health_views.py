"""运行状态 for monitoring, without a login: `/health` (JSON) and `/metrics` (Prometheus).

Both carry counts and times only, no resident's words, name or number; still, they say how busy
the service is, so the reverse proxy should serve them to the monitoring host only, never on
the public side. `/health` answers 503 when the database does not, else 200 with "status" "ok"
or "worker_late": the console itself works without the worker, so a load balancer keeps it,
while a monitor reads the status (see `bot.health`).
"""
import asyncio

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import health, tickets
from bot.clock import utc_now
from console.auth import public
from console.keys import ENGINE

routes = web.RouteTableDef()
PREFIX = "community_assistant"
TICKET_STATUSES = tuple(tickets.STATUS_ZH)
OUTBOX_STATUSES = ("pending", "failed")
REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)  # this console's figures, for /metrics


class Figures(Collector):
    """The counts, read from the database at each scrape: the truth is there, shared by every
    process, so nothing is counted in memory that a restart would lose."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):
        now = utc_now()
        with Session(self.engine, future=True) as session:
            counts = health.counts(session)
            worker = health.worker_state(session, now)
        handled = CounterMetricFamily(f"{PREFIX}_messages_handled", "residents' messages the bot has handled",
                                      labels=["platform"])
        for platform, count in sorted(counts.messages_handled.items()):
            handled.add_metric([platform], count)
        yield handled
        # Every status and level, 0 included, so a series does not vanish when its last ticket moves on.
        by_state = GaugeMetricFamily(f"{PREFIX}_tickets", "tickets by status and level", labels=["status", "level"])
        for status in TICKET_STATUSES:
            for level in tickets.LEVELS:
                by_state.add_metric([status, level], counts.tickets.get((status, level), 0))
        yield by_state
        outbox = GaugeMetricFamily(f"{PREFIX}_outbox_messages", "outbox rows waiting to be sent (pending) "
                                   "or given up on (failed)", labels=["status"])
        for status in OUTBOX_STATUSES:
            outbox.add_metric([status], counts.outbox.get(status, 0))
        yield outbox
        if worker["age_seconds"] is not None:
            yield GaugeMetricFamily(f"{PREFIX}_worker_heartbeat_age_seconds",
                                    "seconds since the escalation clock last beat", value=worker["age_seconds"])


@routes.get("/health", name="health")
@public
async def health_check(request: web.Request) -> web.Response:
    state = await asyncio.to_thread(health.check, request.app[ENGINE], utc_now())
    return web.json_response(state, status=503 if state["database"] != "ok" else 200)


@routes.get("/metrics", name="metrics")
@public
async def metrics(request: web.Request) -> web.Response:
    # The format the scraper asks for (Prometheus 2 and 3, OpenMetrics), as prometheus_client's own server does.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = await asyncio.to_thread(encode, request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": content_type})


def setup(app: web.Application) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Figures(app[ENGINE]))
    app[REGISTRY] = registry
    app.add_routes(routes)
