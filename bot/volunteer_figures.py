"""Volunteer figures for the staff console (dashboard, monthly ranking): per community, over a period."""
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import PointsEntry, Volunteer, VolunteerTask


@dataclass
class CommunityFigures:
    """Volunteer figures for one community over a period."""
    registered: int = 0
    active: set = field(default_factory=set)
    claimed: int = 0
    claim_minutes: list[float] = field(default_factory=list)
    points_issued: int = 0

    @property
    def median_claim_minutes(self) -> float | None:
        return statistics.median(self.claim_minutes) if self.claim_minutes else None


def figures(session: Session, scope: set[int] | None, start: datetime, end: datetime) -> dict[str, CommunityFigures]:
    """Per community: confirmed volunteers, volunteers who claimed in [start, end), claims, the
    median minutes from offer to claim, points credited in the period."""
    result: dict[str, CommunityFigures] = defaultdict(CommunityFigures)
    volunteers = select(Volunteer).where(Volunteer.status == "confirmed")
    for volunteer in session.scalars(_scoped(volunteers, Volunteer.compound_id, scope)):
        result[volunteer.compound.grid.community.name].registered += 1
    claims = select(VolunteerTask).where(VolunteerTask.claimed_at >= start, VolunteerTask.claimed_at < end)
    for task in session.scalars(_scoped(claims, VolunteerTask.compound_id, scope)):
        numbers = result[task.compound.grid.community.name]
        numbers.claimed += 1
        numbers.active.add(task.volunteer_id)
        numbers.claim_minutes.append((task.claimed_at - task.offered_at).total_seconds() / 60)
    for community, points in _earned_by_community(session, scope, start, end):
        result[community].points_issued += points
    return dict(sorted(result.items()))


def _scoped(query, column, scope: set[int] | None):
    return query if scope is None else query.where(column.in_(sorted(scope)))


def _earned_by_community(session: Session, scope: set[int] | None, start: datetime, end: datetime):
    entries = select(PointsEntry).join(Volunteer).where(PointsEntry.points > 0, PointsEntry.at >= start,
                                                       PointsEntry.at < end)
    for entry in session.scalars(_scoped(entries, Volunteer.compound_id, scope)):
        yield entry.volunteer.compound.grid.community.name, entry.points


def monthly_ranking(session: Session, scope: set[int] | None, start: datetime,
                    end: datetime) -> dict[str, list[tuple[Volunteer, int]]]:
    """Per community, the volunteers by points earned in [start, end), most first."""
    totals: dict[int, int] = defaultdict(int)
    entries = select(PointsEntry).join(Volunteer).where(PointsEntry.points > 0, PointsEntry.at >= start,
                                                       PointsEntry.at < end)
    people = {}
    for entry in session.scalars(_scoped(entries, Volunteer.compound_id, scope)):
        totals[entry.volunteer_id] += entry.points
        people[entry.volunteer_id] = entry.volunteer
    ranking: dict[str, list[tuple[Volunteer, int]]] = defaultdict(list)
    for volunteer_id, points in sorted(totals.items(), key=lambda item: (-item[1], item[0])):
        volunteer = people[volunteer_id]
        ranking[volunteer.compound.grid.community.name].append((volunteer, points))
    return dict(sorted(ranking.items()))

