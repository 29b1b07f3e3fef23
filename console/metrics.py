"""The dashboard's figures (数据看板) for a scope of compounds and a period.

A period is whole days in Beijing time; the tickets counted are those filed in it. Over them:
tickets per category and per compound, 办结率 (resolved within the category's SLA, counted from
filing, over the tickets already due: resolved, or past that SLA — one still open within it is no
failure yet, and is counted apart as 未到期), the average time to resolve, 满意度 (满意 + 基本满意
over all answers their reporters gave), how many are overdue (`ticket_filters.is_overdue`) and
urgent, and the trend week by week (Monday to Sunday).
"""
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.clock import LOCAL_ZONE
from bot.models import Ticket
from bot.taxonomy import CATEGORIES
from bot.tickets import SATISFIED_ANSWERS
from console.scope import limit_to
from console.text import category_zh
from console.ticket_filters import is_overdue


@dataclass(frozen=True)
class Period:
    """From `start` to `end`, both whole days in Beijing time."""
    start: date
    end: date

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[from, to) in naive UTC, as times are stored."""
        def utc(day: date) -> datetime:
            return datetime.combine(day, time(), LOCAL_ZONE).astimezone(timezone.utc).replace(tzinfo=None)
        return utc(self.start), utc(self.end + timedelta(days=1))

    def weeks(self) -> list[date]:
        """The Mondays of the weeks the period touches."""
        monday = self.start - timedelta(days=self.start.weekday())
        return [monday + timedelta(weeks=n) for n in range((self.end - monday).days // 7 + 1)]


@dataclass
class Week:
    monday: date
    filed: int = 0
    resolved_in_sla: int = 0


@dataclass
class Figures:
    total: int = 0
    due: int = 0  # resolved, or past their SLA: the tickets 办结率 judges
    urgent: int = 0
    overdue: int = 0
    resolved: int = 0
    resolved_in_sla: int = 0
    resolve_hours: list[float] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)
    by_category: Counter = field(default_factory=Counter)
    by_compound: Counter = field(default_factory=Counter)
    weeks: list[Week] = field(default_factory=list)

    @property
    def completion_rate(self) -> float | None:
        """办结率: resolved within SLA over the tickets already due."""
        return self.resolved_in_sla / self.due if self.due else None

    @property
    def not_yet_due(self) -> int:
        """未到期: neither resolved nor past its SLA, so still able to be resolved in time."""
        return self.total - self.due

    @property
    def average_resolve_hours(self) -> float | None:
        return sum(self.resolve_hours) / len(self.resolve_hours) if self.resolve_hours else None

    @property
    def answer_count(self) -> int:
        return sum(self.answers.values())

    @property
    def satisfaction_rate(self) -> float | None:
        """满意度: satisfied and basically satisfied over all answers."""
        good = sum(self.answers[answer] for answer in SATISFIED_ANSWERS)
        return good / self.answer_count if self.answer_count else None


def local_day(moment: datetime) -> date:
    return moment.replace(tzinfo=timezone.utc).astimezone(LOCAL_ZONE).date()


def sla_deadline(ticket: Ticket) -> datetime:
    """When the ticket must be resolved to count as on time: its category's SLA from filing (not
    `due_at`, which an escalation moves on)."""
    return ticket.created_at + CATEGORIES[ticket.category].sla


def resolved_in_sla(ticket: Ticket) -> bool:
    return ticket.resolved_at is not None and ticket.resolved_at <= sla_deadline(ticket)


def is_due(ticket: Ticket, now: datetime) -> bool:
    """Whether 办结率 judges the ticket yet: resolved, or past the deadline it can no longer meet."""
    return ticket.resolved_at is not None or sla_deadline(ticket) <= now


def figures(session: Session, scope: set[int] | None, period: Period, now: datetime) -> Figures:
    """The dashboard's figures for the tickets filed in `period` within `scope`."""
    start, end = period.utc_bounds()
    query = limit_to(select(Ticket), Ticket.compound_id, scope).where(
        Ticket.created_at >= start, Ticket.created_at < end).options(
        selectinload(Ticket.compound), selectinload(Ticket.reporters))
    result = Figures(weeks=[Week(monday) for monday in period.weeks()])
    for ticket in session.scalars(query):
        _count(result, ticket, now)
    return result


def _count(result: Figures, ticket: Ticket, now: datetime) -> None:
    result.total += 1
    result.due += is_due(ticket, now)
    result.urgent += ticket.urgent
    result.overdue += is_overdue(ticket, now)
    result.by_category[category_zh(ticket.category)] += 1
    result.by_compound[ticket.compound.name] += 1
    result.answers.update(r.satisfaction for r in ticket.reporters if r.satisfaction)
    week = result.weeks[(local_day(ticket.created_at) - result.weeks[0].monday).days // 7]
    week.filed += 1
    if ticket.resolved_at is not None:
        result.resolved += 1
        result.resolve_hours.append((ticket.resolved_at - ticket.created_at).total_seconds() / 3600)
    if resolved_in_sla(ticket):
        result.resolved_in_sla += 1
        week.resolved_in_sla += 1
