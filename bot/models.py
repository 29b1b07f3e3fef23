"""The data: the org directory (组织架构), tickets (工单), the outbox (待发消息) and staff accounts.

Plain `Column` declarations (SQLAlchemy 1.4, used in 2.0 style). Times are naive UTC.
"""
from sqlalchemy import (JSON, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.orm import backref, declarative_base, relationship

Base = declarative_base()


class Subdistrict(Base):
    """街道, with its party working committee secretary (街道"大工委"书记)."""
    __tablename__ = "subdistricts"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    secretary_name = Column(String(50))
    secretary_phone = Column(String(30))
    secretary_ids = Column(JSON, nullable=False, default=dict)  # platform → user id
    communities = relationship("Community", back_populates="subdistrict", order_by="Community.name")


class Community(Base):
    """社区, with its party committee secretary (社区"大党委"书记)."""
    __tablename__ = "communities"
    id = Column(Integer, primary_key=True)
    subdistrict_id = Column(ForeignKey("subdistricts.id", ondelete="CASCADE"), nullable=False)
    name = Column(String(100), nullable=False, unique=True)
    secretary_name = Column(String(50))
    secretary_phone = Column(String(30))
    secretary_ids = Column(JSON, nullable=False, default=dict)
    office_hours = Column(String(100))
    subdistrict = relationship("Subdistrict", back_populates="communities")
    grids = relationship("Grid", back_populates="community", order_by="Grid.name")


class Grid(Base):
    """网格, with its grid worker (网格员)."""
    __tablename__ = "grids"
    __table_args__ = (UniqueConstraint("community_id", "name"),)
    id = Column(Integer, primary_key=True)
    community_id = Column(ForeignKey("communities.id", ondelete="CASCADE"), nullable=False)
    name = Column(String(100), nullable=False)
    worker_name = Column(String(50))
    worker_phone = Column(String(30))
    worker_ids = Column(JSON, nullable=False, default=dict)
    community = relationship("Community", back_populates="grids")
    compounds = relationship("Compound", back_populates="grid", order_by="Compound.name")


class Compound(Base):
    """小区: its party branch (党支部) and secretary, property company (物业), owners' committee (业委会)."""
    __tablename__ = "compounds"
    id = Column(Integer, primary_key=True)
    grid_id = Column(ForeignKey("grids.id", ondelete="CASCADE"), nullable=False)
    name = Column(String(100), nullable=False, unique=True)
    branch_name = Column(String(100))
    secretary_name = Column(String(50))
    secretary_phone = Column(String(30))
    secretary_ids = Column(JSON, nullable=False, default=dict)
    property_company = Column(String(100))
    property_hotline = Column(String(30))
    owners_committee_name = Column(String(50))
    owners_committee_phone = Column(String(30))
    grid = relationship("Grid", back_populates="compounds")
    aliases = relationship("CompoundAlias", back_populates="compound", cascade="all, delete-orphan")
    buildings = relationship("Building", back_populates="compound", cascade="all, delete-orphan",
                             order_by="Building.number")


class CompoundAlias(Base):
    """Another name residents use for a compound (金御城小区, 金御)."""
    __tablename__ = "compound_aliases"
    id = Column(Integer, primary_key=True)
    compound_id = Column(ForeignKey("compounds.id", ondelete="CASCADE"), nullable=False)
    alias = Column(String(100), nullable=False, unique=True)
    compound = relationship("Compound", back_populates="aliases")


class Building(Base):
    """楼栋, with its building leader (楼栋长). `number` is normalised: 7, 12, B."""
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("compound_id", "number"),)
    id = Column(Integer, primary_key=True)
    compound_id = Column(ForeignKey("compounds.id", ondelete="CASCADE"), nullable=False)
    number = Column(String(20), nullable=False)
    leader_name = Column(String(50))
    leader_phone = Column(String(30))
    leader_ids = Column(JSON, nullable=False, default=dict)
    compound = relationship("Compound", back_populates="buildings")


class Hotline(Base):
    """An emergency or service number (燃气抢修, 电梯维保 …) for a whole site, a community or a compound."""
    __tablename__ = "hotlines"
    __table_args__ = (UniqueConstraint("scope", "scope_name", "kind"),)
    id = Column(Integer, primary_key=True)
    scope = Column(String(20), nullable=False)  # site, community, compound
    scope_name = Column(String(100), nullable=False, default="")
    kind = Column(String(40), nullable=False)  # gas_company, lift_company, heat_company …
    name = Column(String(100))
    number = Column(String(30), nullable=False)


class GroupBinding(Base):
    """A chat group bound to the compound it serves (群绑定)."""
    __tablename__ = "group_bindings"
    __table_args__ = (UniqueConstraint("platform", "group_id"),)
    id = Column(Integer, primary_key=True)
    platform = Column(String(20), nullable=False)
    group_id = Column(String(200), nullable=False)
    compound_id = Column(ForeignKey("compounds.id", ondelete="CASCADE"), nullable=False)
    compound = relationship("Compound")


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


user_communities = Table(
    "user_communities", Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("community_id", ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True))

user_compounds = Table(
    "user_compounds", Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("compound_id", ForeignKey("compounds.id", ondelete="CASCADE"), primary_key=True))


class User(Base):
    """A staff account for the console (工作人员账号): admin (管理员), community staff (社区工作者,
    their communities) or branch secretary (小区党支部书记, their compounds)."""
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    username = Column(String(50), nullable=False, unique=True)
    password_hash = Column(String(200), nullable=False)  # Argon2id (older accounts: scrypt), see bot/users.py
    role = Column(String(30), nullable=False)  # admin, community_staff, branch_secretary
    created_at = Column(DateTime, nullable=False)
    last_login_at = Column(DateTime)
    disabled_at = Column(DateTime)  # set: the account may not log in (停用)
    communities = relationship("Community", secondary=user_communities, order_by="Community.name")
    compounds = relationship("Compound", secondary=user_compounds, order_by="Compound.name")


class ConsoleSession(Base):
    """A login to the console: its random id is all the session cookie holds, so ending the row
    (退出, or an admin ending the user's sessions) ends every copy of that cookie."""
    __tablename__ = "console_sessions"
    id = Column(String(64), primary_key=True)
    user_id = Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)
    last_seen_at = Column(DateTime, nullable=False)
    ended_at = Column(DateTime)


class LoginFailure(Base):
    """A wrong password (or unknown user name) from one client, kept while it still counts
    towards refusing that client (see bot/users.py)."""
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_client_at", "client", "at"),)
    id = Column(Integer, primary_key=True)
    username = Column(String(100), nullable=False)  # as typed: unknown names count like real ones
    client = Column(String(64), nullable=False)  # the remote address
    at = Column(DateTime, nullable=False, index=True)


class Handoff(Base):
    """A resident's conversation handed to staff (转人工): the bot is silent for that resident
    (Rasa's conversation pause) until a staff member hands it back."""
    __tablename__ = "handoffs"
    id = Column(Integer, primary_key=True)
    sender_id = Column(String(300), nullable=False, index=True)  # the Rasa conversation
    platform = Column(String(20), nullable=False)
    group_id = Column(String(200))  # None in a one-to-one chat
    user_id = Column(String(200), nullable=False)
    display_name = Column(String(100))
    compound_id = Column(ForeignKey("compounds.id", ondelete="SET NULL"), index=True)  # None: admins only
    reason = Column(String(20), nullable=False)  # asked, not_understood, urgent
    status = Column(String(20), nullable=False, default="waiting", index=True)  # waiting, taken, returned
    taken_by_id = Column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at = Column(DateTime, nullable=False)
    taken_at = Column(DateTime)
    returned_at = Column(DateTime)
    last_message = Column(Text)  # what the resident said when the bot handed over
    ticket_id = Column(ForeignKey("tickets.id", ondelete="SET NULL"))
    compound = relationship("Compound")
    taken_by = relationship("User")
    ticket = relationship("Ticket")


class Volunteer(Base):
    """A party member volunteer (党员志愿者) registered with the compound they live in (党员回家报到):
    pending until the compound's branch secretary confirms (or rejects) it in the console."""
    __tablename__ = "volunteers"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)
    id = Column(Integer, primary_key=True)
    platform = Column(String(20), nullable=False)
    user_id = Column(String(200), nullable=False)
    sender_id = Column(String(300), nullable=False)  # their one-to-one conversation with the bot
    name = Column(String(50), nullable=False)
    compound_id = Column(ForeignKey("compounds.id"), nullable=False, index=True)
    work_unit = Column(String(100), nullable=False)
    skills = Column(JSON, nullable=False, default=list)  # skill ids of bot.skills.SKILLS
    status = Column(String(20), nullable=False, default="pending", index=True)  # pending, confirmed, rejected
    registered_at = Column(DateTime, nullable=False)
    decided_at = Column(DateTime)
    decided_by = Column(String(100))
    compound = relationship("Compound")


class VolunteerTask(Base):
    """A ticket offered to volunteers (组织建单、党员接单): open, claimed by one volunteer, done
    (the volunteer says so), confirmed (by the resident's answer or the secretary), which credits points."""
    __tablename__ = "volunteer_tasks"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, unique=True)
    compound_id = Column(ForeignKey("compounds.id"), nullable=False, index=True)
    skills = Column(JSON, nullable=False, default=list)  # skills that fit; empty: anyone
    weight = Column(Float, nullable=False, default=1.0)  # points per hour ÷ POINTS_PER_HOUR
    status = Column(String(20), nullable=False, default="open", index=True)  # open, claimed, done, confirmed
    offered_at = Column(DateTime, nullable=False)
    offered_by = Column(String(100))
    volunteer_id = Column(ForeignKey("volunteers.id"), index=True)
    claimed_at = Column(DateTime)
    claim_due_at = Column(DateTime, index=True)
    done_at = Column(DateTime)
    note = Column(Text)
    hours = Column(Float)
    confirmed_at = Column(DateTime)
    confirmed_by = Column(String(100))
    rating = Column(String(20))  # the resident's satisfaction answer, when they confirmed
    ticket = relationship("Ticket")
    compound = relationship("Compound")
    volunteer = relationship("Volunteer")


class PointsEntry(Base):
    """One line of a volunteer's points ledger (积分流水): points earned for a confirmed task
    (at most one line per task) or spent in an exchange (negative, with the reason)."""
    __tablename__ = "volunteer_points"
    __table_args__ = (UniqueConstraint("task_id"),)
    id = Column(Integer, primary_key=True)
    volunteer_id = Column(ForeignKey("volunteers.id"), nullable=False, index=True)
    at = Column(DateTime, nullable=False, index=True)
    points = Column(Integer, nullable=False)
    task_id = Column(ForeignKey("volunteer_tasks.id"))
    reason = Column(Text, nullable=False)
    actor = Column(String(100))
    volunteer = relationship("Volunteer")
    task = relationship("VolunteerTask")


class FaqEntry(Base):
    """One entry of the FAQ (常见问题) the bot answers from: imported from a FAQ file (its `id` is
    `key`) and kept by staff in the console. `community` None: for every community."""
    __tablename__ = "faq_entries"
    id = Column(Integer, primary_key=True)
    key = Column(String(64), nullable=False, unique=True)
    community = Column(String(100), index=True)
    answer = Column(Text, nullable=False)
    contact = Column(String(200))
    link = Column(String(500))
    position = Column(Integer, nullable=False, default=0)  # the file's order
    updated_at = Column(DateTime, nullable=False)
    updated_by = Column(String(100))
    questions = relationship("FaqQuestion", back_populates="entry", order_by="FaqQuestion.id",
                             cascade="all, delete-orphan")


class FaqQuestion(Base):
    """One way residents ask an entry: from the file, added by staff, or a resident's own words
    staff added from the questions the bot could not answer."""
    __tablename__ = "faq_questions"
    __table_args__ = (UniqueConstraint("entry_id", "text"),)
    id = Column(Integer, primary_key=True)
    entry_id = Column(ForeignKey("faq_entries.id", ondelete="CASCADE"), nullable=False, index=True)
    text = Column(String(500), nullable=False)
    source = Column(String(20), nullable=False, default="file")  # file, console, resident
    added_at = Column(DateTime, nullable=False)
    entry = relationship("FaqEntry", back_populates="questions")


class FaqAsked(Base):
    """A question residents asked that the FAQ did not answer directly: suggestions (猜你想问)
    or "not sure", counted per community, until staff add it to an entry."""
    __tablename__ = "faq_asked"
    __table_args__ = (UniqueConstraint("community", "text"),)
    id = Column(Integer, primary_key=True)
    text = Column(String(500), nullable=False)
    community = Column(String(100), nullable=False, default="")  # "": the resident's community unknown
    outcome = Column(String(20), nullable=False)  # suggested, not_sure (the latest)
    count = Column(Integer, nullable=False, default=1)
    first_at = Column(DateTime, nullable=False)
    last_at = Column(DateTime, nullable=False, index=True)
    added_to_id = Column(ForeignKey("faq_entries.id", ondelete="SET NULL"))  # set once staff added it
    added_to = relationship("FaqEntry")


class FaqChange(Base):
    """One change to the FAQ, who and when (the FAQ's timeline); the latest id is the FAQ's
    version, which the bot checks before each question."""
    __tablename__ = "faq_changes"
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False)
    actor = Column(String(100))
    entry_key = Column(String(64), index=True)
    action = Column(String(30), nullable=False)  # imported, entry_added, answer_edited, question_added, question_removed, entry_removed
    detail = Column(Text)


class WorkerHeartbeat(Base):
    """The escalation clock's last beat, one row per host it runs on (心跳): staff see on the
    console's /health whether the clock still runs, before any ticket is late for want of it."""
    __tablename__ = "worker_heartbeats"
    host = Column(String(200), primary_key=True)
    beat_at = Column(DateTime, nullable=False)
    every_seconds = Column(Float, nullable=False)  # the beat interval: a beat missed three times is late


class ResidentCompound(Base):
    """The compound a resident of a one-to-one channel (公众号, 微信客服, a direct chat) last filed
    in or named (常住小区): offered back when they report again (`bot.resident_compounds`)."""
    __tablename__ = "resident_compounds"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)
    id = Column(Integer, primary_key=True)
    platform = Column(String(20), nullable=False)
    user_id = Column(String(200), nullable=False)
    compound_id = Column(ForeignKey("compounds.id", ondelete="CASCADE"), nullable=False)
    confirmed_at = Column(DateTime, nullable=False)  # when the resident last filed there or named it
    compound = relationship("Compound")


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
    status = Column(String(20), nullable=False, default="queued", index=True)  # seen, queued, stored, refused, failed, deleted
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
