"""Tickets: filing, 反映集中, the escalation clock, resolution and 满意度 — on SQLite and PostgreSQL."""
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import tickets
from bot.clock import local_text
from bot.models import (Building, Community, Compound, Grid, OutboxMessage, Reporter, Subdistrict,
                        Ticket, TimelineEntry)
from bot.notifier import MAX_ATTEMPTS, deliver_due, notify
from bot.tickets import Report
from bot.taxonomy import CATEGORIES, URGENT_SLA

T0 = datetime(2026, 11, 20, 2, 0)  # 10:00 in Beijing


@pytest.fixture
def site(engine):
    """One subdistrict → community → grid → compound with a building leader for building 7."""
    with Session(engine, future=True) as s, s.begin():
        street = Subdistrict(name="幸福街道", secretary_name="刘书记", secretary_phone="13800000001",
                             secretary_ids={"wecom": "liu"})
        community = Community(name="光明社区", subdistrict=street, secretary_name="陈书记",
                              secretary_phone="13800000002", secretary_ids={"wecom": "chen"})
        grid = Grid(name="第一网格", community=community, worker_name="王网格员",
                    worker_phone="13800000003", worker_ids={"wecom": "wang"})
        compound = Compound(name="金御城", grid=grid, secretary_name="张书记", secretary_phone="13812345678",
                            secretary_ids={"wecom": "zhang"}, property_company="安居物业")
        compound.buildings.append(Building(number="7", leader_name="赵楼长", leader_ids={"wecom": "zhao"}))
        s.add(street)
    with Session(engine, future=True) as s:
        return s.scalars(select(Compound.id)).one()


def report(compound_id, user="alice", category="heating", building="7", urgent=False, text="7号楼暖气不热"):
    return Report(category=category, urgent=urgent, text=text, compound_id=compound_id, platform="wecom",
                  user_id=user, sender_id=f"wecom:g1:{user}", display_name=user, building=building)


def file(engine, rep, now=T0):
    with Session(engine, future=True) as s, s.begin():
        filing = tickets.file_report(s, rep, now)
        return filing.ticket.id, filing.joined, filing.households, tickets.receipt(s, filing)


def outbox(engine):
    with Session(engine, future=True) as s:
        return [(m.recipient, m.text) for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def load(engine, ticket_id):
    s = Session(engine, future=True)
    return s, s.get(Ticket, ticket_id)


def test_a_report_becomes_a_ticket_for_the_branch_secretary(engine, site):
    ticket_id, joined, count, text = file(engine, report(site))
    assert not joined and count == 1
    assert f"#{ticket_id}" in text and "供暖" in text and "张书记" in text
    assert "138****5678" in text and "13812345678" not in text
    assert "11月21日 10:00前" in text  # heating SLA 24 h, in Beijing time
    s, ticket = load(engine, ticket_id)
    assert (ticket.status, ticket.level, ticket.due_at) == ("assigned", "grid", T0 + timedelta(hours=24))
    assert [e.event for e in ticket.timeline] == ["filed", "assigned"]
    s.close()
    recipients = {r for r, _ in outbox(engine)}
    assert recipients == {"wecom:dm:zhang", "wecom:dm:wang", "wecom:dm:zhao"}  # secretary, grid worker, leader


def test_an_urgent_report_notifies_all_three_levels_at_once(engine, site):
    file(engine, report(site, category="gas", urgent=True, text="7号楼煤气味很重"))
    recipients = {r for r, _ in outbox(engine)}
    assert {"wecom:dm:zhang", "wecom:dm:chen", "wecom:dm:liu"} <= recipients
    assert all("紧急" in text for _, text in outbox(engine))


def test_the_same_problem_joins_the_open_ticket_and_five_households_escalate(engine, site):
    first, *_ = file(engine, report(site, "u1"))
    for n in range(2, 6):
        ticket_id, joined, count, text = file(engine, report(site, f"u{n}"), T0 + timedelta(hours=n))
        assert (ticket_id, joined, count) == (first, True, n)
        assert f"{n}户" in text
    s, ticket = load(engine, first)
    assert ticket.level == "community"
    assert any("反映集中" in e.reason for e in ticket.timeline if e.event == "escalated")
    s.close()


def test_the_same_resident_twice_is_one_household(engine, site):
    first, *_ = file(engine, report(site, "u1"))
    _, joined, count, _ = file(engine, report(site, "u1"), T0 + timedelta(hours=1))
    assert joined and count == 1


@pytest.mark.parametrize("other", [
    {"category": "water"},                    # another problem
    {"building": "8"},                        # another building
])
def test_a_different_problem_gets_its_own_ticket(engine, site, other):
    first, *_ = file(engine, report(site, "u1"))
    second, joined, *_ = file(engine, report(site, "u2", **{**{"category": "heating", "building": "7"}, **other}))
    assert second != first and not joined


# Reports of one category said clearly alike or clearly apart: their similarity is far from
# tickets.SAME_PROBLEM on either side.
BARKING = ("7号楼有只狗天天晚上叫，吵得没法睡", "7号楼那只狗叫了一整夜，吵得孩子睡不着")
DOG_IN_THE_LIFT = ("7号楼电梯里有狗尿，太臭了", "有人遛狗让狗在电梯里尿尿", "7号楼电梯里又被狗尿了一滩",
                   "电梯里一股狗尿味，谁家的狗在里面撒尿", "电梯里狗尿没人清理")


@pytest.mark.parametrize("building", ["7", None])
def test_two_residents_saying_the_same_problem_in_other_words_join_one_ticket(engine, site, building):
    first, *_ = file(engine, report(site, "u1", category="pets", building=building, text=BARKING[0]))
    second, joined, count, text = file(engine, report(site, "u2", category="pets", building=building,
                                                      text=BARKING[1]), T0 + timedelta(hours=1))
    assert (second, joined, count) == (first, True, 2) and "2户" in text


@pytest.mark.parametrize("building", ["7", None])
def test_barking_and_a_dog_peeing_in_the_lift_are_two_tickets(engine, site, building):
    first, *_ = file(engine, report(site, "u1", category="pets", building=building, text="7号楼有条狗从早叫到晚"))
    second, joined, count, _ = file(engine, report(site, "u2", category="pets", building=building,
                                                   text=DOG_IN_THE_LIFT[0]), T0 + timedelta(hours=1))
    assert second != first and (joined, count) == (False, 1)


def test_five_households_saying_the_same_problem_their_own_way_escalate(engine, site):
    first, *_ = file(engine, report(site, "u0", category="pets", text="7号楼有条狗从早叫到晚"))
    ids = [file(engine, report(site, f"u{n}", category="pets", text=text), T0 + timedelta(hours=n))[0]
           for n, text in enumerate(DOG_IN_THE_LIFT, start=1)]
    assert len(set(ids)) == 1 and first not in ids
    s, ticket = load(engine, ids[0])
    assert (ticket.level, len(ticket.reporters)) == ("community", 5)
    assert any("反映集中：5户" in e.reason for e in ticket.timeline if e.event == "escalated")
    s.close()


def test_an_urgent_report_joining_an_open_ticket_makes_it_urgent_for_all_three_levels(engine, site):
    first, *_ = file(engine, report(site, "u1", category="power", text="7号楼电表箱冒烟"))
    second, joined, *_ = file(engine, report(site, "u2", category="power", urgent=True, text="7号楼电表箱冒烟了"))
    assert (second, joined) == (first, True)
    s, ticket = load(engine, first)
    assert ticket.urgent and ticket.due_at == T0 + URGENT_SLA  # not the category's 24 hours any more
    s.close()
    assert {"wecom:dm:zhang", "wecom:dm:chen", "wecom:dm:liu"} <= {r for r, text in outbox(engine) if "紧急" in text}


def test_an_urgent_ticket_is_due_in_hours_whatever_its_category(engine, site):
    ticket_id, _, _, text = file(engine, report(site, category="facilities", urgent=True, text="7号楼门口井盖没了"))
    s, ticket = load(engine, ticket_id)
    assert ticket.due_at == T0 + URGENT_SLA and CATEGORIES["facilities"].sla > URGENT_SLA
    s.close()
    assert "11月20日 12:00前" in text  # two hours, in Beijing time, not the week an open manhole had


def test_after_72_hours_the_same_problem_is_a_new_ticket(engine, site):
    first, *_ = file(engine, report(site, "u1"))
    second, joined, *_ = file(engine, report(site, "u2"), T0 + timedelta(hours=73))
    assert second != first and not joined


def test_the_clock_escalates_overdue_tickets_one_level_at_a_time(engine, site):
    ticket_id, *_ = file(engine, report(site))
    with Session(engine, future=True) as s, s.begin():
        assert tickets.escalate_overdue(s, T0 + timedelta(hours=23)) == []
    with Session(engine, future=True) as s, s.begin():
        assert tickets.escalate_overdue(s, T0 + timedelta(hours=25)) == [ticket_id]
    with Session(engine, future=True) as s, s.begin():
        assert tickets.escalate_overdue(s, T0 + timedelta(hours=26)) == []  # new due time
    with Session(engine, future=True) as s, s.begin():
        assert tickets.escalate_overdue(s, T0 + timedelta(hours=50)) == [ticket_id]
    with Session(engine, future=True) as s, s.begin():
        assert tickets.escalate_overdue(s, T0 + timedelta(hours=75)) == [ticket_id]  # flagged overdue
    with Session(engine, future=True) as s, s.begin():
        assert tickets.escalate_overdue(s, T0 + timedelta(hours=200)) == []
    s, ticket = load(engine, ticket_id)
    assert (ticket.level, ticket.overdue) == ("subdistrict", True)
    assert [e.event for e in ticket.timeline].count("escalated") == 2
    s.close()
    recipients = [r for r, text in outbox(engine) if "升级" in text or "超期" in text]
    assert recipients == ["wecom:dm:chen", "wecom:dm:liu", "wecom:dm:liu"]


def test_two_clocks_at_once_never_double_escalate(engine, site):
    for n in range(6):
        file(engine, report(site, f"u{n}", category=["heating", "water", "power", "gas", "noise", "pets"][n]))
    results, barrier = [], threading.Barrier(2)

    def clock():
        barrier.wait()
        with Session(engine, future=True) as s, s.begin():
            results.append(tickets.escalate_overdue(s, T0 + timedelta(days=3)))
    threads = [threading.Thread(target=clock) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    moved = results[0] + results[1]
    assert len(moved) == len(set(moved))
    with Session(engine, future=True) as s:
        escalations = s.scalar(select(func.count()).select_from(TimelineEntry).where(TimelineEntry.event == "escalated"))
        assert escalations == len(moved) > 0


def test_two_residents_reporting_at_once_get_one_ticket_with_two_reporters(engine, site):
    barrier, results = threading.Barrier(2), []

    def resident(name):
        barrier.wait()
        results.append(file(engine, report(site, name)))
    threads = [threading.Thread(target=resident, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine, future=True) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
        assert s.scalar(select(func.count()).select_from(Reporter)) == 2
    assert sorted(joined for _, joined, _, _ in results) == [False, True]


def test_resolving_asks_every_reporter_and_unsatisfied_reopens_one_level_up(engine, site):
    ticket_id, *_ = file(engine, report(site, "alice"))
    file(engine, report(site, "bob"))
    with Session(engine, future=True) as s, s.begin():
        tickets.resolve(s, s.get(Ticket, ticket_id), T0 + timedelta(hours=5), "已更换循环泵", "张书记")
    questions = [(r, t) for r, t in outbox(engine) if "满意" in t]
    assert {r for r, _ in questions} == {"wecom:g1:alice", "wecom:g1:bob"}
    with Session(engine, future=True) as s, s.begin():
        tickets.rate(s, "wecom", "alice", "satisfied", T0 + timedelta(hours=6))
        assert s.get(Ticket, ticket_id).status == "resolved"
    with Session(engine, future=True) as s, s.begin():
        tickets.rate(s, "wecom", "bob", "unsatisfied", T0 + timedelta(hours=7))
    s, ticket = load(engine, ticket_id)
    assert (ticket.status, ticket.level) == ("reopened", "community")
    assert [r.satisfaction for r in ticket.reporters] == ["satisfied", "unsatisfied"]
    s.close()


def resolve_and_rate(engine, ticket_id, user, answer, when):
    with Session(engine, future=True) as s, s.begin():
        tickets.resolve(s, s.get(Ticket, ticket_id), when, "已处理", "张书记")
    with Session(engine, future=True) as s, s.begin():
        return tickets.rating_reply(tickets.rate(s, "wecom", user, answer, when + timedelta(minutes=5)), answer)


def test_each_unsatisfied_answer_escalates_while_a_level_remains_with_a_fresh_due_time(engine, site):
    ticket_id, *_ = file(engine, report(site, "alice"))
    for n, level in enumerate(["community", "subdistrict", "subdistrict"]):
        answered = T0 + timedelta(hours=2 * n + 1)
        reply = resolve_and_rate(engine, ticket_id, "alice", "unsatisfied", answered)
        s, ticket = load(engine, ticket_id)
        assert (ticket.status, ticket.level, ticket.overdue) == ("reopened", level, False)
        assert ticket.due_at == answered + timedelta(minutes=5, hours=24)  # heating's SLA from now
        assert local_text(ticket.due_at) in reply and "书记" in reply
        s.close()
    s, ticket = load(engine, ticket_id)
    assert [e.event for e in ticket.timeline].count("escalated") == 2
    s.close()


def test_a_reopened_ticket_keeps_being_followed_up_by_the_clock(engine, site):
    ticket_id, *_ = file(engine, report(site, "alice"))
    with Session(engine, future=True) as s, s.begin():
        tickets.escalate_overdue(s, T0 + timedelta(hours=25))
        tickets.escalate_overdue(s, T0 + timedelta(hours=50))
        assert tickets.escalate_overdue(s, T0 + timedelta(hours=75)) == [ticket_id]  # flagged overdue
    for n in range(2):  # reopened at the subdistrict, after it had been flagged, twice
        answered = T0 + timedelta(days=4 + 2 * n)
        resolve_and_rate(engine, ticket_id, "alice", "unsatisfied", answered)
        s, ticket = load(engine, ticket_id)
        assert (ticket.level, ticket.overdue) == ("subdistrict", False) and ticket.due_at > answered
        due = ticket.due_at
        s.close()
        with Session(engine, future=True) as s, s.begin():
            assert tickets.escalate_overdue(s, due - timedelta(minutes=1)) == []
            assert tickets.escalate_overdue(s, due + timedelta(minutes=1)) == [ticket_id]
    assert sum("超期" in text for _, text in outbox(engine)) == 3  # the subdistrict is told each time


def test_after_an_escalation_receipts_and_status_name_who_has_it_now_and_a_time_not_past(engine, site):
    ticket_id, *_ = file(engine, report(site, "alice"))
    with Session(engine, future=True) as s, s.begin():
        assert tickets.escalate_overdue(s, T0 + timedelta(hours=25)) == [ticket_id]  # to the community
    _, joined, _, text = file(engine, report(site, "bob"), T0 + timedelta(hours=26))
    assert joined and "社区书记陈书记（138****0002）" in text and "张书记" not in text
    assert "11月22日 11:00前办结" in text  # escalated at 11-21 11:00 Beijing, 24 h more
    with Session(engine, future=True) as s:
        lines = tickets.status_lines(tickets.open_tickets_of(s, "wecom", "alice"), T0 + timedelta(hours=26))
        assert "社区级" in lines and "陈书记" in lines and "11月22日 11:00前办结" in lines
    with Session(engine, future=True) as s, s.begin():  # staff move it up, and it runs out there too
        tickets.escalate(s, s.get(Ticket, ticket_id), T0 + timedelta(hours=27), "物业不配合", "陈书记")
        assert tickets.escalate_overdue(s, T0 + timedelta(hours=52)) == [ticket_id]
    _, joined, _, text = file(engine, report(site, "carol"), T0 + timedelta(hours=53))
    assert joined and "街道书记刘书记" in text and "街道正在督办" in text and "前办结" not in text
    with Session(engine, future=True) as s:
        lines = tickets.status_lines(tickets.open_tickets_of(s, "wecom", "alice"), T0 + timedelta(hours=53))
        assert "刘书记" in lines and "督办" in lines and "前办结" not in lines


def test_a_receipt_never_names_the_role_twice_when_the_directory_has_no_name(engine, site):
    with Session(engine, future=True) as s, s.begin():
        s.get(Compound, site).secretary_name = None
    _, _, _, text = file(engine, report(site, "alice"))
    assert "由小区党支部书记（" in text and "书记小区" not in text


def test_all_satisfied_closes_the_ticket_and_status_lists_only_open_ones(engine, site):
    ticket_id, *_ = file(engine, report(site, "alice"))
    other, *_ = file(engine, report(site, "alice", category="noise", text="楼上半夜装修"))
    with Session(engine, future=True) as s, s.begin():
        tickets.resolve(s, s.get(Ticket, ticket_id), T0 + timedelta(hours=5), "已修好", "张书记")
    with Session(engine, future=True) as s, s.begin():
        assert tickets.rate(s, "wecom", "alice", "basically_satisfied", T0 + timedelta(hours=6)).id == ticket_id
    with Session(engine, future=True) as s:
        assert s.get(Ticket, ticket_id).status == "closed"
        text = tickets.status_lines(tickets.open_tickets_of(s, "wecom", "alice"))
        assert f"#{other}" in text and f"#{ticket_id}" not in text and "噪音扰民" in text
        assert tickets.rate(s, "wecom", "alice", "satisfied", T0) is None  # nothing left to rate


async def test_failed_sends_are_retried_in_order_and_never_lost(engine, site):
    file(engine, report(site, "alice"))
    file(engine, report(site, "bob", category="noise", building="8", text="8号楼半夜装修"))
    delivered, down = [], {"wecom": True}

    async def wecom(message):
        if down["wecom"]:
            raise ConnectionError("platform down")
        delivered.append((message.recipient, message.text))
    assert await deliver_due(engine, {"wecom": wecom}, T0) == 0
    assert await deliver_due(engine, {"wecom": wecom}, T0 + timedelta(seconds=1)) == 0  # backing off
    down["wecom"] = False
    sent = await deliver_due(engine, {"wecom": wecom}, T0 + timedelta(minutes=5))
    sent += await deliver_due(engine, {"wecom": wecom}, T0 + timedelta(minutes=6))
    assert sent == len(outbox(engine)) == len(delivered)
    zhang = [text for r, text in delivered if r == "wecom:dm:zhang"]
    assert "暖气" in zhang[0] and "装修" in zhang[1]  # in the order they were written
    assert await deliver_due(engine, {"wecom": wecom}, T0 + timedelta(hours=1)) == 0  # exactly once


async def test_after_an_outage_the_backlog_goes_at_once_in_order_per_recipient(engine, site):
    with Session(engine, future=True) as s, s.begin():
        for n in range(4):
            for resident in ("wecom:g:ann", "wecom:g:ben", "wecom:g:cai"):
                notify(s, resident, f"{resident} 第{n}条", T0)
    delivered, down = [], {"wecom": True}

    async def wecom(message):
        if down["wecom"]:
            raise ConnectionError("platform down")
        delivered.append(message.text)
    for second in range(0, 60, 5):  # the outage: every beat tries, every row backs off further
        await deliver_due(engine, {"wecom": wecom}, T0 + timedelta(seconds=second))
    down["wecom"] = False
    with Session(engine, future=True) as s, s.begin():
        notify(s, "wecom:g:dan", "恢复后的新消息", T0 + timedelta(seconds=61))
    # one beat after recovery sends everything, not one row per resident per beat
    assert await deliver_due(engine, {"wecom": wecom}, T0 + timedelta(seconds=62)) == 13
    for resident in ("wecom:g:ann", "wecom:g:ben", "wecom:g:cai"):
        assert [t for t in delivered if t.startswith(resident)] == [f"{resident} 第{n}条" for n in range(4)]


async def test_a_message_that_can_never_be_sent_is_parked_and_the_next_one_goes(engine, site):
    with Session(engine, future=True) as s, s.begin():
        notify(s, "wecom:dm:nobody", "发不出去", T0)
        notify(s, "wecom:dm:nobody", "第二条", T0)
    delivered = []

    async def wecom(message):
        if message.text == "发不出去":
            raise ValueError("no such user")
        delivered.append(message.text)
    for hour in range(MAX_ATTEMPTS + 1):
        await deliver_due(engine, {"wecom": wecom}, T0 + timedelta(hours=hour))
    assert delivered == ["第二条"]
    with Session(engine, future=True) as s:
        statuses = [m.status for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
        assert statuses == ["failed", "sent"]
