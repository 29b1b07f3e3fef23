"""The escalation clock's beat, on the real database engines."""
from datetime import timedelta

from sqlalchemy.orm import Session

from bot import tickets, worker
from bot.clock import utc_now
from bot.models import Ticket
from test_tickets import report, site  # noqa: F401 - the site fixture


def test_a_beat_escalates_what_is_overdue_and_nothing_else(engine, site):  # noqa: F811
    with Session(engine, future=True) as s, s.begin():
        late = tickets.file_report(s, report(site, "a"), utc_now() - timedelta(days=2)).ticket.id
        fresh = tickets.file_report(s, report(site, "b", category="noise"), utc_now()).ticket.id
    assert worker.tick(engine) == [late]
    assert worker.tick(engine) == []
    with Session(engine, future=True) as s:
        assert s.get(Ticket, late).level == "community" and s.get(Ticket, fresh).level == "grid"
