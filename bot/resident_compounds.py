"""常住小区: the compound of a resident on a one-to-one channel, remembered between visits.

A group is bound to its compound; a resident who writes to the Official Account, to 微信客服 or
in a direct chat is asked once, and the compound they file in, or name on its own (answering the
welcome's question), is kept here. While they go on talking it is used as it is; when they come
back after `SAME_VISIT` it is offered back ("还是翠湖湾吗？") instead of used silently: this time
they may be reporting for their parents' compound, and a ticket filed in the wrong compound
reaches the wrong branch secretary.
"""
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import org
from bot.conversations import Resident
from bot.models import ResidentCompound

SAME_VISIT = timedelta(hours=12)
LONGEST_NAME = 16  # a message longer than a compound's name (with 小区) is not a name on its own


def _row(session: Session, resident: Resident) -> ResidentCompound | None:
    return session.scalars(select(ResidentCompound).where(ResidentCompound.platform == resident.platform,
                                                          ResidentCompound.user_id == resident.user_id)).first()


def recalled(session: Session, context):
    """`context` (a `bot.turn.Context`) with its one-to-one resident's compound: in use during the
    visit (`remembered_compound`), offered back after it (`offered_compound`). Unchanged in a
    group, and for a resident the database has no compound for."""
    if context.resident.group_id is not None:
        return context
    row = _row(session, context.resident)
    if row is None:
        return context
    if context.now - row.confirmed_at < SAME_VISIT:
        return replace(context, remembered_compound=row.compound.name)
    return replace(context, remembered_compound=None, offered_compound=row.compound.name)


def keep(session: Session, resident: Resident, text: str, remembered: str | None, now: datetime) -> None:
    """Remember the compound a one-to-one turn filed in or went on with, else the one the message
    is the name of (a reply to "您住在哪个小区？")."""
    if resident.group_id is not None:
        return
    if remembered:
        compound = org.find_compound(session, remembered)
    else:
        compound = org.find_compound(session, text) if len(text.strip()) <= LONGEST_NAME else None
    if compound is None:
        return
    row = _row(session, resident)
    if row is None:
        session.add(ResidentCompound(platform=resident.platform, user_id=resident.user_id, compound=compound,
                                     confirmed_at=now))
    else:
        row.compound, row.confirmed_at = compound, now
