"""随手拍: the photos, voice messages and short videos residents send, and the tickets they belong to.

A resident's media belong to the report they come with, or one sent a few minutes before or
after (`AROUND_REPORT`): "你们看看这车停的" and then a photo, or a photo first and "3栋门口，堵了
一上午了" after it. So:

- media with a report, or before it: `received` notes them; the turn that files the report
  attaches them and its receipt says "已附照片1张" (`after_turn`);
- media after a report: attached to the ticket the resident reported just before;
- media sent to the bot with no report near: the bot asks what they are about (`QUESTION`), and
  the answer is taken as a report (`as_answer`) that files the ticket with them attached;
- a photo in a group that was not addressed to the bot is only noted (`seen`, nothing is
  downloaded) for a report of its sender that may follow; a resident's photos of their
  neighbours' balconies are not the project's to keep otherwise.

Every row waits for the Rasa server's fetch loop (`claim_due` … `kept`), which downloads,
checks and re-encodes the file (`bot.media_files`), retrying like the outbox. The worker's sweep
deletes files `MEDIA_RETENTION_DAYS` after their ticket was closed (`sweep`).
"""
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot import settings
from bot.conversations import Resident, resident_from
from bot.decision import Decision
from bot.models import Handoff, Reporter, Ticket, TicketMedia
from bot.notifier import backoff
from bot.org import compound_for_group
from bot.replies import COMPOUND_NOTED
from bot.taxonomy import category_for_intent
from bot.tickets import OPEN_STATUSES

log = logging.getLogger(__name__)

KINDS = {"image": ("照片", "张"), "voice": ("语音", "条"), "video": ("视频", "段"), "file": ("文件", "个")}
AROUND_REPORT = timedelta(minutes=5)  # "a few minutes before or after" a report
ANSWER_WAIT = timedelta(minutes=30)  # how long media the bot asked about wait for their answer
MAX_PER_MESSAGE = 9  # WeChat's limit of photos in one post; more are not taken
LEASE = timedelta(minutes=2)  # a download in flight is tried again after this if never reported
MAX_ATTEMPTS = 12  # then a file is given up ("failed"), shown to staff as not downloaded
THIS = {"image": "这张照片", "video": "这段视频", "voice": "这条语音", "file": "这个文件"}
QUESTIONS = {kind: f"{this}是要反映什么问题？" for kind, this in THIS.items()} | {
    "voice": f"收到您的语音。{THIS['voice']}是要反映什么问题？请用文字简单说一下，我来登记。"}
# After a message that only named a place: the place is not kept for the report to come (only the
# report's own words are read), so the resident is asked to say it again with the problem.
WITH_THE_PLACE = "是要反映什么问题？请把位置和问题一起说一遍，我来登记。"
WITHDRAWN = "withdrawn"  # its report was dropped: on no ticket, no report takes it, deleted at retention
QUOTA_REPLY = "您今天发送的照片和语音已经很多了，这条没有保存。请用文字描述问题，比如“3号楼门口被车堵了”。"
# What a resident says in answer to "what is it about?" that is not the answer: 谢谢, 不是, 查进度 …
NOT_AN_ANSWER = {"greet", "thank", "goodbye", "affirm", "deny", "ask_ticket_status", "request_human", "satisfied",
                 "basically_satisfied", "unsatisfied", "volunteer_register", "volunteer_claim",
                 "volunteer_finish", "volunteer_points"}
# …nor a question for the FAQ or small talk ("社区医院几点开门"), unless the model finds it probably a
# report ("楼道里的垃圾怎么一直没人收？")
ANSWER_ONLY_IF_LIKELY = {"ask_info", "chitchat", "out_of_scope", "advert"}


def counted(kinds: Iterable[str]) -> str:
    """照片2张、语音1条"""
    kinds = list(kinds)
    return "、".join(f"{KINDS[kind][0]}{kinds.count(kind)}{KINDS[kind][1]}" for kind in KINDS if kind in kinds)


# --- a message with media comes in -----------------------------------------------------------------

def received(session: Session, resident: Resident, event_id: str, refs: list[dict], addressed: bool,
             with_text: bool, now: datetime) -> str | None:
    """Note the media of one message (`refs`: each the platform's handle with its `kind`) and say
    what the resident hears, if anything. With text, the text's turn says it (`after_turn`).
    A message taken again (after an outage) is noted once and answered the same way."""
    rows = list(session.scalars(select(TicketMedia).where(
        TicketMedia.platform == resident.platform, TicketMedia.event_id == event_id).order_by(TicketMedia.position)))
    if not rows:
        if _sent_today(session, resident, now) >= settings.media_per_resident_per_day():
            log.warning("%s: media quota of a resident reached; not noted", resident.platform)
            return QUOTA_REPLY if addressed and not with_text else None
        rows = [_row(resident, event_id, position, ref, addressed, now)
                for position, ref in enumerate(refs[:MAX_PER_MESSAGE]) if ref.get("kind") in KINDS]
        session.add_all(rows)
        session.flush()
        if not with_text:
            _attach(rows, _recent_ticket(session, resident.sender_id, now), now)
    if with_text or not rows:
        return None
    if rows[0].ticket is not None:
        return f"已把{counted(row.kind for row in rows)}附到工单#{rows[0].ticket.id}。"
    if not addressed or _with_staff(session, resident.sender_id):
        return None  # a photo in passing, or staff have the conversation: they see it in the transcript
    waiting = waiting_for_answer(session, resident.sender_id, now)
    question = QUESTIONS[rows[0].kind]
    return question if len(waiting) <= len(rows) else f"收到，共{counted(m.kind for m in waiting)}。{question}"


def _row(resident: Resident, event_id: str, position: int, ref: dict, addressed: bool, now: datetime) -> TicketMedia:
    return TicketMedia(token=secrets.token_urlsafe(32), platform=resident.platform, event_id=event_id,
                       position=position, sender_id=resident.sender_id, user_id=resident.user_id,
                       display_name=resident.display_name, kind=ref["kind"], ref=ref, addressed=addressed,
                       received_at=now, status="queued" if addressed else "seen", attempts=0, next_attempt_at=now)


def _sent_today(session: Session, resident: Resident, now: datetime) -> int:
    """Files the resident sent that are downloaded (photos only seen in a group do not count)."""
    return session.scalar(select(func.count(TicketMedia.id)).where(
        TicketMedia.platform == resident.platform, TicketMedia.user_id == resident.user_id,
        TicketMedia.status != "seen", TicketMedia.received_at > now - timedelta(days=1)))


def _with_staff(session: Session, sender_id: str) -> Handoff | None:
    return session.scalars(select(Handoff).where(Handoff.sender_id == sender_id,
                                                 Handoff.status.in_(("waiting", "taken")))).first()


def _recent_ticket(session: Session, sender_id: str, now: datetime) -> Ticket | None:
    """The open ticket media sent now belong to: the one the resident reported in the last few
    minutes, else the one staff linked to their 转人工 conversation."""
    reporter = session.scalars(select(Reporter).join(Ticket).where(
        Reporter.sender_id == sender_id, Reporter.reported_at >= now - AROUND_REPORT,
        Ticket.status.in_(OPEN_STATUSES)).order_by(Reporter.reported_at.desc(), Reporter.id.desc())).first()
    if reporter is not None:
        return reporter.ticket
    handoff = _with_staff(session, sender_id)
    return handoff.ticket if handoff is not None and handoff.ticket is not None else None


def _attach(rows: list[TicketMedia], ticket: Ticket | None, now: datetime) -> None:
    if ticket is None:
        return
    for row in rows:
        row.ticket, row.attached_at = ticket, now
        if row.status == "seen":  # now part of a report: fetched like the rest
            row.status, row.next_attempt_at = "queued", now


def waiting_for_answer(session: Session, sender_id: str, now: datetime) -> list[TicketMedia]:
    """Media of this conversation on no ticket yet that a report now would take: the ones sent
    to the bot in the last `ANSWER_WAIT`, those only seen in the group in the last few minutes."""
    return list(session.scalars(select(TicketMedia).where(
        TicketMedia.sender_id == sender_id, TicketMedia.ticket_id.is_(None),
        TicketMedia.status.in_(("seen", "queued", "stored")),
        or_(TicketMedia.received_at >= now - AROUND_REPORT,
            TicketMedia.addressed.is_(True) & (TicketMedia.received_at >= now - ANSWER_WAIT)))
        .order_by(TicketMedia.id)))


def withdraw(session: Session, sender_id: str, now: datetime) -> None:
    """The report the media waiting came with was dropped (the resident said 不是, or 算了): no
    report takes them now, and retention removes them like any media no report took."""
    for row in waiting_for_answer(session, sender_id, now):
        if row.status == "seen":  # only seen in the group, never fetched: forgotten now
            session.delete(row)
        else:
            row.status, row.ref, row.note = WITHDRAWN, None, "居民没有登记这次反映"


# --- the turn: a report takes them, or the answer to the question is one ----------------------------

def as_answer(parse: dict, decision: Decision) -> Decision:
    """The decision for a message that may answer "这张照片是要反映什么问题？": what the resident
    says then is the report, in the category the model finds likeliest, however unsure. Not a
    message that only names a place ("5号楼2单元"): that says where, and the question stands."""
    intent = (parse.get("intent") or {}).get("name") or ""
    if decision.is_report or decision.asks_for_person or decision.only_a_place or intent in NOT_AN_ANSWER:
        return decision
    if intent in ANSWER_ONLY_IF_LIKELY and decision.likely_category is None:
        return decision
    for item in parse.get("intent_ranking") or []:
        category = category_for_intent(item.get("name") or "")
        if category is not None:
            return Decision(category.id, decision.urgent, decision.danger, item.get("name"),
                            float(item.get("confidence") or 0.0), decision.asks_for_person)
    return decision


def deciding(session: Session, context, parse: dict, decision: Decision) -> Decision:
    """The turn's decision (`bot.turn.Context` `context`): `as_answer` while the bot waits for
    what the resident's media are about and asked nothing else since (which compound?)."""
    if decision.is_report or context.pending is not None:
        return decision
    waiting = waiting_for_answer(session, context.resident.sender_id, context.now)
    return as_answer(parse, decision) if any(row.addressed for row in waiting) else decision


def after_turn(session: Session, sender_id: str, ticket_ids: list[int], replies: list[str], now: datetime,
               asking: bool = True, only_a_place: bool = False) -> None:
    """After a turn: the media waiting go onto the ticket it filed (the last, when it filed
    several) and its receipt says so; a turn that filed nothing, and leaves no question of its
    own open (`asking`: no "which compound?", no staff with the conversation), asks about media
    it came with, and again after a message that only named a place (`only_a_place`): that said
    where, not what the photo shows."""
    waiting = waiting_for_answer(session, sender_id, now)
    if not waiting:
        return
    if ticket_ids:
        ticket = session.get(Ticket, ticket_ids[-1])
        _attach(waiting, ticket, now)
        note = f"已附{counted(row.kind for row in waiting)}。"
        for index in range(len(replies) - 1, -1, -1):
            if f"#{ticket.id}" in replies[index]:
                replies[index] += note
                return
        replies.append(f"工单#{ticket.id}{note}")
        return
    unanswered = [row for row in waiting
                  if row.addressed and (only_a_place or row.received_at >= now - timedelta(minutes=1))]
    if not unanswered or not asking or any(question in reply for reply in replies for question in QUESTIONS.values()):
        return
    kind = unanswered[0].kind
    if only_a_place and replies == [COMPOUND_NOTED]:  # its hint to describe a problem is the question now
        replies[:] = [THIS[kind] + WITH_THE_PLACE]
    else:
        replies.append(QUESTIONS[kind])


# --- the fetch loop --------------------------------------------------------------------------------

def claim_due(session: Session, platform: str, now: datetime, limit: int = 10) -> list[tuple[int, str, dict]]:
    """Take the platform's files due for download, leased: (row id, kind, the platform's handle)."""
    rows = session.scalars(select(TicketMedia).where(
        TicketMedia.platform == platform, TicketMedia.status == "queued", TicketMedia.next_attempt_at <= now)
        .order_by(TicketMedia.id).limit(limit).with_for_update(skip_locked=True)).all()
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + LEASE
    return [(row.id, row.kind, dict(row.ref or {})) for row in rows]


def room_for(session: Session, size: int) -> bool:
    """Whether a file of `size` bytes fits the total quota (MEDIA_TOTAL_MB)."""
    used = session.scalar(select(func.coalesce(func.sum(TicketMedia.size), 0)).where(
        TicketMedia.status.in_(("stored", WITHDRAWN))))  # a withdrawn file is on disk until retention
    return used + size <= settings.media_total_mb() * 1024 * 1024


def kept(session: Session, media_id: int, file_name: str, thumb_name: str | None, content_type: str,
         size: int) -> None:
    row = session.get(TicketMedia, media_id)
    if row.status != WITHDRAWN:  # withdrawn while it downloaded: no report may take it back
        row.status = "stored"
    row.file_name, row.thumb_name = file_name, thumb_name
    row.content_type, row.size, row.ref, row.last_error = content_type, size, None, None


def not_kept(session: Session, media_id: int, reason: str) -> None:
    """A file refused (too large, not an image …): staff read `reason`."""
    row = session.get(TicketMedia, media_id)
    if row.status != WITHDRAWN:
        row.status, row.note, row.ref = "refused", reason[:200], None


def try_again(session: Session, media_id: int, error: str, now: datetime) -> None:
    """A download that failed: again after a backoff, given up after `MAX_ATTEMPTS`."""
    row = session.get(TicketMedia, media_id)
    row.last_error, row.next_attempt_at = error[:500], now + backoff(row.attempts)
    if row.attempts >= MAX_ATTEMPTS and row.status != WITHDRAWN:
        row.status, row.note = "failed", "从平台下载失败"
        log.error("media %s of %s given up after %s tries", row.id, row.platform, row.attempts)


# --- retention -------------------------------------------------------------------------------------

def sweep(session: Session, now: datetime) -> list[str]:
    """Delete what is kept no longer: the files of tickets closed longer than the retention
    period ago, and of media no report took within it; forget photos only seen in a group that
    no report took. Returns the file names to remove once this is committed."""
    cutoff = now - timedelta(days=settings.media_retention_days())
    closed = select(Ticket.id).where(Ticket.status.not_in(OPEN_STATUSES),
                                     func.coalesce(Ticket.resolved_at, Ticket.updated_at) < cutoff)
    expired = session.scalars(select(TicketMedia).where(
        TicketMedia.status.in_(("queued", "stored", "refused", "failed", WITHDRAWN)),
        or_(TicketMedia.ticket_id.in_(closed),
            TicketMedia.ticket_id.is_(None) & (TicketMedia.received_at < cutoff)))).all()
    names = []
    for row in expired:
        names += [name for name in (row.file_name, row.thumb_name) if name]
        row.status, row.deleted_at, row.ref = "deleted", now, None
        row.file_name = row.thumb_name = None
        row.note = "已过保存期限，已删除"
    for row in session.scalars(select(TicketMedia).where(
            TicketMedia.status == "seen", TicketMedia.received_at < now - 2 * AROUND_REPORT)):
        session.delete(row)
    return names


# --- staff ---------------------------------------------------------------------------------------

def by_token(session: Session, token: str) -> TicketMedia | None:
    return session.scalars(select(TicketMedia).where(TicketMedia.token == token)).first() if token else None


def compound_id_of(session: Session, media: TicketMedia) -> int | None:
    """The compound whose staff may see the file: its ticket's, else the 转人工 conversation's,
    else the group's. None: admins only."""
    if media.ticket is not None:
        return media.ticket.compound_id
    handoff = session.scalars(select(Handoff).where(Handoff.sender_id == media.sender_id)
                              .order_by(Handoff.id.desc())).first()
    if handoff is not None and handoff.compound_id is not None:
        return handoff.compound_id
    group_id = resident_from(media.sender_id).group_id
    compound = compound_for_group(session, media.platform, group_id) if group_id else None
    return compound.id if compound is not None else None


def of_conversation(session: Session, sender_id: str, limit: int = 200) -> list[TicketMedia]:
    """A conversation's media sent to the bot (for the 转人工 transcript), oldest first."""
    return list(reversed(session.scalars(select(TicketMedia).where(
        TicketMedia.sender_id == sender_id, TicketMedia.status != "seen")
        .order_by(TicketMedia.id.desc()).limit(limit)).all()))


def summary(media: Iterable[TicketMedia]) -> str:
    """For the CSV export: 照片2张、语音1条 (deleted ones too: they were part of the report)."""
    return counted(row.kind for row in media if row.status != "seen")
