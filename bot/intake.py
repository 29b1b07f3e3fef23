"""受理 (intake): a message the decision judged to be a report, turned into a ticket and replies.

Where it is filed is the turn's to say (`bot.turn`): the compound the message names, else the
group's, else the one the resident is asked for (the report waits meanwhile, as a plain dict).
"""
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot import org, tickets
from bot.conversations import Resident
from bot.decision import Decision
from bot.models import Compound
from bot.urgency import DANGER_BY_KIND, emergency_message


@dataclass(frozen=True)
class PendingReport:
    """A report waiting for its compound."""
    category: str
    urgent: bool
    text: str
    danger: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    named_compound: str | None = None

    def as_slot(self) -> dict:
        return asdict(self)


def pending_report(decision: Decision, text: str, location: dict[str, str]) -> PendingReport:
    return PendingReport(category=decision.category, urgent=decision.urgent, text=text,
                         danger=decision.danger.kind if decision.danger else None,
                         building=location.get("building"), unit=location.get("unit"),
                         room=location.get("room"), named_compound=location.get("compound"))


def emergency_first(session: Session, report: PendingReport, compound: Compound | None) -> list[str]:
    """The emergency advice an urgent report hears before anything else."""
    if not report.urgent or not report.danger:
        return []
    danger = DANGER_BY_KIND[report.danger]
    hotlines = org.hotlines_for(session, compound) if compound else {}
    return [emergency_message(danger, hotlines)]


def file(session: Session, report: PendingReport, compound: Compound, resident: Resident,
         now: datetime) -> tuple[tickets.Filing, str]:
    """File (or join) the ticket; the receipt the resident hears after any emergency advice."""
    filing = tickets.file_report(session, tickets.Report(
        category=report.category, urgent=report.urgent, text=report.text, compound_id=compound.id,
        platform=resident.platform, user_id=resident.user_id, sender_id=resident.sender_id,
        display_name=resident.display_name, building=report.building, unit=report.unit,
        room=report.room), now)
    text = tickets.receipt(session, filing)
    if report.urgent:
        text += tickets.URGENT_NOTICE
    return filing, text
