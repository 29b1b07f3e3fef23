"""Party member volunteers (党员志愿者): their registration, the tasks offered to them, their
points."""
from sqlalchemy import JSON, Column, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from bot.models.base import Base


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
