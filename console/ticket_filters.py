"""The ticket list's filters (筛选), read from the query string, and the query they make.

The list, its CSV export and the dashboard's links share them, so a filtered list and its
export always hold the same tickets. A value the console does not offer is refused (400).
"""
from dataclasses import asdict, dataclass
from datetime import datetime

from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import and_, or_, select
from sqlalchemy.sql import Select

from bot.models import Ticket
from bot.taxonomy import CATEGORIES
from bot.tickets import LEVELS, OPEN_STATUSES, STATUS_ZH
from console.params import whole_number
from console.scope import limit_to

OPEN = "open"  # every status that still needs work (未办结)


@dataclass(frozen=True)
class TicketFilters:
    status: str = ""
    category: str = ""
    compound: int | None = None
    level: str = ""
    overdue: bool = False
    urgent: bool = False

    def query_params(self) -> dict[str, str]:
        """The filters as a query string for links (the export, the pages)."""
        return {key: ("1" if value is True else str(value)) for key, value in asdict(self).items()
                if value not in ("", None, False)}


def overdue_clause(now: datetime):
    """超期: flagged overdue by the escalation clock, or still open past its due time."""
    return or_(Ticket.overdue.is_(True), and_(Ticket.status.in_(OPEN_STATUSES), Ticket.due_at < now))


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """`overdue_clause` for one loaded ticket."""
    return ticket.overdue or (ticket.status in OPEN_STATUSES and ticket.due_at < now)


def _choice(query: MultiMapping, name: str, allowed) -> str:
    value = query.get(name, "")
    if value and value not in allowed:
        raise web.HTTPBadRequest(text=f"筛选条件 {name} 的值无效：{value[:50]}")
    return value


def _flag(query: MultiMapping, name: str) -> bool:
    return _choice(query, name, ("0", "1")) == "1"


def parse_filters(query: MultiMapping) -> TicketFilters:
    """The filters in a request's query string; HTTPBadRequest for a value that is not offered."""
    compound = query.get("compound", "")
    if compound and whole_number(compound) is None:
        raise web.HTTPBadRequest(text=f"筛选条件 compound 的值无效：{compound[:50]}")
    return TicketFilters(status=_choice(query, "status", (OPEN, *STATUS_ZH)),
                         category=_choice(query, "category", CATEGORIES),
                         compound=whole_number(compound) if compound else None,
                         level=_choice(query, "level", LEVELS),
                         overdue=_flag(query, "overdue"), urgent=_flag(query, "urgent"))


def ticket_query(filters: TicketFilters, scope: set[int] | None, now: datetime) -> Select:
    """The tickets matching `filters` within the `scope` compounds, newest first."""
    query = limit_to(select(Ticket), Ticket.compound_id, scope)
    if filters.status == OPEN:
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif filters.status:
        query = query.where(Ticket.status == filters.status)
    if filters.category:
        query = query.where(Ticket.category == filters.category)
    if filters.compound is not None:
        query = query.where(Ticket.compound_id == filters.compound)
    if filters.level:
        query = query.where(Ticket.level == filters.level)
    if filters.overdue:
        query = query.where(overdue_clause(now))
    if filters.urgent:
        query = query.where(Ticket.urgent.is_(True))
    return query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
