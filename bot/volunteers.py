"""Party-member volunteers (党员志愿者): 党员回家报到, 群众点单、组织建单、党员接单, 积分银行.

- **Registration.** A working party member registers in a one-to-one chat with the compound
  they live in, their work unit and skills (free text mapped to `bot.skills.SKILLS`); the compound's branch
  secretary confirms or rejects it in the console, and the member is told.
- **Offering.** `care_request` tickets (offered by the worker's sweep) and any ticket staff mark
  in the console become a `VolunteerTask`, offered one-to-one to the compound's confirmed
  volunteers whose skills fit — number, place and need, never the resident's phone number.
- **Claiming.** "接单 #N": the first claim wins — one conditional UPDATE (`status = 'open'`), so
  two volunteers answering in the same second cannot both have it. A claim not finished within
  `CLAIM_TIME` goes back to the pool, and the volunteer is reminded.
- **Finishing.** "完成 #N 备注" resolves the ticket: the residents are asked 满意 / 基本满意 /
  不满意 (`tickets.resolve`); a good answer confirms the task, 不满意 hands it back to the
  volunteer. The secretary may confirm instead after `CONFIRM_AFTER` without an answer.
- **Points.** A confirmed task credits `hours × weight × POINTS_PER_HOUR` once (one ledger line
  per task, enforced by the database); exchanges are negative lines with a reason. The balance
  is always the sum of the ledger.

What the bot says in each case is `bot.volunteer_replies`'; the console's figures are
`bot.volunteer_figures`'.
"""
import re
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import org, tickets, volunteer_replies as say
from bot.clock import local_text
from bot.conversations import Resident
from bot.models import Compound, PointsEntry, Ticket, Volunteer, VolunteerTask
from bot.notifier import notify
from bot.skills import parse_skills, skills_zh, weight_of

CLAIM_TIME = timedelta(hours=24)       # a claim not reported done by then goes back to the pool
CONFIRM_AFTER = timedelta(hours=48)    # without the resident's answer, the secretary may confirm
POINTS_PER_HOUR = 10                   # a task of weight 1
DEFAULT_HOURS, MAX_HOURS = 1.0, 8.0
MAX_NOTE, MAX_REASON = 500, 200
REGISTRATION_STATUS_ZH = {"pending": "待确认", "confirmed": "已确认", "rejected": "未通过"}
TASK_STATUS_ZH = {"open": "待认领", "claimed": "已认领", "done": "待确认完成", "confirmed": "已完成"}


class VolunteerError(ValueError):
    """Something the volunteer rules do not allow; the message says why, in Chinese."""


_TICKET_NUMBER = re.compile(r"[#＃]\s*(\d{1,9})")
_HOURS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:个)?\s*(?:小时|钟头|h\b)", re.IGNORECASE)


# --- words ---------------------------------------------------------------------------------------

def ticket_number(text: str) -> int | None:
    """The ticket number in "接单 #12" / "完成＃12 …"; None when there is none."""
    match = _TICKET_NUMBER.search(text or "")
    return int(match.group(1)) if match else None


def finish_note(text: str) -> str:
    """What follows the number in "完成 #12 已陪老人去医院"."""
    match = _TICKET_NUMBER.search(text or "")
    return (text[match.end():] if match else "").strip(" ，,。：:")[:MAX_NOTE]


def hours_in(note: str) -> float:
    """The hours a note states (用时2小时, 1.5h, 半小时), rounded to half hours; 1 when it says none."""
    if "半小时" in note and not _HOURS.search(note):
        return 0.5
    match = _HOURS.search(note)
    hours = float(match.group(1)) if match else DEFAULT_HOURS
    return min(MAX_HOURS, max(0.5, round(hours * 2) / 2))


def needed_skills(ticket: Ticket) -> list[str]:
    """The skills that fit a ticket, from what the resident wrote; empty: anyone can help."""
    return parse_skills(ticket.text)


def points_for(hours: float, weight: float) -> int:
    return round(hours * weight * POINTS_PER_HOUR)


# --- registration (党员回家报到) --------------------------------------------------------------------

def registration_of(session: Session, platform: str, user_id: str) -> Volunteer | None:
    return session.scalars(select(Volunteer).where(Volunteer.platform == platform,
                                                   Volunteer.user_id == user_id)).first()


def register(session: Session, resident: Resident, name: str, compound: Compound, work_unit: str,
             skills: list[str], now: datetime) -> Volunteer:
    """Record the registration (again after a rejection) and ask the branch secretary to confirm."""
    volunteer = registration_of(session, resident.platform, resident.user_id)
    if volunteer is not None and volunteer.status != "rejected":
        raise VolunteerError(say.already_registered(volunteer))
    if volunteer is None:
        volunteer = Volunteer(platform=resident.platform, user_id=resident.user_id)
        session.add(volunteer)
    volunteer.sender_id, volunteer.name, volunteer.compound = resident.sender_id, name, compound
    volunteer.work_unit, volunteer.skills, volunteer.status = work_unit, skills, "pending"
    volunteer.registered_at, volunteer.decided_at, volunteer.decided_by = now, None, None
    session.flush()
    recipient = org.branch_secretary(compound).recipient(resident.platform)
    if recipient:
        notify(session, recipient, say.to_confirm(volunteer), now)
    return volunteer


def decide_registration(session: Session, volunteer: Volunteer, confirm: bool, actor: str, now: datetime) -> None:
    """The branch secretary confirms or rejects a pending registration; the member is told."""
    if volunteer.status != "pending":
        raise VolunteerError(f"{volunteer.name}的报到{REGISTRATION_STATUS_ZH[volunteer.status]}。")
    volunteer.status = "confirmed" if confirm else "rejected"
    volunteer.decided_at, volunteer.decided_by = now, actor
    notify(session, volunteer.sender_id, say.registration_decided(volunteer, confirm), now)


# --- offering (组织建单) ----------------------------------------------------------------------------

def fits(volunteer: Volunteer, task: VolunteerTask) -> bool:
    return not task.skills or bool(set(task.skills) & set(volunteer.skills or []))


def fitting_volunteers(session: Session, task: VolunteerTask) -> list[Volunteer]:
    """The compound's confirmed volunteers whose skills fit the task."""
    confirmed = session.scalars(select(Volunteer).where(Volunteer.compound_id == task.compound_id,
                                                        Volunteer.status == "confirmed").order_by(Volunteer.id))
    return [volunteer for volunteer in confirmed if fits(volunteer, task)]


def _send_offers(session: Session, task: VolunteerTask, now: datetime, except_id: int | None = None) -> int:
    sent = 0
    for volunteer in fitting_volunteers(session, task):
        if volunteer.id != except_id:
            notify(session, volunteer.sender_id, say.offer_text(task), now, task.ticket_id)
            sent += 1
    return sent


def offer(session: Session, ticket: Ticket, skills: list[str], now: datetime, actor: str = "系统") -> VolunteerTask:
    """Offer the ticket to the fitting volunteers of its compound (once per ticket)."""
    if ticket.status not in tickets.OPEN_STATUSES:
        raise VolunteerError(f"工单#{ticket.id}{tickets.STATUS_ZH[ticket.status]}，不能再派给志愿者。")
    if session.scalars(select(VolunteerTask.id).where(VolunteerTask.ticket_id == ticket.id)).first():
        raise VolunteerError(f"工单#{ticket.id}已经派给志愿者了。")
    task = VolunteerTask(ticket=ticket, compound_id=ticket.compound_id, skills=skills, weight=weight_of(skills),
                         status="open", offered_at=now, offered_by=actor)
    session.add(task)
    session.flush()
    sent = _send_offers(session, task, now)
    tickets.add_note(session, ticket, now, f"发给党员志愿者认领（需要：{skills_zh(skills)}，通知{sent}人）", actor)
    return task


def offer_care_requests(session: Session, now: datetime) -> list[int]:
    """The sweep: every open care_request ticket not offered yet is offered (群众点单 → 党员接单)."""
    offered = select(VolunteerTask.ticket_id)
    due = session.scalars(select(Ticket).where(Ticket.category == "care_request",
                                               Ticket.status.in_(tickets.OPEN_STATUSES),
                                               Ticket.id.not_in(offered)).order_by(Ticket.id)).all()
    return [offer(session, ticket, needed_skills(ticket), now).ticket_id for ticket in due]


# --- claiming and finishing (党员接单) --------------------------------------------------------------

def _confirmed_volunteer(session: Session, platform: str, user_id: str) -> Volunteer:
    volunteer = registration_of(session, platform, user_id)
    if volunteer is None or volunteer.status == "rejected":
        raise VolunteerError(say.NOT_REGISTERED)
    if volunteer.status != "confirmed":
        raise VolunteerError("您的报到还在等小区党支部书记确认，确认后才能接单。")
    return volunteer


def _task_for(session: Session, volunteer: Volunteer, ticket_id: int | None) -> VolunteerTask:
    if ticket_id is None:
        raise VolunteerError("请带上工单号，例如“接单 #12”“完成 #12 已送到”。")
    task = session.scalars(select(VolunteerTask).where(VolunteerTask.ticket_id == ticket_id)).first()
    if task is None or task.compound_id != volunteer.compound_id:
        raise VolunteerError(f"#{ticket_id}不是派给您小区志愿者的求助，请核对工单号。")
    return task


def claim(session: Session, platform: str, user_id: str, ticket_id: int | None, now: datetime) -> str:
    """接单 #N: the first claim wins, atomically; the reply says who has it and what to do next."""
    volunteer = _confirmed_volunteer(session, platform, user_id)
    task = _task_for(session, volunteer, ticket_id)
    if not fits(volunteer, task):
        raise VolunteerError(f"#{ticket_id}需要{skills_zh(task.skills)}，和您登记的特长不符，请留给更合适的志愿者。")
    won = session.execute(update(VolunteerTask).where(VolunteerTask.id == task.id, VolunteerTask.status == "open")
                          .values(status="claimed", volunteer_id=volunteer.id, claimed_at=now,
                                  claim_due_at=now + CLAIM_TIME)
                          .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        session.refresh(task)
        if task.volunteer_id == volunteer.id and task.status == "claimed":
            return say.already_yours(task)
        return say.claimed_by_another(task.ticket_id)
    session.refresh(task)
    ticket = task.ticket
    tickets.add_note(session, ticket, now, f"党员志愿者{volunteer.name}接单", volunteer.name)
    for reporter in ticket.reporters:
        notify(session, reporter.sender_id, say.claimed_for_resident(ticket, volunteer), now, ticket.id)
    return say.claimed(task)


def finish(session: Session, platform: str, user_id: str, ticket_id: int | None, note: str, now: datetime) -> str:
    """完成 #N 备注: the ticket is resolved and its residents are asked to confirm and rate it."""
    volunteer = _confirmed_volunteer(session, platform, user_id)
    task = _task_for(session, volunteer, ticket_id)
    if not note:
        raise VolunteerError(f"请说一下办得怎么样，例如“完成 #{ticket_id} 已陪老人看完病 用时2小时”。")
    done = session.execute(update(VolunteerTask).where(
        VolunteerTask.id == task.id, VolunteerTask.status == "claimed", VolunteerTask.volunteer_id == volunteer.id)
        .values(status="done", done_at=now, note=note, hours=hours_in(note))
        .execution_options(synchronize_session=False)).rowcount == 1
    if not done:
        raise VolunteerError(f"#{ticket_id}不是您正在办的求助（没有认领，或已超时退回、已报完成）。")
    session.refresh(task)
    tickets.resolve(session, task.ticket, now, f"党员志愿者{volunteer.name}：{note}", volunteer.name)
    return say.finished(task, CONFIRM_AFTER)


# --- confirming and the ledger (积分银行) ------------------------------------------------------------

def balance(session: Session, volunteer_id: int) -> int:
    return session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0))
                          .where(PointsEntry.volunteer_id == volunteer_id))


def confirm(session: Session, task: VolunteerTask, now: datetime, actor: str, rating: str | None = None) -> int:
    """Confirm a done task and credit its points, once; returns the points credited."""
    confirmed = session.execute(update(VolunteerTask).where(VolunteerTask.id == task.id, VolunteerTask.status == "done")
                                .values(status="confirmed", confirmed_at=now, confirmed_by=actor, rating=rating)
                                .execution_options(synchronize_session=False)).rowcount == 1
    if not confirmed:
        raise VolunteerError(f"#{task.ticket_id}不在待确认完成的状态。")
    session.refresh(task)
    points = points_for(task.hours or DEFAULT_HOURS, task.weight)
    session.add(PointsEntry(volunteer_id=task.volunteer_id, at=now, points=points, task_id=task.id,
                            reason=f"{tickets.describe(task.ticket)}，{task.hours:g}小时", actor=actor))
    session.flush()
    notify(session, task.volunteer.sender_id, say.credited(task, actor, points, balance(session, task.volunteer_id)),
           now, task.ticket_id)
    return points


def confirm_by_secretary(session: Session, task: VolunteerTask, now: datetime, actor: str) -> int:
    """The secretary confirms a task the residents have not answered for CONFIRM_AFTER."""
    if task.status != "done" or task.done_at is None:
        raise VolunteerError(f"#{task.ticket_id}不在待确认完成的状态。")
    if now < task.done_at + CONFIRM_AFTER:
        raise VolunteerError(f"居民还可以确认：{local_text(task.done_at + CONFIRM_AFTER)}后仍无回复才能由书记确认。")
    points = confirm(session, task, now, actor)
    if task.ticket.status == "resolved":
        tickets.set_status(session, task.ticket, "closed", now, "居民未回复，小区党支部书记确认志愿服务已完成", actor)
    return points


def _answer_since(ticket: Ticket, since: datetime) -> str | None:
    """The residents' answer to the question asked when the task was done: 不满意 from anyone wins."""
    answers = [r.satisfaction for r in ticket.reporters
               if r.satisfaction and r.satisfaction_at and r.satisfaction_at >= since]
    if "unsatisfied" in answers:
        return "unsatisfied"
    return answers[0] if answers else None


def settle_answered(session: Session, now: datetime) -> list[int]:
    """The sweep: done tasks whose residents answered — a good answer confirms and credits points,
    不满意 gives the task back to the volunteer (the ticket was reopened one level up)."""
    settled = []
    for task in session.scalars(select(VolunteerTask).where(VolunteerTask.status == "done")
                                .order_by(VolunteerTask.id)).all():
        answer = _answer_since(task.ticket, task.done_at)
        if answer in tickets.SATISFIED_ANSWERS:
            confirm(session, task, now, "居民", answer)
        elif answer == "unsatisfied":
            _reclaim_unsatisfied(session, task, now)
        else:
            continue
        settled.append(task.ticket_id)
    return settled


def _reclaim_unsatisfied(session: Session, task: VolunteerTask, now: datetime) -> None:
    back = session.execute(update(VolunteerTask).where(VolunteerTask.id == task.id, VolunteerTask.status == "done")
                           .values(status="claimed", claim_due_at=now + CLAIM_TIME, done_at=None)
                           .execution_options(synchronize_session=False)).rowcount == 1
    if back:
        notify(session, task.volunteer.sender_id, say.back_after_unsatisfied(task, now + CLAIM_TIME), now, task.ticket_id)


def return_overdue_claims(session: Session, now: datetime) -> list[int]:
    """The sweep: claims not reported done by their due time go back to the pool; the volunteer is
    reminded and the other fitting volunteers get the offer again."""
    due = session.scalars(select(VolunteerTask).where(VolunteerTask.status == "claimed",
                                                      VolunteerTask.claim_due_at <= now)
                          .order_by(VolunteerTask.id)).all()
    returned = []
    for task in due:
        previous = task.volunteer
        back = session.execute(update(VolunteerTask).where(
            VolunteerTask.id == task.id, VolunteerTask.status == "claimed",
            VolunteerTask.claim_due_at == task.claim_due_at)
            .values(status="open", volunteer_id=None, claimed_at=None, claim_due_at=None)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not back:
            continue
        session.refresh(task)
        notify(session, previous.sender_id, say.claim_returned(task.ticket_id), now, task.ticket_id)
        _send_offers(session, task, now, except_id=previous.id)
        tickets.add_note(session, task.ticket, now, f"志愿者{previous.name}超时未完成，退回待认领", "系统")
        returned.append(task.ticket_id)
    return returned


def sweep(session: Session, now: datetime) -> dict[str, list[int]]:
    """One beat of the volunteers' clock (run by the worker)."""
    return {"offered": offer_care_requests(session, now), "returned": return_overdue_claims(session, now),
            "settled": settle_answered(session, now)}


def spend(session: Session, volunteer: Volunteer, points: int, reason: str, actor: str, now: datetime) -> PointsEntry:
    """积分兑换: a negative ledger line with its reason; never more than the balance."""
    reason = reason.strip()
    if points <= 0:
        raise VolunteerError("兑换积分须为正整数。")
    if not reason or len(reason) > MAX_REASON:
        raise VolunteerError(f"请填写兑换事由（{MAX_REASON}字以内）。")
    available = balance(session, volunteer.id)
    if points > available:
        raise VolunteerError(f"{volunteer.name}只有{available}积分，不够兑换{points}积分。")
    entry = PointsEntry(volunteer_id=volunteer.id, at=now, points=-points, reason=f"兑换：{reason}", actor=actor)
    session.add(entry)
    session.flush()
    return entry


def ledger(session: Session, volunteer_id: int, limit: int | None = None) -> list[PointsEntry]:
    query = select(PointsEntry).where(PointsEntry.volunteer_id == volunteer_id).order_by(
        PointsEntry.at.desc(), PointsEntry.id.desc())
    return list(session.scalars(query.limit(limit) if limit else query))


def points_reply(session: Session, platform: str, user_id: str) -> str:
    """我的积分: the balance and the latest ledger lines."""
    volunteer = registration_of(session, platform, user_id)
    if volunteer is None or volunteer.status == "rejected":
        return say.NO_POINTS
    return say.points(volunteer, balance(session, volunteer.id), ledger(session, volunteer.id, limit=5))
