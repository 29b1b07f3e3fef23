"""Tickets (工单): 群众点单、组织建单 — filing, 反映集中, escalation, resolution, 满意度.

小事不出网格、难事不出社区、大事不出街道: a ticket starts at the grid level with the compound's
party branch secretary, and moves up one level when its SLA runs out, when five households
report the same problem, or when a reporter is not satisfied with the answer.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import org, same_problem
from bot.clock import local_text, utc_now
from bot.conversations import resident_from
from bot.models import Compound, Reporter, Ticket, TimelineEntry
from bot.notifier import notify
from bot.org import Person
from bot.privacy import mask_phone, mask_sensitive, public_numbers
from bot.taxonomy import CATEGORIES, sla_of

LEVELS = ("grid", "community", "subdistrict")
LEVEL_ZH = {"grid": "网格", "community": "社区", "subdistrict": "街道"}
STATUS_ZH = {"new": "新建", "assigned": "已派单", "in_progress": "处理中", "resolved": "已办结",
             "closed": "已关闭", "reopened": "已重启"}
OPEN_STATUSES = ("new", "assigned", "in_progress", "reopened")
CLUSTER_WINDOW = timedelta(hours=72)
CLUSTER_HOUSEHOLDS = 5  # 反映集中: this many households move the ticket up one level
# How nearly (e5 cosine, `bot.same_problem`) a report must say what one of a ticket's reporters
# said to join it. Any two reports of one category are near each other in e5's space, so the bar
# is high: where pairs of one category part into the same problem in other words and another
# problem, chosen by cross-validation on such pairs (`bench/same_problem.py`, figures in
# docs/benchmarks.md).
SAME_PROBLEM = 0.91
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
STATUS_INTENT = "ask_ticket_status"  # 我报的事怎么样了: the resident's own open tickets
SATISFIED_ANSWERS = ("satisfied", "basically_satisfied")  # what 满意度, the city's measure, counts as satisfied
URGENT_NOTICE = "这是紧急情况，已同时通知网格、社区和街道。"  # after an urgent report's receipt


@dataclass(frozen=True)
class Report:
    """A resident's report as the conversation understood it."""
    category: str
    urgent: bool
    text: str
    compound_id: int
    platform: str
    user_id: str
    sender_id: str
    display_name: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None


@dataclass(frozen=True)
class Filing:
    ticket: Ticket
    joined: bool       # the report joined an open ticket on the same problem
    households: int    # how many households have reported it
    at: datetime       # when it was filed
    again: bool = False  # the resident had reported it already (the problem said again)


def responsible_people(session: Session, ticket: Ticket) -> list[Person]:
    """Who has the ticket: the branch secretary, the grid worker and the building leader."""
    chain = org.chain_of(ticket.compound)
    people = [chain["grid"], chain["grid_worker"]]
    if ticket.building:
        leader = org.building_leader(session, ticket.compound, ticket.building)
        if leader and leader.leader_name:
            people.append(Person("楼栋长", leader.leader_name, leader.leader_phone, leader.leader_ids))
    return people


def _log(session: Session, ticket: Ticket, now: datetime, event: str, reason: str, actor: str = "系统") -> None:
    session.add(TimelineEntry(ticket=ticket, at=now, event=event, status=ticket.status,
                              level=ticket.level, reason=reason, actor=actor))


def _tell(session: Session, people: list[Person], text: str, now: datetime, ticket: Ticket) -> None:
    platform = ticket.reporters[0].platform if ticket.reporters else ""
    for person in people:
        recipient = person.recipient(platform)
        if recipient:
            notify(session, recipient, text, now, ticket.id)
        else:
            _log(session, ticket, now, "note", f"{person.role}{person.name or ''}未配置联系方式，未能通知")


def describe(ticket: Ticket) -> str:
    """#1024 供暖 · 金御城 7号楼2单元"""
    where = ticket.compound.name + "".join(
        f"{value}{suffix}" for value, suffix in ((ticket.building, "号楼"), (ticket.unit, "单元"), (ticket.room, "室"))
        if value)
    return f"#{ticket.id} {CATEGORIES[ticket.category].name_zh} · {where}"


def _open_cluster_ticket(session: Session, report: Report, now: datetime) -> Ticket | None:
    """The open ticket on the same problem: same compound and category, filed within the window,
    not in another building (a report or ticket without a building is compound-wide), and one of
    its reporters said what this report says; of several, the one said most nearly."""
    query = (select(Ticket).where(Ticket.compound_id == report.compound_id,
                                  Ticket.category == report.category,
                                  Ticket.status.in_(OPEN_STATUSES),
                                  Ticket.created_at >= now - CLUSTER_WINDOW)
             .order_by(Ticket.created_at.desc()))
    nearest, found = SAME_PROBLEM, None
    for ticket in session.scalars(query):
        if report.building and ticket.building and report.building != ticket.building:
            continue
        said = [reporter.text for reporter in ticket.reporters]
        similarity = same_problem.similarity(report.text, said, ticket.compound.name)
        if similarity >= nearest:
            nearest, found = similarity, ticket
    return found


def households(session: Session, ticket: Ticket) -> int:
    return session.scalar(select(func.count()).select_from(Reporter).where(Reporter.ticket_id == ticket.id))


def file_report(session: Session, report: Report, now: datetime) -> Filing:
    """File the report, or add it to the open ticket on the same problem (反映集中)."""
    # Lock the compound so two residents reporting at once see each other's ticket.
    compound = session.scalars(select(Compound).where(Compound.id == report.compound_id)
                               .with_for_update()).one()
    ticket = _open_cluster_ticket(session, report, now)
    if ticket is None:
        return Filing(_new_ticket(session, compound, report, now), joined=False, households=1, at=now)
    already = session.scalars(select(Reporter).where(
        Reporter.ticket_id == ticket.id, Reporter.platform == report.platform,
        Reporter.user_id == report.user_id)).first()
    if already is None:
        _add_reporter(ticket, report, now)
        session.flush()
        _log(session, ticket, now, "joined", f"又一户居民反映：{report.text}", report.display_name or report.user_id)
    if report.urgent and not ticket.urgent:
        _make_urgent(session, ticket, report, now)
    count = households(session, ticket)
    if already is None and count == CLUSTER_HOUSEHOLDS:
        escalate(session, ticket, now, f"反映集中：{count}户居民反映同一问题")
    return Filing(ticket, joined=True, households=count, at=now, again=already is not None)


def _make_urgent(session: Session, ticket: Ticket, report: Report, now: datetime) -> None:
    """An urgent report on an open ticket makes it urgent: all three levels hear at once."""
    chain = org.chain_of(ticket.compound)
    ticket.urgent = True
    ticket.updated_at = now
    ticket.due_at = min(ticket.due_at, now + sla_of(ticket.category, True))
    _log(session, ticket, now, "notified", f"紧急情况：已同时通知网格、社区、街道三级，{local_text(ticket.due_at)}前办结",
         report.display_name or report.user_id)
    _tell(session, responsible_people(session, ticket) + [chain["community"], chain["subdistrict"]],
          f"【紧急工单】{describe(ticket)}：{report.text}（{local_text(ticket.due_at)}前办结）", now, ticket)


def _add_reporter(ticket: Ticket, report: Report, now: datetime) -> None:
    ticket.reporters.append(Reporter(platform=report.platform, user_id=report.user_id,
                                     display_name=report.display_name, sender_id=report.sender_id,
                                     text=report.text, reported_at=now))


def _new_ticket(session: Session, compound: Compound, report: Report, now: datetime) -> Ticket:
    category = CATEGORIES[report.category]
    ticket = Ticket(category=category.id, urgent=report.urgent, text=report.text, compound=compound,
                    building=report.building, unit=report.unit, room=report.room,
                    status="assigned", level="grid", assignee_name=compound.secretary_name,
                    assignee_phone=compound.secretary_phone, created_at=now, updated_at=now,
                    due_at=now + sla_of(category.id, report.urgent), overdue=False)
    _add_reporter(ticket, report, now)
    session.add(ticket)
    session.flush()
    _log(session, ticket, now, "filed", f"居民反映：{report.text}", report.display_name or report.user_id)
    _log(session, ticket, now, "assigned", f"派给{compound.secretary_name or '小区党支部书记'}，"
                                           f"{category.handler_zh}协同处理，{local_text(ticket.due_at)}前办结")
    people = responsible_people(session, ticket)
    chain = org.chain_of(compound)
    if report.urgent:
        people += [chain["community"], chain["subdistrict"]]
        _log(session, ticket, now, "notified", "紧急工单：已同时通知网格、社区、街道三级")
    _tell(session, people, f"【{'紧急' if report.urgent else '新'}工单】{describe(ticket)}：{report.text}"
                           f"（{local_text(ticket.due_at)}前办结）", now, ticket)
    return ticket


def escalate(session: Session, ticket: Ticket, now: datetime, reason: str, actor: str = "系统") -> bool:
    """Move the ticket up one level with a new due time and tell that level's secretary.

    At the subdistrict level there is nowhere higher: the ticket is flagged overdue instead.
    """
    position = LEVELS.index(ticket.level)
    if position == len(LEVELS) - 1:
        if ticket.overdue:
            return False
        ticket.overdue = True
        ticket.updated_at = now
        _log(session, ticket, now, "overdue", reason, actor)
        _tell(session, [org.chain_of(ticket.compound)["subdistrict"]], f"【超期工单】{describe(ticket)}：{reason}", now, ticket)
        return True
    ticket.level = LEVELS[position + 1]
    secretary = org.chain_of(ticket.compound)[ticket.level]
    ticket.assignee_name, ticket.assignee_phone = secretary.name, secretary.phone
    ticket.due_at = now + sla_of(ticket.category, ticket.urgent)
    ticket.updated_at = now
    _log(session, ticket, now, "escalated", f"升级到{LEVEL_ZH[ticket.level]}：{reason}", actor)
    _tell(session, [secretary],
          f"【工单升级到{LEVEL_ZH[ticket.level]}】{describe(ticket)}：{reason}（{local_text(ticket.due_at)}前办结）",
          now, ticket)
    return True


def reopen(session: Session, ticket: Ticket, now: datetime, reason: str, actor: str) -> None:
    """重启: back to work one level up, or, at the subdistrict where there is no higher level,
    there again; with a fresh due time either way, so the clock keeps following it up."""
    set_status(session, ticket, "reopened", now, f"{reason}，工单重启", actor)
    ticket.overdue = False
    if ticket.level != LEVELS[-1]:
        escalate(session, ticket, now, reason, actor)
        return
    ticket.due_at = now + sla_of(ticket.category, ticket.urgent)
    _log(session, ticket, now, "reopened", f"{LEVEL_ZH[ticket.level]}重新办理：{reason}，"
                                           f"{local_text(ticket.due_at)}前办结", actor)
    _tell(session, [org.chain_of(ticket.compound)[ticket.level]],
          f"【工单重启】{describe(ticket)}：{reason}（{local_text(ticket.due_at)}前办结）", now, ticket)


def escalate_overdue(session: Session, now: datetime) -> list[int]:
    """The escalation clock: every open ticket past its due time moves up one level.

    Each move is a conditional update on (level, due_at), so two clocks running at once can
    never both escalate the same ticket.
    """
    due = session.scalars(select(Ticket).where(Ticket.status.in_(OPEN_STATUSES), Ticket.due_at <= now,
                                               Ticket.overdue.is_(False))
                          .order_by(Ticket.due_at).with_for_update(skip_locked=True)).all()
    moved = []
    for ticket in due:
        claimed = session.execute(update(Ticket).where(
            Ticket.id == ticket.id, Ticket.level == ticket.level, Ticket.due_at == ticket.due_at,
            Ticket.overdue.is_(False)).values(updated_at=now).execution_options(synchronize_session=False))
        if claimed.rowcount == 1 and escalate(session, ticket, now, f"超过办结时限（{local_text(ticket.due_at)}）"):
            moved.append(ticket.id)
    return moved


def set_status(session: Session, ticket: Ticket, status: str, now: datetime, reason: str, actor: str) -> None:
    ticket.status = status
    if status in OPEN_STATUSES:
        ticket.resolved_at = None  # back at work: no longer counts as resolved
    ticket.updated_at = now
    _log(session, ticket, now, "status", reason, actor)


def add_note(session: Session, ticket: Ticket, now: datetime, note: str, actor: str) -> None:
    """A staff member's note on the timeline (备注)."""
    ticket.updated_at = now
    _log(session, ticket, now, "note", note, actor)


def assignable_people(session: Session, ticket: Ticket) -> list[Person]:
    """Whom staff may hand the ticket to: the people who have it, then the community and
    subdistrict secretaries (the ones with a name in the org directory)."""
    chain = org.chain_of(ticket.compound)
    people = responsible_people(session, ticket) + [chain["community"], chain["subdistrict"]]
    return [person for person in people if person.name]


def assign(session: Session, ticket: Ticket, person: Person, now: datetime, actor: str) -> None:
    """派单: make `person` the ticket's assignee and tell them."""
    ticket.assignee_name, ticket.assignee_phone = person.name, person.phone
    if ticket.status == "new":
        ticket.status = "assigned"
    ticket.updated_at = now
    _log(session, ticket, now, "assigned", f"派给{person.role}{person.name}", actor)
    _tell(session, [person], f"【工单派给您】{describe(ticket)}：{ticket.text}（{local_text(ticket.due_at)}前办结）",
          now, ticket)


def resolve(session: Session, ticket: Ticket, now: datetime, note: str, actor: str) -> None:
    """办结: record the answer and ask every reporter whether they are satisfied. The timeline
    keeps the note as staff wrote it; a reporter in a group hears it masked, as every message
    there is, since staff write personal mobiles into notes ("已联系石书记139…")."""
    ticket.resolved_at = now
    set_status(session, ticket, "resolved", now, f"办结：{note}", actor)
    in_group = mask_sensitive(note, public_numbers(session))
    for reporter in ticket.reporters:
        reporter.satisfaction_asked_at = now
        reporter.satisfaction = None
        said = in_group if resident_from(reporter.sender_id).group_id else note
        notify(session, reporter.sender_id,
               f"您反映的{describe(ticket)}已处理：{said}\n请回复“满意”“基本满意”或“不满意”。", now, ticket.id)


def rate(session: Session, platform: str, user_id: str, answer: str, now: datetime) -> Ticket | None:
    """A reporter's 满意度 answer for their most recently resolved ticket; 不满意 reopens it one level up."""
    reporter = session.scalars(
        select(Reporter).where(Reporter.platform == platform, Reporter.user_id == user_id,
                               Reporter.satisfaction_asked_at.is_not(None), Reporter.satisfaction.is_(None))
        .order_by(Reporter.satisfaction_asked_at.desc())).first()
    if reporter is None:
        return None
    ticket = reporter.ticket
    reporter.satisfaction = answer
    reporter.satisfaction_at = now
    _log(session, ticket, now, "rated", f"居民评价：{SATISFACTION[answer]}", reporter.display_name or user_id)
    if answer == "unsatisfied":
        reopen(session, ticket, now, "居民对处理结果不满意", reporter.display_name or user_id)
    elif all(r.satisfaction in SATISFIED_ANSWERS for r in ticket.reporters):
        set_status(session, ticket, "closed", now, "反映人均已评价满意", "系统")
    return ticket


def open_tickets_of(session: Session, platform: str, user_id: str) -> list[Ticket]:
    """The tickets a resident reported that are not closed yet, newest first."""
    return list(session.scalars(
        select(Ticket).join(Reporter).where(Reporter.platform == platform, Reporter.user_id == user_id,
                                            Ticket.status != "closed")
        .order_by(Ticket.created_at.desc())))


def holder(ticket: Ticket) -> str:
    """Who has the ticket now, as residents hear it (phone masked): 社区书记陈书记（138****0002）.
    The secretary of the ticket's level, or whom staff handed it to."""
    chain = org.chain_of(ticket.compound)
    phone = f"（{mask_phone(ticket.assignee_phone)}）" if ticket.assignee_phone else ""
    if not ticket.assignee_name:
        return chain[ticket.level].role + phone
    people = [chain[ticket.level], *chain.values()]
    role = next((person.role for person in people if person.name == ticket.assignee_name), "")
    return f"{role}{ticket.assignee_name}{phone}"


def by_when(ticket: Ticket, now: datetime) -> str:
    """By when the ticket will be done, as residents hear it: never a time already past."""
    if not ticket.overdue and ticket.due_at > now:
        return f"{local_text(ticket.due_at)}前办结"
    if ticket.level == LEVELS[-1]:
        return "已超过办结时限，街道正在督办"
    return "已超过办结时限，正在升级督办"


def receipt(session: Session, filing: Filing) -> str:
    """What the resident hears: number, category, who has it (masked phone) and by when."""
    ticket = filing.ticket
    if filing.again:
        return (f"您已反映过这个问题，在工单{describe(ticket)}里，由{holder(ticket)}负责，{by_when(ticket, filing.at)}。"
                f"回复“我报的事怎么样了”可查询进度。")
    if filing.joined:
        return (f"这个问题已有{filing.households}户居民反映，您已加入工单{describe(ticket)}，"
                f"由{holder(ticket)}负责，{by_when(ticket, filing.at)}。")
    return (f"已登记工单{describe(ticket)}，由{holder(ticket)}负责，{CATEGORIES[ticket.category].handler_zh}"
            f"协同处理，{by_when(ticket, filing.at)}。回复“我报的事怎么样了”可查询进度。")


def status_lines(tickets: list[Ticket], now: datetime | None = None) -> str:
    if not tickets:
        return "您目前没有未办结的工单。"
    now = now or utc_now()
    lines = [f"{describe(t)}：{STATUS_ZH[t.status]}，{LEVEL_ZH[t.level]}级，负责人{holder(t)}"
             + (f"，{by_when(t, now)}" if t.status in OPEN_STATUSES else "") for t in tickets]
    return "您反映的事情：\n" + "\n".join(lines)


def rating_reply(ticket: Ticket | None, answer: str) -> str:
    if ticket is None:
        return "目前没有等您评价的工单。有新问题可以直接告诉我。"
    if answer == "unsatisfied":
        where = "由街道跟进" if ticket.level == LEVELS[-1] else f"并升级到{LEVEL_ZH[ticket.level]}跟进"
        return (f"抱歉没有让您满意。工单{describe(ticket)}已重新办理，{where}，负责人{holder(ticket)}，"
                f"{local_text(ticket.due_at)}前给您答复。")
    return f"谢谢您的评价（{SATISFACTION[answer]}）！工单{describe(ticket)}的评价已记录。"
