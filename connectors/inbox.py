"""收件箱 (inbox): every callback taken in is a `received_events` row until it is answered.

Recording a callback is the one thing a webhook waits for; handling it is the server's, however
the request ends: the platform may hang up while the database is slow, and the message is
still answered. A server handling a message keeps renewing its lease; a message whose lease ran
out (its server died, or it was recorded by a request whose handler never ran) is taken again,
by the platform's retry or by the servers' sweep (`orphans`), from the payload kept in the row.
The unique (platform, event id) keeps a retry of a message in hand from being answered twice.

A platform whose callback only says "there is news" (微信客服) is read with a cursor, kept here
too (`cursor`, `move_cursor`): it moves on once what it covers is recorded, so a restart reads
on from there, and what is read twice meets the dedup above.
"""
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.models import ReceivedEvent, SyncCursor

# A lease outlives three missed renewals; a message lost with its server waits about this long.
LEASE = timedelta(seconds=15)
RENEW_EVERY = 5.0  # seconds


def _expired(now: datetime):
    """Rows whose lease ran out (rows from before leases: after as long again since received)."""
    return or_(ReceivedEvent.lease_until < now,
               and_(ReceivedEvent.lease_until.is_(None), ReceivedEvent.received_at < now - LEASE))


def record(engine: Engine, platform: str, event_id: str, payload: dict, now: datetime,
           clock: Callable[[], datetime] = utc_now) -> bool:
    """Record a callback; True when this server is to handle it: the first time it comes, or
    when it comes again after the server that had it let its lease run out unanswered. The
    lease counts from when the row is written (`clock`), not from when writing began: a stalled
    database may hold the insert for longer than a lease."""
    try:
        with Session(engine, future=True) as session, session.begin():
            row = ReceivedEvent(platform=platform, event_id=event_id, received_at=now, status="processing",
                                payload=payload, lease_until=now + LEASE)
            session.add(row)
            session.flush()
            row.lease_until = clock() + LEASE
        return True
    except IntegrityError:
        with Session(engine, future=True) as session, session.begin():
            taken = session.execute(update(ReceivedEvent).where(
                ReceivedEvent.platform == platform, ReceivedEvent.event_id == event_id,
                ReceivedEvent.status == "processing", _expired(now)).values(lease_until=now + LEASE, payload=payload))
            if taken.rowcount != 1:
                return False
            session.execute(update(ReceivedEvent).where(
                ReceivedEvent.platform == platform, ReceivedEvent.event_id == event_id)
                .values(lease_until=clock() + LEASE))
            return True


def held_elsewhere(engine: Engine, platform: str, event_id: str, now: datetime) -> bool:
    """Whether another server is answering the message now (recorded, unanswered, its lease live)."""
    with Session(engine, future=True) as session:
        return session.scalar(select(ReceivedEvent.id).where(
            ReceivedEvent.platform == platform, ReceivedEvent.event_id == event_id,
            ReceivedEvent.status == "processing", ~_expired(now))) is not None


def renew(engine: Engine, platform: str, event_ids: list[str], now: datetime) -> None:
    """Keep the messages this server is handling (held ones too) its own."""
    if not event_ids:
        return
    with Session(engine, future=True) as session, session.begin():
        session.execute(update(ReceivedEvent).where(
            ReceivedEvent.platform == platform, ReceivedEvent.event_id.in_(event_ids),
            ReceivedEvent.status == "processing").values(lease_until=now + LEASE))


def finish(session: Session, platform: str, event_id: str) -> None:
    """Mark a message answered, in the transaction that queues its reply."""
    session.execute(update(ReceivedEvent).where(
        ReceivedEvent.platform == platform, ReceivedEvent.event_id == event_id)
        .values(status="done", payload=None, lease_until=None))


def forget(engine: Engine, platform: str, event_id: str) -> None:
    """Drop a message whose handling failed, so that the platform's retry is taken in afresh."""
    with Session(engine, future=True) as session, session.begin():
        session.execute(delete(ReceivedEvent).where(
            ReceivedEvent.platform == platform, ReceivedEvent.event_id == event_id))


def orphans(engine: Engine, platform: str, now: datetime, limit: int = 100) -> list[tuple[str, dict]]:
    """Take the messages nobody is handling any more, oldest first: (event id, payload) each."""
    taken = []
    with Session(engine, future=True) as session, session.begin():
        rows = session.execute(select(ReceivedEvent.id, ReceivedEvent.event_id, ReceivedEvent.payload).where(
            ReceivedEvent.platform == platform, ReceivedEvent.status == "processing",
            ReceivedEvent.payload.is_not(None), _expired(now)).order_by(ReceivedEvent.id).limit(limit)).all()
        for row_id, event_id, payload in rows:
            mine = session.execute(update(ReceivedEvent).where(ReceivedEvent.id == row_id, _expired(now))
                                   .values(lease_until=now + LEASE))
            if mine.rowcount == 1:
                taken.append((event_id, payload))
    return taken


def cursor(engine: Engine, platform: str, account: str) -> str | None:
    """Where `account`'s message stream was read up to; None before its first read."""
    with Session(engine, future=True) as session:
        return session.scalar(select(SyncCursor.cursor).where(SyncCursor.platform == platform,
                                                              SyncCursor.account == account))


def move_cursor(engine: Engine, platform: str, account: str, position: str, now: datetime) -> None:
    """Keep `position` as where the stream was read up to (after recording what it covers)."""
    values = {"cursor": position, "updated_at": now}
    with Session(engine, future=True) as session, session.begin():
        moved = session.execute(update(SyncCursor).where(SyncCursor.platform == platform,
                                                         SyncCursor.account == account).values(**values))
        if moved.rowcount == 0:
            session.add(SyncCursor(platform=platform, account=account, **values))


def accounts(engine: Engine, platform: str) -> list[str]:
    """The accounts whose streams have been read (to read on from after a restart)."""
    with Session(engine, future=True) as session:
        return list(session.scalars(select(SyncCursor.account).where(SyncCursor.platform == platform)
                                    .order_by(SyncCursor.account)))
