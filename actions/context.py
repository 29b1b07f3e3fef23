"""What every action needs from its tracker and the project: the resident and the database."""
from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from bot.conversations import Resident, resident_from
from bot.db import shared_engine


def database() -> Session:
    """A session on the shared database (the tickets, the org directory, the outbox)."""
    return Session(shared_engine(), future=True)


def resident_of(tracker: Tracker) -> Resident:
    """The resident who sent the tracker's latest message, with their group from its metadata."""
    return resident_from(tracker.sender_id, tracker.latest_message.get("metadata"))
