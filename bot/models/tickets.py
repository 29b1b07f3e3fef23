"""Tickets (工单): the households that reported each, its timeline, and the photos, voice
messages and videos attached to it (随手拍)."""
from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import backref, relationship

from bot.models.base import Base


class Ticket(Base):
    """工单. `id` is the short number residents quote (#1024)."""
    __tablename__ = "tickets"
    id = Column(Integer, primary_key=True)
    category = Column(String(40), nullable=False, index=True)
    urgent = Column(Boolean, nullable=False, default=False)
    text = Column(Text, nullable=False)
    compound_id = Column(ForeignKey("compounds.id"), nullable=False, index=True)
    building = Column(String(20))
    unit = Column(String(20))
    room = Column(String(20))
    status = Column(String(20), nullable=False, default="new", index=True)
    level = Column(String(20), nullable=False, default="grid")
    assignee_name = Column(String(50))
    assignee_phone = Column(String(30))
    created_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)
    due_at = Column(DateTime, nullable=False, index=True)
    resolved_at = Column(DateTime)
    overdue = Column(Boolean, nullable=False, default=False)
    compound = relationship("Compound")
    reporters = relationship("Reporter", back_populates="ticket", cascade="all, delete-orphan",
                             order_by="Reporter.id")
    timeline = relationship("TimelineEntry", back_populates="ticket", cascade="all, delete-orphan",
                            order_by="TimelineEntry.id")


class Reporter(Base):
    """A household that reported the ticket's problem (反映人), and its satisfaction answer."""
    __tablename__ = "reporters"
    __table_args__ = (UniqueConstraint("ticket_id", "platform", "user_id"),)
    id = Column(Integer, primary_key=True)
    ticket_id = Column(ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    platform = Column(String(20), nullable=False)
    user_id = Column(String(200), nullable=False)
    display_name = Column(String(100))
    sender_id = Column(String(300), nullable=False)  # the Rasa conversation to answer in
    text = Column(Text, nullable=False)
    reported_at = Column(DateTime, nullable=False)
    satisfaction = Column(String(20))  # satisfied, basically_satisfied, unsatisfied
    satisfaction_asked_at = Column(DateTime)
    satisfaction_at = Column(DateTime)
    ticket = relationship("Ticket", back_populates="reporters")


class TimelineEntry(Base):
    """One change to a ticket and why (工单流转记录)."""
    __tablename__ = "ticket_timeline"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    at = Column(DateTime, nullable=False)
    event = Column(String(30), nullable=False)  # filed, joined, escalated, status, rated, note
    status = Column(String(20))
    level = Column(String(20))
    reason = Column(Text)
    actor = Column(String(100))
    ticket = relationship("Ticket", back_populates="timeline")


class TicketMedia(Base):
    """A photo, voice message or short video a resident sent (随手拍), attached to their ticket.

    A row is written when the message comes in, with what the platform needs to hand the file
    over (`ref`); the Rasa server's fetch loop downloads it, checks and re-encodes it and keeps it
    under MEDIA_DIR (`file_name`), retrying like the outbox. `token` is the only name the console
    serves it by: random, so no URL can be guessed. A photo seen in a group but not addressed to
    the bot is only noted (`seen`), and fetched only if a report of its sender takes it.
    """
    __tablename__ = "ticket_media"
    __table_args__ = (UniqueConstraint("platform", "event_id", "position"),)
    id = Column(Integer, primary_key=True)
    token = Column(String(64), nullable=False, unique=True)
    platform = Column(String(20), nullable=False)
    event_id = Column(String(200), nullable=False)  # the message it came in
    position = Column(Integer, nullable=False, default=0)  # its place among that message's files
    sender_id = Column(String(300), nullable=False, index=True)  # the Rasa conversation
    user_id = Column(String(200), nullable=False)
    display_name = Column(String(100))
    kind = Column(String(20), nullable=False)  # image, voice, video, file
    ref = Column(JSON(none_as_null=True))  # the platform's handle (media id, URL …) until fetched
    addressed = Column(Boolean, nullable=False, default=True)  # sent to the bot, not only seen in the group
    received_at = Column(DateTime, nullable=False, index=True)
    status = Column(String(20), nullable=False, default="queued", index=True)  # seen, queued, stored, refused, failed, withdrawn, deleted
    ticket_id = Column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    attached_at = Column(DateTime)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, index=True)
    last_error = Column(Text)
    file_name = Column(String(100))  # under MEDIA_DIR
    thumb_name = Column(String(100))
    content_type = Column(String(50))
    size = Column(Integer)  # bytes of the stored file
    note = Column(String(200))  # for staff, in Chinese: why it was not kept
    deleted_at = Column(DateTime)
    ticket = relationship("Ticket", backref=backref("media", order_by="TicketMedia.id"))
