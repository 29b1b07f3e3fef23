"""What a resident says while reports wait for their compound (bot/turn.py): a new report, a
never-mind said any way, a suggestion's number, a yes meant for staff or for another answer. Each
of these once lost a report, filed one nobody confirmed, or answered "没有找到这个小区"."""
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Handoff
from bot.replies import ASK_COMPOUND, REPORT_CANCELLED, UNKNOWN_COMPOUND
from test_resident_compounds import a_day_passes
from test_turn import JINYU_GROUP, Chat, clock, handoffs_of, sample_site, ticket_rows  # noqa: F401 - fixtures

CUILIU = [{"entity": "compound", "value": "翠柳苑", "start": 0, "end": 3}]
SUNSHINE = [{"entity": "compound", "value": "阳光花园", "start": 0, "end": 4}]  # not in the directory


async def unsure_lift(chat: Chat) -> list[str]:
    """A probable lift report the bot asks about ("是要反映电梯的问题吗？")."""
    return await chat.say("那个梯子又不对劲了", "nlu_fallback", 0.4,
                          ranking=[("report_elevator", 0.3), ("report_facilities", 0.25)])


def handoff_compounds(engine) -> list[str]:
    with Session(engine, future=True) as session:
        return [h.compound.name if h.compound else None for h in session.scalars(select(Handoff))]


async def test_a_report_naming_its_compound_files_with_the_one_waiting(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:lin")
    assert (await resident.say("楼道灯坏了", "report_power"))[-1] == ASK_COMPOUND
    replies = await resident.say("翠柳苑3号楼电梯困人了", "report_elevator", entities=CUILIU)
    assert "【紧急】" in replies[0]
    assert sorted(row[:2] for row in ticket_rows(sample_site)) == [("elevator", "翠柳苑"), ("power", "翠柳苑")]
    assert resident.slots["pending"] is None


async def test_a_report_after_one_naming_an_unknown_compound_leaves_that_one_asked(sample_site):  # noqa: F811
    group = Chat(f"{JINYU_GROUP}:zhou")
    assert "金御城" in (await group.say("阳光花园门口的车堵了一上午了", "report_parking", entities=SUNSHINE))[-1]
    replies = await group.say("翠柳苑3号楼电梯坏了", "report_elevator", entities=CUILIU)
    assert ticket_rows(sample_site) == [("elevator", "翠柳苑", None, ["zhou"])]
    assert "阳光花园门口的车堵了一上午了" in replies[-1] and "金御城" in replies[-1]  # still asked
    await group.say("还有楼道灯也坏了", "report_power")  # the group's compound: filed there, the parking not
    assert [row[:2] for row in ticket_rows(sample_site)] == [("elevator", "翠柳苑"), ("power", "金御城")]
    await group.say("是的", "affirm")
    assert ticket_rows(sample_site)[-1][:2] == ("parking", "金御城")


async def test_never_mind_said_any_way_drops_the_waiting_report(sample_site):  # noqa: F811
    for number, (text, intent) in enumerate([("算了", "nlu_fallback"), ("不用了 谢谢", "thank"), ("算了", "deny")]):
        resident = Chat(f"wecom:dm:wu{number}")
        await resident.say("楼道灯坏了", "report_power")
        assert await resident.say(text, intent, confidence=0.5) == [REPORT_CANCELLED]
        assert resident.slots["pending"] is None
    group = Chat(f"{JINYU_GROUP}:qian")
    await group.say("阳光花园门口的车堵了一上午了", "report_parking", entities=SUNSHINE)
    assert await group.say("算了", "deny") == [REPORT_CANCELLED]  # not "阳光花园不归本群…"
    assert ticket_rows(sample_site) == []


async def test_a_suggestions_number_is_taken_while_the_compound_is_asked(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:sun")
    await resident.say("楼道灯坏了", "report_power")
    assert (await resident.say("暖气的事问一下", "ask_info"))[0].startswith("猜你想问")
    replies = await resident.say("1", "nlu_fallback", confidence=0.3)
    assert replies != [UNKNOWN_COMPOUND] and "暖" in replies[0]
    assert "供电照明" in (await resident.say("翠柳苑", "inform"))[0]  # the report still waited


async def test_with_staff_a_yes_or_no_or_a_greeting_is_theirs(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:he")
    await resident.say("楼道灯坏了", "report_power")
    await resident.say("转人工", "request_human")
    assert await resident.say("不是", "deny") == []
    assert await resident.say("你好 在吗", "greet") == []
    assert "供电照明" in (await resident.say("翠柳苑", "inform"))[0]  # a compound still files it
    group = Chat(f"{JINYU_GROUP}:xu")
    await unsure_lift(group)
    await group.say("转人工", "request_human")
    assert await group.say("是的", "affirm") == []
    assert [row[0] for row in ticket_rows(sample_site)] == ["power"]


async def test_an_urgent_report_waiting_for_its_compound_goes_to_staff_at_once(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:ma")
    replies = await resident.say("电梯困人了 里面有老人", "report_elevator")
    assert ASK_COMPOUND in replies
    assert handoffs_of(sample_site, resident.sender) == [("urgent", "waiting")]
    await resident.say("我也不知道叫啥", "nlu_fallback", confidence=0.4)  # the bot's question: staff see it too
    assert resident.slots["pending"] is not None
    await resident.say("翠柳苑", "inform")
    assert ticket_rows(sample_site)[0][:2] == ("elevator", "翠柳苑")


async def test_a_yes_after_the_bot_answered_something_else_asks_again(sample_site):  # noqa: F811
    group = Chat(f"{JINYU_GROUP}:gao")
    await unsure_lift(group)
    assert await group.say("你好", "greet")
    replies = await group.say("好的", "affirm")  # to the greeting's answer, perhaps
    assert ticket_rows(sample_site) == [] and "那个梯子又不对劲了" in replies[0]
    await group.say("是", "affirm")  # to the question asked again
    assert [row[0] for row in ticket_rows(sample_site)] == ["elevator"]


async def test_a_late_yes_to_the_bots_question_after_an_urgent_report_files_it(sample_site, clock):  # noqa: F811
    resident = Chat("wechat_kf:dm:tang")
    await resident.say("金御城", "inform")
    a_day_passes(sample_site)
    replies = await resident.say("电梯困人了 里面有老人", "report_elevator")
    assert "还是金御城吗" in "".join(replies) and handoffs_of(sample_site, resident.sender)
    clock[0] += timedelta(minutes=40)
    assert "电梯困人了 里面有老人" in (await resident.say("是的", "affirm"))[0]  # the bot's own question, again
    await resident.say("是的", "affirm")
    assert ticket_rows(sample_site)[0][:2] == ("elevator", "金御城")


async def test_the_urgent_handoff_is_placed_in_the_compound_given_after(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:luo")
    await resident.say("电梯困人了 里面有老人", "report_elevator")
    await resident.say("翠柳苑", "inform")
    assert handoff_compounds(sample_site) == ["翠柳苑"]


async def test_a_never_mind_that_goes_on_cancels_nothing(sample_site):  # noqa: F811
    group = Chat(f"{JINYU_GROUP}:cao")
    await unsure_lift(group)
    assert await group.say("不用问了 赶紧派人来", "nlu_fallback", confidence=0.4) != [REPORT_CANCELLED]
    assert group.slots["pending"] is not None


async def test_a_never_mind_in_an_urgent_handoff_still_cancels_the_bots_question(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:deng")
    await resident.say("电梯困人了 里面有老人", "report_elevator")
    await resident.say("我报的事怎么样了", "ask_ticket_status")
    assert await resident.say("算了", "nlu_fallback", confidence=0.4) == [REPORT_CANCELLED]


@pytest.mark.parametrize("between, intent", [("哈哈 你是机器人吗", "chitchat"), ("👍", "affirm")])
async def test_a_yes_after_small_talk_or_an_emoji_asks_again(sample_site, between, intent):  # noqa: F811
    group = Chat(f"{JINYU_GROUP}:fang")
    await unsure_lift(group)
    await group.say(between, intent)
    assert "那个梯子又不对劲了" in (await group.say("好的", "affirm"))[0]
    assert ticket_rows(sample_site) == []


async def test_the_problem_said_again_with_its_compound_gets_one_receipt(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:yuan")
    await resident.say("楼道灯坏了", "report_power")
    replies = await resident.say("翠柳苑3号楼楼道灯坏了", "report_power", entities=CUILIU)
    assert len(replies) == 1 and "已登记工单#1" in replies[0]
    again = await resident.say("翠柳苑3号楼楼道灯坏了", "report_power", entities=CUILIU)
    assert "您已反映过这个问题" in again[0] and "户居民反映" not in again[0]


async def test_never_minds_the_model_reads_as_a_yes_or_as_nothing_cancel(sample_site):  # noqa: F811
    for number, (text, intent) in enumerate([("好的，不用了", "affirm"), ("算了算了", "nlu_fallback"),
                                             ("那就算了吧", "chitchat"), ("不用麻烦了 谢谢你", "thank")]):
        group = Chat(f"{JINYU_GROUP}:ye{number}")
        await unsure_lift(group)
        assert await group.say(text, intent, confidence=0.6) == [REPORT_CANCELLED]
    assert ticket_rows(sample_site) == []


async def test_in_an_urgent_handoff_only_a_compound_answers_which(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:jiang")
    await resident.say("电梯困人了 里面有老人", "report_elevator")
    for text, intent in [("在吗", "greet"), ("不是，是5号楼", "deny"), ("3号楼", "inform")]:
        assert await resident.say(text, intent) == []  # staff read it and answer
    assert resident.slots["pending"] is not None
    await resident.say("翠柳苑", "inform")
    assert ticket_rows(sample_site)[0][:2] == ("elevator", "翠柳苑")


async def test_a_problem_said_again_urgent_keeps_the_urgent_notice(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:wei")
    await resident.say("3号楼楼道灯坏了", "report_power")
    replies = await resident.say("翠柳苑3号楼楼道灯坏了 电线冒烟了", "report_power", entities=CUILIU)
    assert any("已同时通知网格、社区和街道" in reply for reply in replies)


async def test_asking_for_a_person_with_a_report_and_no_compound_hands_over(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:xie")
    await resident.say("楼道灯坏了 转人工", "report_power")
    assert handoffs_of(sample_site, resident.sender) == [("asked", "waiting")]
    await resident.say("翠柳苑", "inform")
    assert handoff_compounds(sample_site) == ["翠柳苑"]


async def test_a_waiting_report_of_no_known_category_is_forgotten_not_a_crash(sample_site):  # noqa: F811
    resident = Chat("wecom:dm:shi")
    resident.slots["pending"] = {"reports": [{"category": "bogus", "urgent": False, "text": "x"}], "asked": "report"}
    assert await resident.say("是的", "affirm")
    assert ticket_rows(sample_site) == []
