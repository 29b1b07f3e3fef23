"""常住小区: a one-to-one resident's compound is kept in the database, used while they go on
talking, and offered back ("还是金御城吗？") when they come back later."""
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ResidentCompound
from bot.replies import ASK_COMPOUND, REPORT_CANCELLED, offered_back
from test_turn import Chat, sample_site, ticket_rows  # noqa: F401 - sample_site: the autouse fixture


def a_day_passes(engine) -> None:
    with Session(engine, future=True) as session, session.begin():
        for row in session.scalars(select(ResidentCompound)):
            row.confirmed_at -= timedelta(days=1)


async def test_a_compound_named_on_its_own_is_kept_and_offered_back_the_next_day(sample_site):  # noqa: F811
    resident = Chat("wechat_mp:dm:oAunt")
    await resident.say("金御城", "inform")  # the answer to the welcome's question
    assert "供暖" in (await resident.say("7号楼暖气不热", "report_heating"))[0]
    assert ticket_rows(sample_site)[-1][:2] == ("heating", "金御城")
    a_day_passes(sample_site)
    fresh_tracker = Chat("wechat_mp:dm:oAunt")  # the database remembers, not the conversation's slots
    assert (await fresh_tracker.say("楼道灯坏了", "report_power"))[-1] == offered_back("金御城")
    assert len(ticket_rows(sample_site)) == 1
    assert "供电照明" in (await fresh_tracker.say("是的", "affirm"))[0]
    assert ticket_rows(sample_site)[-1][:2] == ("power", "金御城")
    # confirmed again: the rest of this visit files without asking
    assert "电梯" in (await fresh_tracker.say("3号楼电梯坏了", "report_elevator"))[0]


async def test_no_to_the_compound_offered_back_asks_which_and_remembers_the_new_one(sample_site):  # noqa: F811
    resident = Chat("wechat_kf:dm:wmUncle")
    await resident.say("金御城", "inform")
    a_day_passes(sample_site)
    assert (await resident.say("楼道灯坏了", "report_power"))[-1] == offered_back("金御城")
    assert await resident.say("不是", "deny") == [ASK_COMPOUND]
    assert "供电照明" in (await resident.say("翠柳苑", "inform"))[0]
    assert ticket_rows(sample_site)[-1][:2] == ("power", "翠柳苑")
    a_day_passes(sample_site)
    assert (await resident.say("暖气不热", "report_heating"))[-1] == offered_back("翠柳苑")


async def test_never_mind_to_the_compound_offered_back_files_nothing_and_asks_nothing(sample_site):  # noqa: F811
    resident = Chat("wechat_kf:dm:wmUncle")
    await resident.say("金御城", "inform")
    a_day_passes(sample_site)
    assert (await resident.say("楼道灯坏了", "report_power"))[-1] == offered_back("金御城")
    assert await resident.say("算了 不报了", "deny") == [REPORT_CANCELLED]
    assert ticket_rows(sample_site) == []


async def test_groups_never_use_a_remembered_compound(sample_site):  # noqa: F811
    await Chat("wecom:dm:zhao").say("金御城", "inform")
    replies = await Chat("wecom:fuzz-unbound:zhao").say("小助手 楼道灯坏了", "report_power")
    assert "哪个小区" in replies[-1]
