"""随手拍 in the console: the photos, voice messages and videos residents sent, served to staff.

A file is reached only by its random token (`TicketMedia.token`): nothing in its URL counts up
or names a ticket, so no address can be guessed from another. It is served to a logged-in user
whose scope holds its compound (its ticket's, else its 转人工 conversation's or its group's;
admins only when none is known), refused with 403 to anyone else, and never cached by a shared
proxy. `with_media` puts a conversation's files into its transcript where they were sent.
"""
import logging
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy.orm import Session

from bot import media, media_files
from console.auth import current_user
from console.keys import ENGINE
from console.scope import can_see_compound

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
TOKEN = "{token:[A-Za-z0-9_-]{16,64}}"


@dataclass(frozen=True)
class MediaLine:
    """A file in a transcript, beside `bot.handoff.Line`s: who sent it, when, how to show it."""
    at: datetime
    name: str | None
    file: "Shown"
    who: str = "media"
    text: str = ""


@dataclass(frozen=True)
class Shown:
    """What a template needs of one file (read while the database session is open)."""
    token: str
    kind: str
    status: str
    note: str | None
    has_thumb: bool

    @property
    def kind_zh(self) -> str:
        return media.KINDS.get(self.kind, ("文件", "个"))[0]


def shown(row) -> Shown:
    return Shown(row.token, row.kind, row.status, row.note, bool(row.thumb_name))


def of_ticket(ticket) -> list[Shown]:
    """A ticket's files for its page (the ticket read in an open session)."""
    return [shown(row) for row in ticket.media if row.status != "seen"]


def with_media(session: Session, sender_id: str, lines: list) -> list:
    """The transcript `lines` with the conversation's files among them, in the order they came."""
    files = [MediaLine(row.received_at, row.display_name, shown(row))
             for row in media.of_conversation(session, sender_id)]
    return sorted([*lines, *files], key=lambda line: line.at)


def _serve(request: web.Request, thumbnail: bool) -> web.StreamResponse:
    user = current_user(request)
    with Session(request.app[ENGINE], future=True) as session:
        row = media.by_token(session, request.match_info["token"])
        if row is None or row.status != "stored":
            raise web.HTTPNotFound(text="没有这个文件，或已过保存期限被删除。")
        if not can_see_compound(user, media.compound_id_of(session, row)):
            log.warning("media %s refused to %s: outside their scope", row.id, user.username)
            raise web.HTTPForbidden(text="这个文件不在您负责的范围内。")
        use_thumb = thumbnail and row.thumb_name is not None
        name = row.thumb_name if use_thumb else row.file_name
        content_type = "image/jpeg" if use_thumb else row.content_type
    path = media_files.path_of(name)
    if path is None:
        log.error("media file %s is missing from MEDIA_DIR", name)
        raise web.HTTPNotFound(text="文件已不在存储目录中，请联系管理员。")
    return web.FileResponse(path, headers={
        "Content-Type": content_type, "Content-Disposition": "inline",
        "Cache-Control": "private, max-age=3600"})  # the browser may keep it; no proxy between


@routes.get(f"/media/{TOKEN}", name="media")
async def media_file(request: web.Request) -> web.StreamResponse:
    return _serve(request, thumbnail=False)


@routes.get(f"/media/{TOKEN}/thumb", name="media_thumb")
async def media_thumbnail(request: web.Request) -> web.StreamResponse:
    return _serve(request, thumbnail=True)


def setup(app: web.Application) -> None:
    app.add_routes(routes)
