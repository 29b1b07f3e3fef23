"""转人工 (handoff): a resident's conversation handed to community staff, and back to the bot.

The bot hands over when the resident asks for a person, after two messages in a row it could
not understand, and with an urgent report. The resident hears that a person will answer and
roughly when (the community's office hours); the compound's branch secretary and grid worker
are alerted through the outbox; the conversation waits in the console's queue. While staff have
it, the bot still files and acknowledges reports and answers status questions (`bot.turn`): a
resident at 3 a.m. is never left with nobody; everything else waits for staff in the transcript.

Staff replies go to the resident through the outbox like every bot reply (in a group, masked and
@-mentioning them with the context of the conversation's last outbox row). The transcript is
read from Rasa's SQL tracker store (the `events` table in the same database); what staff do to
the conversation itself (record a reply, resume the bot) goes through Rasa's HTTP API
(`RasaConversations`).
"""
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

import aiohttp
from sqlalchemy import Column, MetaData, Table, func, inspect, select
from sqlalchemy.orm import Session, selectinload
from yarl import URL

from bot import org, tickets
from bot.conversations import Resident
from bot.models import Compound, Handoff, OutboxMessage, Reporter, Ticket, User
from bot.notifier import last_context, notify
from bot.office_hours import OfficeHours, when_text
from bot.privacy import mask_sensitive
from bot.taxonomy import CATEGORIES

log = logging.getLogger(__name__)

REASONS = {"asked": "要求转人工", "not_understood": "连续两次没能听懂", "urgent": "反映了紧急情况"}
HANDOFF_STATUS_ZH = {"waiting": "等待接手", "taken": "处理中", "returned": "已交回小助手"}
OPEN_STATUSES = ("waiting", "taken")
REPLY_WITHIN_MINUTES = 30  # what residents are promised inside office hours
MAX_REPLY = 1000  # characters in one staff reply
HANDED_BACK = "本次人工服务已结束，小助手继续为您服务。还有问题可以直接说。"
STAFF_PREFIX = "【社区工作人员】"


class HandoffError(ValueError):
    """A change the handoff's state does not allow (taking one someone else has …)."""


# --- the bot's side ------------------------------------------------------------------------------

def open_handoff(session: Session, sender_id: str) -> Handoff | None:
    """The conversation's handoff that staff have not handed back yet."""
    return session.scalars(select(Handoff).where(Handoff.sender_id == sender_id,
                                                 Handoff.status.in_(OPEN_STATUSES))
                           .order_by(Handoff.id.desc())).first()


def latest_ticket_of(session: Session, sender_id: str) -> Ticket | None:
    """The ticket this conversation reported last (the one just filed or joined)."""
    reporter = session.scalars(select(Reporter).where(Reporter.sender_id == sender_id)
                               .order_by(Reporter.reported_at.desc(), Reporter.id.desc())).first()
    return reporter.ticket if reporter else None


def start(session: Session, resident: Resident, reason: str, compound: Compound | None,
          last_message: str, now: datetime, ticket: Ticket | None = None) -> Handoff:
    """Hand the resident's conversation to staff (or keep the one already open) and alert them."""
    handoff = open_handoff(session, resident.sender_id)
    if handoff is not None:
        handoff.ticket = handoff.ticket or ticket
        return handoff
    handoff = Handoff(sender_id=resident.sender_id, platform=resident.platform, group_id=resident.group_id,
                      user_id=resident.user_id, display_name=resident.display_name, compound=compound,
                      reason=reason, status="waiting", created_at=now, last_message=last_message[:2000],
                      ticket=ticket)
    session.add(handoff)
    session.flush()
    _alert_staff(session, handoff, now)
    return handoff


def placed(session: Session, handoff: Handoff, compound: Compound | None, now: datetime) -> None:
    """A handoff opened before the resident's compound was known (an urgent report, asked which
    compound) now has it: its staff are told, as they would have been at the start."""
    if handoff.compound is None and compound is not None:
        handoff.compound = compound
        session.flush()  # the alert names the ticket the handoff now has
        _alert_staff(session, handoff, now)


def _alert_staff(session: Session, handoff: Handoff, now: datetime) -> None:
    """Tell the compound's branch secretary and grid worker that a resident is waiting."""
    compound = handoff.compound
    if compound is None:
        log.info("handoff %s has no compound: it waits in the console for admins", handoff.id)
        return
    text = (f"【转人工】{compound.name}的居民{handoff.display_name or handoff.user_id}"
            f"{REASONS[handoff.reason]}：“{handoff.last_message}”。请到工作台“转人工”回复。")
    for person in (org.branch_secretary(compound), org.grid_worker(compound.grid)):
        recipient = person.recipient(handoff.platform)
        if recipient:
            notify(session, recipient, text, now, handoff.ticket_id)
        else:
            log.warning("handoff %s: %s of %s has no platform id to alert", handoff.id, person.role, compound.name)


def _when(hours: OfficeHours, now: datetime) -> str:
    if hours.is_open(now):
        return f"工作人员会在{REPLY_WITHIN_MINUTES}分钟内在这里回复您"
    return (f"现在是非工作时间（办公时间{hours.text}），"
            f"工作人员会在{when_text(hours.next_opening(now), now)}上班后尽快回复您")


def notice(reason: str, hours: OfficeHours, now: datetime) -> str:
    """What the resident hears: a person will answer, roughly when, and what the bot still does."""
    first = {"asked": "好的，已为您转接社区工作人员。",
             "not_understood": "抱歉，我没能明白您的意思，已为您转接社区工作人员。",
             "urgent": "这件事已同时转给社区工作人员跟进。"}[reason]
    return f"{first}{_when(hours, now)}。在此期间有新的问题照样可以告诉小助手，我会先登记下来。"


def still_waiting(hours: OfficeHours, now: datetime) -> str:
    """A resident who asks for a person again while waiting for one."""
    return f"已经为您转接社区工作人员了，{_when(hours, now)}，请稍等。"


# --- the staff's side ------------------------------------------------------------------------------

def queue(session: Session, compound_ids: set[int] | None) -> list[Handoff]:
    """The open handoffs within `compound_ids` (None: all), the longest waiting first.
    A handoff without a compound is only in the unlimited (admin) queue."""
    query = (select(Handoff).where(Handoff.status.in_(OPEN_STATUSES)).order_by(Handoff.created_at, Handoff.id)
             .options(selectinload(Handoff.compound), selectinload(Handoff.taken_by)))
    if compound_ids is not None:
        query = query.where(Handoff.compound_id.in_(sorted(compound_ids)))
    return list(session.scalars(query))


def take(handoff: Handoff, user: User, now: datetime) -> None:
    """A staff member takes the conversation (接手)."""
    if handoff.status == "returned":
        raise HandoffError("这个对话已经交回小助手了。")
    if handoff.status == "taken" and handoff.taken_by_id != user.id:
        raise HandoffError(f"这个对话已由{handoff.taken_by.username if handoff.taken_by else '其他工作人员'}接手。")
    handoff.status, handoff.taken_by_id, handoff.taken_at = "taken", user.id, handoff.taken_at or now


def staff_text(text: str) -> str:
    """A staff reply as the resident gets it; ValueError for an empty or overlong one."""
    text = text.strip()
    if not text:
        raise ValueError("回复内容不能为空。")
    if len(text) > MAX_REPLY:
        raise ValueError(f"回复不能超过{MAX_REPLY}个字。")
    return STAFF_PREFIX + text


def send_to_resident(session: Session, handoff: Handoff, text: str, now: datetime) -> OutboxMessage:
    """Queue `text` for the resident in their group or one-to-one chat, in the same conversation
    context (mention, reply handle) as the bot's last message to them; masked in a group."""
    if handoff.group_id:
        text = mask_sensitive(text)
    return notify(session, handoff.sender_id, text, now, handoff.ticket_id, last_context(session, handoff.sender_id))


def reply(session: Session, handoff: Handoff, user: User, text: str, now: datetime) -> OutboxMessage:
    """A staff reply to the resident; replying takes a waiting conversation."""
    if handoff.status == "returned":
        raise HandoffError("这个对话已经交回小助手了。")
    message = staff_text(text)
    if handoff.status == "waiting":
        take(handoff, user, now)
    return send_to_resident(session, handoff, message, now)


def file_ticket(session: Session, handoff: Handoff, category: str, text: str, user: User,
                now: datetime, building: str | None = None, unit: str | None = None, room: str | None = None,
                urgent: bool = False) -> tickets.Filing:
    """File a ticket for the resident from the conversation (or join the open one on the same
    problem in the same building), link it, and send the resident the receipt. The building,
    unit and room are numbers as the directory keeps them ("7", "C"), None when not known."""
    if handoff.compound_id is None:
        raise HandoffError("不知道这位居民在哪个小区，无法登记工单；请先关联已有工单或在对话中问清小区。")
    if category not in CATEGORIES or not text.strip():
        raise ValueError("请选择类别并填写问题描述。")
    filing = tickets.file_report(session, tickets.Report(
        category=category, urgent=urgent, text=text.strip(), compound_id=handoff.compound_id,
        platform=handoff.platform, user_id=handoff.user_id, sender_id=handoff.sender_id,
        display_name=handoff.display_name, building=building, unit=unit, room=room), now)
    handoff.ticket = filing.ticket
    if handoff.status == "waiting":
        take(handoff, user, now)
    receipt = tickets.receipt(session, filing) + (tickets.URGENT_NOTICE if urgent else "")
    send_to_resident(session, handoff, receipt, now)
    return filing


def link_ticket(handoff: Handoff, ticket: Ticket) -> None:
    """Link an existing ticket of the same compound to the conversation."""
    if ticket.compound_id != handoff.compound_id and handoff.compound_id is not None:
        raise HandoffError(f"工单#{ticket.id}不是{handoff.compound.name}的工单。")
    handoff.ticket = ticket


def hand_back(session: Session, handoff: Handoff, now: datetime) -> OutboxMessage:
    """The conversation goes back to the bot (the caller resumes it in Rasa first)."""
    if handoff.status == "returned":
        raise HandoffError("这个对话已经交回小助手了。")
    handoff.status, handoff.returned_at = "returned", now
    return send_to_resident(session, handoff, HANDED_BACK, now)


# --- the transcript, from Rasa's tracker store -----------------------------------------------------

_EVENTS = Table("events", MetaData(), Column("id"), Column("sender_id"), Column("type_name"),
                Column("timestamp"), Column("data"))
_SHOWN = {"user": "resident", "bot": "bot", "pause": "paused", "resume": "resumed"}


@dataclass(frozen=True)
class Line:
    """One line of a transcript: who (resident, bot, staff, paused, resumed), when (UTC), what."""
    who: str
    at: datetime
    text: str
    name: str | None = None  # the resident's display name or the staff member's user name


def _has_events(session: Session) -> bool:
    """Rasa creates its table on its first start; before that there is no transcript."""
    return inspect(session.connection()).has_table("events")


def _line(type_name: str, timestamp: float | None, data: str) -> Line:
    event = json.loads(data or "{}")
    metadata = event.get("metadata") or {}
    at = datetime.fromtimestamp(timestamp or 0, timezone.utc).replace(tzinfo=None)
    who = "staff" if type_name == "bot" and metadata.get("staff") else _SHOWN[type_name]
    return Line(who, at, event.get("text") or "", metadata.get("staff") or metadata.get("display_name"))


def transcript(session: Session, sender_id: str, limit: int = 500) -> list[Line]:
    """The conversation's messages, pauses and resumptions (the latest `limit`), oldest first."""
    if not _has_events(session):
        return []
    rows = session.execute(select(_EVENTS.c.type_name, _EVENTS.c.timestamp, _EVENTS.c.data)
                           .where(_EVENTS.c.sender_id == sender_id, _EVENTS.c.type_name.in_(list(_SHOWN)))
                           .order_by(_EVENTS.c.id.desc()).limit(limit)).all()
    return [_line(*row) for row in reversed(rows)]


def last_messages(session: Session, sender_ids: list[str]) -> dict[str, Line]:
    """Each conversation's latest message from the resident."""
    if not sender_ids or not _has_events(session):
        return {}
    latest = (select(func.max(_EVENTS.c.id)).where(_EVENTS.c.sender_id.in_(sender_ids),
                                                   _EVENTS.c.type_name == "user")
              .group_by(_EVENTS.c.sender_id))
    rows = session.execute(select(_EVENTS.c.sender_id, _EVENTS.c.type_name, _EVENTS.c.timestamp, _EVENTS.c.data)
                           .where(_EVENTS.c.id.in_(latest))).all()
    return {sender: _line(type_name, timestamp, data) for sender, type_name, timestamp, data in rows}


# --- the conversation in Rasa ----------------------------------------------------------------------

class RasaError(Exception):
    """The Rasa server did not take the events (down, or it refused them)."""


def conversation_in_url(sender_id: str) -> str:
    """A sender id as Rasa's API expects it in a URL path: Rasa's router takes the path as sent,
    without percent-decoding, so the id goes in as it is (a Matrix id's own %3A included); only
    what a URL cannot carry (spaces, ?, #, non-ASCII) is encoded, which Rasa cannot address."""
    return quote(sender_id, safe="!$&'()*+,;=:@/%-._~")


@dataclass(frozen=True)
class RasaConversations:
    """Rasa's HTTP API (`rasa run --enable-api --auth-token TOKEN`) for one conversation's events."""
    url: str
    token: str | None = None  # Rasa's `--auth-token`, sent as the `token` query parameter
    timeout: float = 10.0

    async def append(self, sender_id: str, events: list[dict]) -> None:
        url = URL(f"{self.url.rstrip('/')}/conversations/{conversation_in_url(sender_id)}/tracker/events",
                  encoded=True)
        if self.token:
            url = url.update_query(token=self.token)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
                async with http.post(url, json=events) as answer:
                    if answer.status >= 300:
                        raise RasaError(f"Rasa answered HTTP {answer.status}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RasaError(f"Rasa not reachable: {error.__class__.__name__}") from error

    async def record_staff_message(self, sender_id: str, text: str, username: str) -> None:
        """Show a message staff sent in the conversation's transcript."""
        await self.append(sender_id, [{"event": "bot", "text": text, "metadata": {"staff": username}}])

    async def resume(self, sender_id: str, farewell: str) -> None:
        """Hand the conversation back: the farewell, the bot listening again."""
        await self.append(sender_id, [{"event": "bot", "text": farewell}, {"event": "resume"},
                                      {"event": "action", "name": "action_listen"}])
