"""Party-member volunteers (bot/volunteers.py) on SQLite and PostgreSQL: registration and the
secretary's confirmation, offering by skill, the atomic first claim (two threads at once),
finishing, the residents' confirmation, points credited once, the claim timeout, the ledger."""
import re
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import tickets, volunteer_figures, volunteers, worker
from bot.conversations import Resident
from bot.models import Compound, OutboxMessage, PointsEntry, Ticket, Volunteer, VolunteerTask
from bot.org import import_org_file
from bot.skills import parse_skills
from bot.tickets import Report
from conftest import ROOT

T0 = datetime(2026, 11, 20, 2, 0)  # 10:00 in Beijing
DOCTOR = Resident("wecom", None, "doc", "李医生")
RUNNER = Resident("wecom", None, "run", "赵跑腿")
LAWYER = Resident("wecom", None, "law", "钱律师")
OTHER_COMPOUND = Resident("wecom", None, "far", "孙护士")


@pytest.fixture
def site(engine):
    """The sample org directory; three confirmed volunteers in 金御城 (doctor+nurse, errands, lawyer),
    one nurse in 翠柳苑."""
    import_org_file(engine, ROOT / "org" / "sample_site.yml")
    with Session(engine, future=True) as s, s.begin():
        compounds = {c.name: c for c in s.scalars(select(Compound))}
        for resident, compound, skills in ((DOCTOR, "金御城", ["doctor", "nurse"]), (RUNNER, "金御城", ["errand"]),
                                           (LAWYER, "金御城", ["lawyer"]), (OTHER_COMPOUND, "翠柳苑", ["nurse"])):
            volunteer = volunteers.register(s, resident, resident.display_name, compounds[compound], "市第一医院",
                                            skills, T0)
            volunteers.decide_registration(s, volunteer, True, "zhang", T0)
    return engine


def care_request(s: Session, text: str, when: datetime = T0, user: str = "granny") -> Ticket:
    compound = s.scalars(select(Compound).where(Compound.name == "金御城")).one()
    return tickets.file_report(s, Report(category="care_request", urgent=False, text=text, compound_id=compound.id,
                                         platform="wecom", user_id=user, sender_id=f"wecom:grp:{user}",
                                         display_name="王奶奶"), when).ticket


def sent_to(s: Session, user: str) -> list[str]:
    return list(s.scalars(select(OutboxMessage.text).where(OutboxMessage.recipient == f"wecom:dm:{user}")
                          .order_by(OutboxMessage.id)))


def offers_to(s: Session, user: str) -> list[str]:
    return [text for text in sent_to(s, user) if text.startswith("【志愿服务】")]


def test_skills_are_read_from_free_text():
    assert parse_skills("我是社区医院的大夫，周末也能帮忙跑腿买菜") == ["doctor", "errand"]
    assert parse_skills("水电工") == ["electrician", "plumber"]
    assert parse_skills("啥都不会") == []
    assert volunteers.ticket_number("接单 ＃ 12") == 12 and volunteers.ticket_number("接单") is None
    assert volunteers.finish_note("完成 #12，已陪老人看病 用时2.5小时") == "已陪老人看病 用时2.5小时"
    assert [volunteers.hours_in(n) for n in ("用时2.5小时", "半小时", "送到了", "干了20个小时")] == [2.5, 0.5, 1.0, 8.0]


def test_registration_waits_for_the_secretary_who_tells_the_member(engine):
    import_org_file(engine, ROOT / "org" / "sample_site.yml")
    member = Resident("wecom", None, "newbie", "周同志")
    with Session(engine, future=True) as s, s.begin():
        compound = s.scalars(select(Compound).where(Compound.name == "金御城")).one()
        volunteer = volunteers.register(s, member, "周同志", compound, "区税务局", ["teacher"], T0)
        assert volunteer.status == "pending"
        assert any("【党员报到】周同志" in t for t in s.scalars(select(OutboxMessage.text).where(
            OutboxMessage.recipient == "wecom:dm:zhangsj")))  # 金御城's branch secretary
        with pytest.raises(volunteers.VolunteerError, match="等小区党支部书记确认"):
            volunteers.register(s, member, "周同志", compound, "区税务局", ["teacher"], T0)
        with pytest.raises(volunteers.VolunteerError, match="等小区党支部书记确认"):
            volunteers.claim(s, "wecom", "newbie", 1, T0)
        volunteers.decide_registration(s, volunteer, True, "zhang", T0)
        assert volunteer.status == "confirmed" and volunteer.decided_by == "zhang"
        assert "已确认" in sent_to(s, "newbie")[-1]
        with pytest.raises(volunteers.VolunteerError):
            volunteers.decide_registration(s, volunteer, False, "zhang", T0)


def test_a_care_request_is_offered_to_the_volunteers_whose_skills_fit(site):
    with Session(site, future=True) as s, s.begin():
        ticket_id = care_request(s, "我妈80多了血压一直高 想请医生上门看看 电话13912345678").id
    assert worker.volunteer_tick(site)["offered"] == [ticket_id]
    assert worker.volunteer_tick(site)["offered"] == []  # once
    with Session(site, future=True) as s:
        [offer] = offers_to(s, "doc")
        assert f"接单 #{ticket_id}" in offer and "139****5678" in offer and "13912345678" not in offer
        assert offers_to(s, "run") == offers_to(s, "law") == offers_to(s, "far") == []
        assert s.scalars(select(VolunteerTask)).one().skills == ["doctor"]


def test_a_request_needing_no_skill_goes_to_every_volunteer_of_the_compound(site):
    with Session(site, future=True) as s, s.begin():
        care_request(s, "家里老人一个人住 想有人每周来坐坐")
        volunteers.offer_care_requests(s, T0)
        assert [len(offers_to(s, u)) for u in ("doc", "run", "law", "far")] == [1, 1, 1, 0]


def test_a_volunteer_whose_skills_do_not_fit_cannot_claim(site):
    with Session(site, future=True) as s, s.begin():
        ticket = care_request(s, "想找个律师问问遗嘱怎么写")
        volunteers.offer_care_requests(s, T0)
        with pytest.raises(volunteers.VolunteerError, match="律师"):
            volunteers.claim(s, "wecom", "run", ticket.id, T0)
        with pytest.raises(volunteers.VolunteerError, match="不是派给您小区"):
            volunteers.claim(s, "wecom", "far", ticket.id, T0)  # another compound's volunteer
        assert "接单成功" in volunteers.claim(s, "wecom", "law", ticket.id, T0)


def test_two_volunteers_claiming_at_the_same_moment_one_wins(site):
    """Two threads, each with its own connection, claim in the same instant: exactly one has it."""
    with Session(site, future=True) as s, s.begin():
        ticket_id = care_request(s, "老人家里没人 想找人陪着去医院看病").id  # doctor or nurse: only 李医生 fits
        volunteers.offer(s, s.get(Ticket, ticket_id), [], T0)  # anyone may take it
    barrier, replies = threading.Barrier(2), {}

    def claim(user: str) -> None:
        with Session(site, future=True) as s, s.begin():
            barrier.wait()
            replies[user] = volunteers.claim(s, "wecom", user, ticket_id, T0)

    threads = [threading.Thread(target=claim, args=(user,)) for user in ("doc", "run")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(reply.startswith("接单成功") for reply in replies.values()) == [False, True]
    [loser] = [reply for reply in replies.values() if not reply.startswith("接单成功")]
    assert "已被其他志愿者认领" in loser
    with Session(site, future=True) as s:
        task = s.scalars(select(VolunteerTask)).one()
        winner = [user for user, reply in replies.items() if reply.startswith("接单成功")][0]
        assert task.status == "claimed" and task.volunteer.user_id == winner
        assert any("已由党员志愿者" in t for t in s.scalars(select(OutboxMessage.text).where(
            OutboxMessage.recipient == "wecom:grp:granny")))


def _claimed_and_done(s: Session, note: str = "已陪老人看完病 用时2小时") -> Ticket:
    ticket = care_request(s, "想请医生上门帮老人量量血压")
    volunteers.offer_care_requests(s, T0)
    volunteers.claim(s, "wecom", "doc", ticket.id, T0 + timedelta(minutes=5))
    assert "已报完成" in volunteers.finish(s, "wecom", "doc", ticket.id, note, T0 + timedelta(hours=3))
    return ticket


def test_finishing_asks_the_resident_whose_answer_credits_points_once(site):
    with Session(site, future=True) as s, s.begin():
        ticket = _claimed_and_done(s)
        assert ticket.status == "resolved"
        assert "请回复“满意”" in s.scalars(select(OutboxMessage.text).where(
            OutboxMessage.recipient == "wecom:grp:granny").order_by(OutboxMessage.id.desc())).first()
        assert volunteers.settle_answered(s, T0 + timedelta(hours=4)) == []  # no answer yet
        tickets.rate(s, "wecom", "granny", "satisfied", T0 + timedelta(hours=5))
        ticket_id = ticket.id
    assert worker.volunteer_tick(site)["settled"] == [ticket_id]
    assert worker.volunteer_tick(site)["settled"] == []
    with Session(site, future=True) as s, s.begin():
        task = s.scalars(select(VolunteerTask)).one()
        assert (task.status, task.confirmed_by, task.rating, task.hours) == ("confirmed", "居民", "satisfied", 2.0)
        [entry] = s.scalars(select(PointsEntry)).all()
        assert entry.points == 2 * 2 * volunteers.POINTS_PER_HOUR  # 2 hours of a doctor's work (weight 2)
        assert "积分+40" in sent_to(s, "doc")[-1]
        with pytest.raises(volunteers.VolunteerError):
            volunteers.confirm(s, task, T0 + timedelta(days=3), "zhang")
        assert s.scalar(select(func.count()).select_from(PointsEntry)) == 1


def test_an_unsatisfied_resident_gives_the_task_back_to_the_volunteer(site):
    with Session(site, future=True) as s, s.begin():
        ticket = _claimed_and_done(s)
        tickets.rate(s, "wecom", "granny", "unsatisfied", T0 + timedelta(hours=5))
        volunteers.settle_answered(s, T0 + timedelta(hours=5))
        task = s.scalars(select(VolunteerTask)).one()
        assert task.status == "claimed" and task.volunteer.user_id == "doc" and ticket.status == "reopened"
        assert "不满意" in sent_to(s, "doc")[-1]
        assert s.scalar(select(func.count()).select_from(PointsEntry)) == 0


def test_the_secretary_confirms_only_after_48_hours_without_an_answer(site):
    with Session(site, future=True) as s, s.begin():
        ticket = _claimed_and_done(s, "送药上门")
        task = s.scalars(select(VolunteerTask)).one()
        with pytest.raises(volunteers.VolunteerError, match="居民还可以确认"):
            volunteers.confirm_by_secretary(s, task, task.done_at + timedelta(hours=47), "zhang")
        points = volunteers.confirm_by_secretary(s, task, task.done_at + timedelta(hours=48), "zhang")
        assert points == 1 * 2 * volunteers.POINTS_PER_HOUR  # no hours stated: one hour
        assert task.confirmed_by == "zhang" and ticket.status == "closed"


def test_a_claim_not_finished_in_time_goes_back_to_the_pool_with_a_reminder(site):
    with Session(site, future=True) as s, s.begin():
        ticket = care_request(s, "帮忙去药店买点降压药", user="grandpa")  # errands: 赵跑腿
        volunteers.offer(s, ticket, [], T0)
        volunteers.claim(s, "wecom", "run", ticket.id, T0)
        assert volunteers.return_overdue_claims(s, T0 + volunteers.CLAIM_TIME - timedelta(minutes=1)) == []
        assert volunteers.return_overdue_claims(s, T0 + volunteers.CLAIM_TIME) == [ticket.id]
        assert volunteers.return_overdue_claims(s, T0 + volunteers.CLAIM_TIME) == []
        task = s.scalars(select(VolunteerTask)).one()
        assert task.status == "open" and task.volunteer_id is None
        assert "超过时限未报完成" in sent_to(s, "run")[-1]
        assert f"接单 #{ticket.id}" in sent_to(s, "doc")[-1]  # offered again to the others
        with pytest.raises(volunteers.VolunteerError, match="不是您正在办"):
            volunteers.finish(s, "wecom", "run", ticket.id, "买好了", T0 + volunteers.CLAIM_TIME)
        assert "接单成功" in volunteers.claim(s, "wecom", "doc", ticket.id, T0 + volunteers.CLAIM_TIME)


def test_the_ledger_adds_up_and_exchanges_never_overdraw(site):
    with Session(site, future=True) as s, s.begin():
        _claimed_and_done(s, "陪老人聊天 用时3小时")
        task = s.scalars(select(VolunteerTask)).one()
        volunteers.confirm_by_secretary(s, task, T0 + timedelta(days=3), "zhang")
        doctor = task.volunteer
        volunteers.spend(s, doctor, 25, "兑换米面油一份", "zhang", T0 + timedelta(days=4))
        with pytest.raises(volunteers.VolunteerError, match="不够兑换"):
            volunteers.spend(s, doctor, 36, "洗衣液", "zhang", T0 + timedelta(days=4))
        with pytest.raises(volunteers.VolunteerError, match="事由"):
            volunteers.spend(s, doctor, 1, "  ", "zhang", T0 + timedelta(days=4))
        entries = volunteers.ledger(s, doctor.id)
        assert [e.points for e in entries] == [-25, 60]
        assert volunteers.balance(s, doctor.id) == sum(e.points for e in entries) == 35
        reply = volunteers.points_reply(s, "wecom", "doc")
        assert "当前的志愿积分：35" in reply and "-25 兑换：兑换米面油一份" in reply and "+60" in reply
        assert "还不是登记的党员志愿者" in volunteers.points_reply(s, "wecom", "stranger")


def test_figures_and_the_monthly_ranking_per_community(site):
    with Session(site, future=True) as s, s.begin():
        _claimed_and_done(s)
        volunteers.confirm_by_secretary(s, s.scalars(select(VolunteerTask)).one(), T0 + timedelta(days=3), "zhang")
        start, end = T0 - timedelta(days=1), T0 + timedelta(days=10)
        numbers = volunteer_figures.figures(s, None, start, end)
        guangming = numbers["光明社区"]
        assert (guangming.registered, len(guangming.active), guangming.claimed, guangming.points_issued) == (4, 1, 1, 40)
        assert guangming.median_claim_minutes == 5
        hexie_only = {c.id for c in s.scalars(select(Compound).where(Compound.name == "春晖家园"))}
        assert volunteer_figures.figures(s, hexie_only, start, end) == {}
        [(volunteer, points)] = volunteer_figures.monthly_ranking(s, None, start, end)["光明社区"]
        assert (volunteer.name, points) == ("李医生", 40)
        assert s.scalar(select(func.count()).select_from(Volunteer)) == 4


def said_twice(text: str) -> list[str]:
    """Words a text says twice in a row ("已已确认", "联系居民居民")."""
    return re.findall(r"(已|[\u4e00-\u9fff]{2,4})\1", text)


def test_what_volunteers_and_secretaries_are_told_never_says_a_word_twice(site):
    with Session(site, future=True) as s, s.begin():
        compound = s.scalars(select(Compound).where(Compound.name == "金御城")).one()
        ticket = tickets.file_report(s, Report(category="care_request", urgent=False, text="想找人帮老人去医院取药",
                                               compound_id=compound.id, platform="wecom", user_id="anon",
                                               sender_id="wecom:grp:anon"), T0).ticket  # no display name
        volunteers.offer(s, ticket, [], T0)
        claimed = volunteers.claim(s, "wecom", "run", ticket.id, T0)
        assert "联系居民，" in claimed and said_twice(claimed) == []
        tickets.resolve(s, ticket, T0 + timedelta(hours=1), "已取药", "张书记")
        other = care_request(s, "老人想有人陪着散散步", user="walker")
        tickets.resolve(s, other, T0 + timedelta(hours=1), "已安排", "张书记")
        with pytest.raises(volunteers.VolunteerError) as refused:
            volunteers.offer(s, other, [], T0 + timedelta(hours=2))
        assert "已办结" in str(refused.value) and said_twice(str(refused.value)) == []
        doctor = s.scalars(select(Volunteer).where(Volunteer.user_id == "doc")).one()
        with pytest.raises(volunteers.VolunteerError) as refused:
            volunteers.decide_registration(s, doctor, True, "zhang", T0)
        assert "报到已确认" in str(refused.value) and said_twice(str(refused.value)) == []
