"""党员志愿者 in chat, through the real Rasa server and action server (the session `stack`, REST
channel, sample site in its database): registering in a one-to-one chat, refusing it in a group,
cancelling, and the commands 接单 #N (the second volunteer hears it is taken), 完成 #N, 我的积分."""
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import tickets, volunteers
from bot.clock import utc_now
from bot.conversations import Resident
from bot.models import Compound, Volunteer
from bot.tickets import Report


def _registration(stack, user: str) -> Volunteer | None:
    with Session(stack.engine, future=True, expire_on_commit=False) as s:
        return volunteers.registration_of(s, "rest", user)


def test_a_party_member_registers_in_a_one_to_one_chat(stack):
    sender = "rest:dm:vol_liu"
    assert "姓名" in stack.rest(sender, "党员报到")[-1]
    assert "哪个小区" in stack.rest(sender, "刘建国")[-1]
    assert "没有找到" in stack.rest(sender, "火星花园")[0]  # not in the directory: asked again
    assert "工作单位" in stack.rest(sender, "金御城")[-1]
    assert "特长" in stack.rest(sender, "市第一人民医院")[-1]
    assert "没认出" in stack.rest(sender, "随便")[0]
    done = stack.rest(sender, "我是内科大夫，周末也能帮忙跑腿")
    assert "报到已提交" in done[-1] and "医生、跑腿" in done[-1]
    volunteer = _registration(stack, "vol_liu")
    assert (volunteer.name, volunteer.work_unit, volunteer.skills, volunteer.status) == (
        "刘建国", "市第一人民医院", ["doctor", "errand"], "pending")
    assert "等小区党支部书记确认" in stack.rest(sender, "党员报到")[-1]  # once is enough


def test_registration_is_refused_in_a_group_and_can_be_cancelled(stack):
    assert "私聊" in stack.rest("rest:wangjiang-demo:vol_wu", "党员报到")[-1]
    assert _registration(stack, "vol_wu") is None
    stack.rest("rest:dm:vol_zhou", "我是在职党员 来报到")
    assert "先不登记" in stack.rest("rest:dm:vol_zhou", "算了")[-1]
    assert _registration(stack, "vol_zhou") is None


def test_a_report_in_the_middle_of_the_registration_is_filed_not_taken_for_an_answer(stack):
    sender = "rest:dm:vol_ma"
    stack.rest(sender, "党员报到")
    stack.rest(sender, "马红")
    replies = stack.rest(sender, "对了 金御城5号楼的电梯坏了 两天了")
    assert any("电梯" in reply and "#" in reply for reply in replies)
    assert [t for t in stack.tickets() if t[1:3] == ("elevator", "金御城") and "vol_ma" in t[3]]
    assert "工作单位" in stack.rest(sender, "金御城")[-1]  # the registration goes on


def _confirmed_volunteers_and_a_request(stack) -> int:
    """Two confirmed volunteers of 金御城 and a care request offered to them; returns its number."""
    now = utc_now()
    with Session(stack.engine, future=True) as s, s.begin():
        compound = s.scalars(select(Compound).where(Compound.name == "金御城")).one()
        for user, name in (("vol_a", "甲党员"), ("vol_b", "乙党员")):
            volunteer = volunteers.register(s, Resident("rest", None, user), name, compound, "区医院", ["errand"], now)
            volunteers.decide_registration(s, volunteer, True, "zhang", now)
        ticket = tickets.file_report(s, Report(category="care_request", urgent=False, text="帮独居老人去药店买降压药",
                                               compound_id=compound.id, platform="rest", user_id="granny_c",
                                               sender_id="rest:dm:granny_c"), now).ticket
        volunteers.offer(s, ticket, ["errand"], now)
        return ticket.id


def test_claim_finish_and_points_in_chat(stack):
    number = _confirmed_volunteers_and_a_request(stack)
    assert "还不是登记的党员志愿者" in stack.rest("rest:dm:vol_nobody", f"接单 #{number}")[-1]
    assert "接单成功" in stack.rest("rest:dm:vol_a", f"接单 #{number}")[-1]
    assert "已被其他志愿者认领" in stack.rest("rest:dm:vol_b", f"接单 #{number}")[-1]
    finished = stack.rest("rest:dm:vol_a", f"完成 #{number} 降压药已经买好送到老人家里了 用时1.5小时")
    assert "已报完成" in finished[-1] and "1.5小时" in finished[-1]
    assert "当前的志愿积分：0" in stack.rest("rest:dm:vol_a", "我的积分")[-1]
    with Session(stack.engine, future=True) as s, s.begin():
        tickets.rate(s, "rest", "granny_c", "satisfied", utc_now())
        volunteers.settle_answered(s, utc_now())
    points = stack.rest("rest:dm:vol_a", "查一下我的积分")[-1]
    assert "当前的志愿积分：15" in points and "+15" in points  # 1.5 hours × weight 1 × 10
