"""The data: the org directory (组织架构), tickets (工单), the outbox (待发消息) and staff accounts.

Plain `Column` declarations (SQLAlchemy 1.4, used in 2.0 style). Times are naive UTC. By job:

- `base`: `Base`, whose metadata is the whole schema once this package is imported.
- `org`: 街道 → 社区 → 网格 → 小区, buildings, hotlines, group bindings, a resident's own compound.
- `tickets`: tickets, their reporters and timeline, the media attached to them.
- `delivery`: the outbox, the callbacks taken in, a platform's read cursor, the worker's heartbeat.
- `staff`: console accounts, their sessions and wrong passwords, handoffs to staff (转人工).
- `volunteers`: volunteers, the tasks offered to them, their points.
- `faq`: the FAQ's entries, questions, unanswered questions and changes.

Callers use the package: `from bot.models import Ticket`.
"""
from bot.models.base import Base
from bot.models.delivery import OutboxMessage, ReceivedEvent, SyncCursor, WorkerHeartbeat
from bot.models.faq import FaqAsked, FaqChange, FaqEntry, FaqQuestion
from bot.models.org import (Building, Community, Compound, CompoundAlias, GroupBinding, Grid, Hotline,
                            ResidentCompound, Subdistrict)
from bot.models.staff import ConsoleSession, Handoff, LoginFailure, User, user_communities, user_compounds
from bot.models.tickets import Reporter, Ticket, TicketMedia, TimelineEntry
from bot.models.volunteers import PointsEntry, Volunteer, VolunteerTask

__all__ = ["Base", "Building", "Community", "Compound", "CompoundAlias", "ConsoleSession", "FaqAsked", "FaqChange",
           "FaqEntry", "FaqQuestion", "GroupBinding", "Grid", "Handoff", "Hotline", "LoginFailure", "OutboxMessage",
           "PointsEntry", "ReceivedEvent", "Reporter", "ResidentCompound", "Subdistrict", "SyncCursor", "Ticket",
           "TicketMedia", "TimelineEntry", "User", "Volunteer", "VolunteerTask", "WorkerHeartbeat",
           "user_communities", "user_compounds"]
