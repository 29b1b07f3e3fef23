"""Whether the bot's processes run, and what they have done (运行状态), for staff and monitoring.

The worker writes a heartbeat each beat (`record_beat`); the console's `/health` checks the
database and reads the newest beat (`check`), its `/metrics` the counts (`counts`). Both carry
counts and times only, never a resident's words, name or number. The action server needs
nothing of ours: rasa_sdk answers `GET /health` on its port (5055) with {"status": "ok"}.
"""
import logging
import socket
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.models import OutboxMessage, ReceivedEvent, Ticket, WorkerHeartbeat

log = logging.getLogger(__name__)

# A clock that missed this many beats in a row is late: one slow beat (many tickets to escalate,
# a database restarting) is not yet a reason to wake anybody.
LATE_AFTER_BEATS = 3


def record_beat(engine: Engine, now: datetime, every_seconds: float) -> None:
    """The worker on this host beat at `now`, and beats every `every_seconds`."""
    host = socket.gethostname()
    with Session(engine, future=True) as session, session.begin():
        beat = session.get(WorkerHeartbeat, host)
        if beat is None:
            session.add(WorkerHeartbeat(host=host, beat_at=now, every_seconds=every_seconds))
        else:
            beat.beat_at, beat.every_seconds = now, every_seconds


def worker_state(session: Session, now: datetime) -> dict:
    """The newest beat of any host: when, how long ago, and whether the clock is late. A worker
    that never beat is late too: no ticket is escalated without one."""
    beat = session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc())).first()
    if beat is None:
        return {"host": None, "last_beat_at": None, "age_seconds": None, "late": True}
    age = (now - beat.beat_at).total_seconds()
    return {"host": beat.host, "last_beat_at": beat.beat_at.replace(tzinfo=timezone.utc).isoformat(),
            "age_seconds": round(age, 1), "late": age > LATE_AFTER_BEATS * beat.every_seconds}


def check(engine: Engine, now: datetime) -> dict:
    """The console's /health: "ok", "worker_late" (the escalation clock stopped) or "database_down"."""
    try:
        with Session(engine, future=True) as session:
            worker = worker_state(session, now)
    except SQLAlchemyError as error:
        log.warning("health: the database does not answer: %s", error.__class__.__name__)
        return {"status": "database_down", "database": "error", "worker": None}
    return {"status": "worker_late" if worker["late"] else "ok", "database": "ok", "worker": worker}


@dataclass(frozen=True)
class Counts:
    """What /metrics exposes: numbers of rows, no contents."""
    messages_handled: dict[str, int]     # platform → messages the bot has answered (received events done)
    tickets: dict[tuple[str, str], int]  # (status, level) → tickets
    outbox: dict[str, int]               # status → outbox rows


def counts(session: Session) -> Counts:
    handled = session.execute(select(ReceivedEvent.platform, func.count()).where(ReceivedEvent.status == "done")
                              .group_by(ReceivedEvent.platform))
    tickets = session.execute(select(Ticket.status, Ticket.level, func.count()).group_by(Ticket.status, Ticket.level))
    outbox = session.execute(select(OutboxMessage.status, func.count())
                             .where(OutboxMessage.status.in_(("pending", "failed"))).group_by(OutboxMessage.status))
    return Counts(messages_handled=dict(handled.all()),
                  tickets={(status, level): count for status, level, count in tickets},
                  outbox=dict(outbox.all()))
