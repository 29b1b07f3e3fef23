"""The one notifier (通知): every message the bot owes someone is an outbox row first.

`notify` writes the row in the caller's transaction, so a ticket and the news about it commit
together. `deliver_due` sends what is due through the platform senders (the connectors) and
retries failures with backoff; a row is never dropped. Rows for one recipient go out in order,
and a backlog goes out at once: each recipient's next row right after the one before it, and
every row waiting out its backoff as soon as the platform takes a message again.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.models import OutboxMessage

log = logging.getLogger(__name__)

# async send(message) for a row's recipient, text and context; raises on failure
Sender = Callable[[OutboxMessage], Awaitable[None]]

LEASE = timedelta(minutes=2)  # a claimed row is retried after this if its sender never reports back
MAX_BACKOFF = timedelta(hours=1)
# After this many failed tries (about half a day) a row is parked as "failed" for staff to see,
# so that one undeliverable message does not hold back everything after it for that recipient.
MAX_ATTEMPTS = 20


def notify(session: Session, recipient: str, text: str, now: datetime,
           ticket_id: int | None = None, context: dict | None = None) -> OutboxMessage:
    """Queue `text` for `recipient` (`<platform>:<group id>:<user id>` or `<platform>:dm:<user id>`)."""
    message = OutboxMessage(created_at=now, recipient=recipient, text=text, ticket_id=ticket_id,
                            status="pending", attempts=0, next_attempt_at=now, context=context)
    session.add(message)
    return message


def last_context(session: Session, recipient: str) -> dict | None:
    """The context of the latest message queued for `recipient` (its conversation's reply handle,
    mention, 客服账号 …), for a message about the same conversation that comes from elsewhere."""
    return session.scalars(select(OutboxMessage.context).where(OutboxMessage.recipient == recipient)
                           .order_by(OutboxMessage.id.desc())).first()


def platform_of(recipient: str) -> str:
    return recipient.split(":", 1)[0]


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … up to an hour between tries."""
    return min(timedelta(seconds=5 * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


def _claim(engine: Engine, platforms: set[str], now: datetime, limit: int,
           recipient: str | None = None) -> list[OutboxMessage]:
    """Take the due rows whose sender is here, first in line for their recipient, and lease them."""
    if not platforms:
        return []
    # Only these platforms' rows: a loop need not read (or lock) the rows it cannot send.
    query = select(OutboxMessage).where(OutboxMessage.status == "pending", or_(
        *(OutboxMessage.recipient.like(f"{platform}:%") for platform in sorted(platforms))))
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    with Session(engine, future=True, expire_on_commit=False) as session, session.begin():
        # Wait for rows another process is claiming (no SKIP LOCKED): skipping a recipient's first
        # row would make its second look first in line and go out ahead of it.
        pending = session.scalars(query.order_by(OutboxMessage.id).with_for_update()).all()
        claimed, waiting = [], set()
        for message in pending:
            first_in_line = message.recipient not in waiting
            waiting.add(message.recipient)
            if first_in_line and message.next_attempt_at <= now and len(claimed) < limit:
                message.attempts += 1
                message.next_attempt_at = now + LEASE
                message.last_error = None  # in flight; a row with an error is waiting out a backoff
                claimed.append(message)
        return claimed


def _finish(engine: Engine, message: OutboxMessage, error: Exception | None, now: datetime) -> None:
    with Session(engine, future=True) as session, session.begin():
        if error is None:
            values = {"status": "sent", "sent_at": now, "last_error": None}
        else:
            values = {"next_attempt_at": now + backoff(message.attempts),
                      "last_error": f"{error.__class__.__name__}: {error}"[:500]}
            if message.attempts >= MAX_ATTEMPTS:
                values["status"] = "failed"
                log.error("outbox %s to %s parked as failed after %s tries", message.id,
                          platform_of(message.recipient), message.attempts)
        session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))


# A platform whose last tries all failed is taken to be down, not refusing one recipient: its
# first success after this many failures in a row sends at once what waits out a backoff.
DOWN_AFTER_FAILURES = 3
_failures_in_a_row: dict[str, int] = {}


def _retry_now(engine: Engine, platform: str, now: datetime) -> None:
    """The platform takes messages again: what waits out a backoff is due now, not in an hour."""
    with Session(engine, future=True) as session, session.begin():
        session.execute(update(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.recipient.like(f"{platform}:%"),
            OutboxMessage.last_error.is_not(None), OutboxMessage.next_attempt_at > now)
            .values(next_attempt_at=now).execution_options(synchronize_session=False))


async def deliver_due(engine: Engine, senders: dict[str, Sender], now: datetime,
                      limit: int = 100, recipient: str | None = None) -> int:
    """Send every due row that a sender exists for (only `recipient`'s when given), in order per
    recipient, until nothing is due; returns how many went out."""
    sent = 0  # the database work in threads: a server's event loop goes on meanwhile
    while claimed := await asyncio.to_thread(_claim, engine, set(senders), now, limit, recipient):
        for message in claimed:
            platform = platform_of(message.recipient)
            try:
                await senders[platform](message)
            except Exception as error:  # noqa: BLE001 - any failure is retried later, never lost
                log.warning("outbox %s to %s failed (try %s): %s", message.id, platform, message.attempts,
                            error.__class__.__name__)
                _failures_in_a_row[platform] = _failures_in_a_row.get(platform, 0) + 1
                await asyncio.to_thread(_finish, engine, message, error, now)
            else:
                await asyncio.to_thread(_finish, engine, message, None, now)
                sent += 1
                if _failures_in_a_row.pop(platform, 0) >= DOWN_AFTER_FAILURES:
                    await asyncio.to_thread(_retry_now, engine, platform, now)
    return sent
