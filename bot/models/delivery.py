"""Messages out and in: the outbox (待发消息), the platform callbacks taken in (收件) and a
platform's read cursor; and the heartbeat of the worker that drives them."""
from sqlalchemy import JSON, Column, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint

from bot.models.base import Base


class OutboxMessage(Base):
    """A message the bot owes someone (待发消息): written first, delivered and retried later."""
    __tablename__ = "outbox"
    id = Column(Integer, primary_key=True)
    created_at = Column(DateTime, nullable=False)
    recipient = Column(String(300), nullable=False)  # <platform>:<group id>:<user id> or <platform>:dm:<user id>
    text = Column(Text, nullable=False)
    ticket_id = Column(ForeignKey("tickets.id", ondelete="SET NULL"))
    status = Column(String(20), nullable=False, default="pending", index=True)  # pending, sent, failed
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, index=True)
    last_error = Column(Text)
    sent_at = Column(DateTime)
    # what the platform needs to answer in the same conversation (a DingTalk session webhook …)
    context = Column(JSON)


class ReceivedEvent(Base):
    """A platform callback taken in (收件): the queue of messages to answer, and the dedup that
    keeps a platform that retries from making the bot answer or file twice, across restarts.

    While a server handles the message it renews `lease_until`; a message whose lease ran out
    (its server died, or the request that brought it was cut off) is taken again, from `payload`.
    """
    __tablename__ = "received_events"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)
    id = Column(Integer, primary_key=True)
    platform = Column(String(20), nullable=False)
    event_id = Column(String(200), nullable=False)
    received_at = Column(DateTime, nullable=False)
    status = Column(String(20), nullable=False, default="processing", index=True)  # processing, done
    payload = Column(JSON(none_as_null=True))  # the message (connectors.group_chat.Incoming) until it is done
    lease_until = Column(DateTime)


class WorkerHeartbeat(Base):
    """The escalation clock's last beat, one row per host it runs on (心跳): staff see on the
    console's /health whether the clock still runs, before any ticket is late for want of it."""
    __tablename__ = "worker_heartbeats"
    host = Column(String(200), primary_key=True)
    beat_at = Column(DateTime, nullable=False)
    every_seconds = Column(Float, nullable=False)  # the beat interval: a beat missed three times is late


class SyncCursor(Base):
    """How far a platform's message stream has been read (拉取游标), for platforms whose callback
    only says "there is news" (微信客服's `kf/sync_msg`): a restart reads on from here."""
    __tablename__ = "sync_cursors"
    __table_args__ = (UniqueConstraint("platform", "account"),)
    id = Column(Integer, primary_key=True)
    platform = Column(String(20), nullable=False)
    account = Column(String(200), nullable=False)  # the stream's owner: a 客服账号's open_kfid
    cursor = Column(String(500), nullable=False)
    updated_at = Column(DateTime, nullable=False)
