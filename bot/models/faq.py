"""The FAQ (常见问题): its entries and the ways residents ask them, the questions it could not
answer, and its changes."""
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from bot.models.base import Base


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
    or "not sure", counted per community, until staff add it to an entry. When the resident chose
    one of the suggestions, `picked` is that entry: the likeliest one for staff to add it to."""
    __tablename__ = "faq_asked"
    __table_args__ = (UniqueConstraint("community", "text"),)
    id = Column(Integer, primary_key=True)
    text = Column(String(500), nullable=False)
    community = Column(String(100), nullable=False, default="")  # "": the resident's community unknown
    outcome = Column(String(20), nullable=False)  # suggested, not_sure, picked (the latest)
    count = Column(Integer, nullable=False, default=1)
    first_at = Column(DateTime, nullable=False)
    last_at = Column(DateTime, nullable=False, index=True)
    added_to_id = Column(ForeignKey("faq_entries.id", ondelete="SET NULL"))  # set once staff added it
    added_to = relationship("FaqEntry", foreign_keys=[added_to_id])
    picked_id = Column(ForeignKey("faq_entries.id", ondelete="SET NULL"))  # the suggestion chosen, the latest
    picked = relationship("FaqEntry", foreign_keys=[picked_id])


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
