"""运行状态: the worker's heartbeat, the console's /health and /metrics (no login, counts only)
— on SQLite and PostgreSQL."""
import asyncio
import re
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot import health, tickets, worker
from bot.clock import utc_now
from bot.models import OutboxMessage, ReceivedEvent, Ticket, WorkerHeartbeat
from console.app import create_app
from console_site import TICKETS, client_as, site  # noqa: F401 - fixtures


async def health_of(client) -> tuple[int, dict]:
    answer = await client.get("/health", allow_redirects=False)
    return answer.status, await answer.json()


async def test_health_needs_no_login_and_says_the_worker_never_beat(client_as):
    status, body = await health_of(await client_as(None))
    assert status == 200
    assert body == {"status": "worker_late", "database": "ok",
                    "worker": {"host": None, "last_beat_at": None, "age_seconds": None, "late": True}}


async def test_health_shows_how_long_ago_the_worker_beat(client_as, site):
    health.record_beat(site.engine, utc_now() - timedelta(seconds=10), every_seconds=30)
    status, body = await health_of(await client_as(None))
    assert (status, body["status"], body["worker"]["late"]) == (200, "ok", False)
    assert 10 <= body["worker"]["age_seconds"] < 20 and body["worker"]["last_beat_at"].endswith("+00:00")


async def test_a_worker_that_missed_three_beats_is_late(client_as, site):
    health.record_beat(site.engine, utc_now() - timedelta(seconds=100), every_seconds=30)
    status, body = await health_of(await client_as(None))
    assert (status, body["status"], body["worker"]["late"]) == (200, "worker_late", True)


async def test_health_is_a_503_when_the_database_does_not_answer(aiohttp_client):
    nowhere = create_engine("postgresql+psycopg2://postgres@127.0.0.1:1/none", future=True)
    client = await aiohttp_client(create_app(nowhere, rasa_url="http://127.0.0.1:9"))
    status, body = await health_of(client)
    assert (status, body) == (503, {"status": "database_down", "database": "error", "worker": None})


async def test_each_beat_of_the_worker_leaves_a_heartbeat(engine):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(worker.run_forever(engine, seconds=60), 1)
    with Session(engine, future=True) as s:
        beat = s.scalars(select(WorkerHeartbeat)).one()
    assert beat.every_seconds == 60 and utc_now() - beat.beat_at < timedelta(seconds=30)


async def test_a_failed_beat_leaves_no_heartbeat(engine, monkeypatch):
    def down(_engine):
        raise RuntimeError("database restarting")
    monkeypatch.setattr(worker, "tick", down)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(worker.run_forever(engine, seconds=60), 1)
    with Session(engine, future=True) as s:
        assert s.scalars(select(WorkerHeartbeat)).first() is None


def samples(text: str) -> dict[tuple, float]:
    """(metric, (label, value) …) → value, from the Prometheus text format."""
    return {(sample.name, *sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def tickets_of(status: str, level: str) -> tuple:
    return "community_assistant_tickets", ("level", level), ("status", status)


async def test_metrics_count_messages_tickets_and_the_outbox_without_a_login(client_as, site):
    with Session(site.engine, future=True) as s, s.begin():
        now = utc_now()
        for n, status in enumerate(("done", "done", "processing")):  # the one in hand is not handled yet
            s.add(ReceivedEvent(platform="wecom", event_id=f"e{n}", received_at=now, status=status))
        heating = s.get(Ticket, site.tickets["heating"])
        tickets.resolve(s, heating, now, "已更换循环泵", "zhang")
        s.scalars(select(OutboxMessage)).first().status = "failed"
    with Session(site.engine, future=True) as s:
        pending = len(s.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending")).all())
    answer = await (await client_as(None)).get("/metrics", allow_redirects=False)
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    figures = samples(await answer.text())
    assert figures[("community_assistant_messages_handled_total", ("platform", "wecom"))] == 2
    assert figures[tickets_of("assigned", "grid")] == len(TICKETS) - 1
    assert figures[tickets_of("resolved", "grid")] == 1
    assert figures[tickets_of("closed", "subdistrict")] == 0  # every series, 0 included
    assert figures[("community_assistant_outbox_messages", ("status", "pending"))] == pending > 0
    assert figures[("community_assistant_outbox_messages", ("status", "failed"))] == 1


async def test_metrics_hold_no_residents_words_names_or_numbers(client_as, site):
    health.record_beat(site.engine, utc_now(), every_seconds=30)
    text = await (await (await client_as(None)).get("/metrics")).text()
    assert "community_assistant_worker_heartbeat_age_seconds" in text
    said = [words for *_, words in TICKETS.values()]
    residents = [user for *_, reporters, _ in TICKETS.values() for user in reporters]
    assert not [piece for piece in said + residents + ["金御城", "张书记"] if piece in text]
    assert not re.search(r"1[3-9]\d{9}", text)
