"""随手拍 files on the console's test site: a resident's photo and voice message, kept as the
fetch loop keeps them, attached to a ticket (or only to a 转人工 conversation)."""
import secrets

from sqlalchemy.orm import Session

from bot import media_files
from bot.clock import utc_now
from bot.models import TicketMedia
from media_samples import amr_voice, jpeg_with_gps


def kept_file(engine, kind: str, ticket_id: int | None, sender_id: str, status: str = "stored") -> str:
    """A file of `kind` as the fetch loop leaves it; returns its token."""
    prepared = media_files.prepare(kind, jpeg_with_gps() if kind == "image" else amr_voice())
    file_name, thumb_name = media_files.save(prepared)
    token = secrets.token_urlsafe(32)
    with Session(engine, future=True) as session, session.begin():
        session.add(TicketMedia(token=token, platform="wecom", event_id=secrets.token_hex(8), position=0,
                                sender_id=sender_id, user_id=sender_id.rsplit(":", 1)[-1], display_name="alice",
                                kind=kind, addressed=True, received_at=utc_now(), status=status,
                                ticket_id=ticket_id, attempts=1, file_name=file_name, thumb_name=thumb_name,
                                content_type=prepared.content_type, size=len(prepared.body)))
    return token
