"""The background worker: the escalation clock (升级时钟) and outbox delivery, on a beat.

Due times live in the database, so the clock survives restarts; several workers may run at
once (each escalation is claimed atomically, see `tickets.escalate_overdue`).
"""
import asyncio
import logging

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import tickets
from bot.clock import utc_now
from bot.notifier import Sender, deliver_due

log = logging.getLogger(__name__)


async def tick(engine: Engine, senders: dict[str, Sender]) -> tuple[list[int], int]:
    """One beat: escalate what is overdue, then send what is due."""
    with Session(engine, future=True) as session, session.begin():
        escalated = tickets.escalate_overdue(session, utc_now())
    sent = await deliver_due(engine, senders, utc_now())
    if escalated or sent:
        log.info("escalated %s, sent %d messages", escalated, sent)
    return escalated, sent


async def run_forever(engine: Engine, senders: dict[str, Sender], seconds: float = 30) -> None:
    while True:
        try:
            await tick(engine, senders)
        except Exception:  # noqa: BLE001 - a failed beat (database restarting …) is retried next beat
            log.exception("worker beat failed; retrying in %s s", seconds)
        await asyncio.sleep(seconds)
