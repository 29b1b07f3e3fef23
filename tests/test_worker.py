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


def test_a_ticket_reopened_after_it_ran_out_at_the_subdistrict_is_followed_up_again(engine, site):  # noqa: F811
    long_ago = utc_now() - timedelta(days=10)
    with Session(engine, future=True) as s, s.begin():
        ticket = tickets.file_report(s, report(site, "a"), long_ago).ticket
        ticket.level, ticket.overdue = "subdistrict", True  # ran out at the top: flagged, the clock done with it
        tickets.resolve(s, ticket, long_ago + timedelta(days=1), "已处理", "刘书记")
        tickets.rate(s, "wecom", "a", "unsatisfied", utc_now() - timedelta(days=2))  # a fresh day, long past
        ticket_id = ticket.id
    assert worker.tick(engine) == [ticket_id]
    with Session(engine, future=True) as s:
        assert (s.get(Ticket, ticket_id).status, s.get(Ticket, ticket_id).overdue) == ("reopened", True)
