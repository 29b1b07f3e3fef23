"""The escalation clock (升级时钟), on a beat.

Due times live in the database, so the clock survives restarts; several clocks may run at once
(each escalation is claimed atomically, see `tickets.escalate_overdue`). The notifications it
writes are delivered from the outbox by the Rasa server's platform connectors. Each beat that
went through leaves a heartbeat (`bot.health`), which the console's /health shows.
"""
import asyncio
import logging

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import health, media, media_files, tickets, volunteers
from bot.clock import utc_now

log = logging.getLogger(__name__)


def tick(engine: Engine) -> list[int]:
    """One beat: escalate every ticket that is past its due time; then the volunteers' clock."""
    with Session(engine, future=True) as session, session.begin():
        escalated = tickets.escalate_overdue(session, utc_now())
    if escalated:
        log.info("escalated tickets %s", escalated)
    volunteer_tick(engine)
    media_tick(engine)
    return escalated


def volunteer_tick(engine: Engine) -> dict[str, list[int]]:
    """Offer new care requests to volunteers, return overdue claims to the pool, settle the
    tasks residents have answered (党员接单, see `bot.volunteers`)."""
    with Session(engine, future=True) as session, session.begin():
        changed = volunteers.sweep(session, utc_now())
    if any(changed.values()):
        log.info("volunteer tasks %s", changed)
    return changed


def media_tick(engine: Engine) -> int:
    """Delete the residents' photos and voice messages kept past MEDIA_RETENTION_DAYS (随手拍,
    see `bot.media.sweep`): the rows first, so a file is never listed that is gone."""
    with Session(engine, future=True) as session, session.begin():
        names = media.sweep(session, utc_now())
    media_files.delete(*names)
    if names:
        log.info("deleted %s media files past their retention", len(names))
    return len(names)


async def run_forever(engine: Engine, seconds: float = 30) -> None:
    while True:
        try:
            tick(engine)
            health.record_beat(engine, utc_now(), seconds)
        except Exception:  # noqa: BLE001 - a failed beat (database restarting …) is retried next beat
            log.exception("escalation beat failed; retrying in %s s", seconds)
        await asyncio.sleep(seconds)
