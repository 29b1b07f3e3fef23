"""The staff (工作人员): console accounts and what they may see, their logins, wrong passwords, and
the conversations handed to them (转人工)."""
from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import relationship

from bot.models.base import Base


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
