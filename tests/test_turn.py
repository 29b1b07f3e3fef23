"""One turn (bot/turn.py) through the Rasa action, driven with a Tracker and a CollectingDispatcher
against the sample site: what the resident hears, what is filed, what waits, who takes over."""
from datetime import timedelta

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.actions import ActionTurn
from bot import faq, faq_store, handoff, tickets
from bot.clock import utc_now
from bot.db import shared_engine
from bot.migrate import upgrade
from bot.models import Handoff, Ticket
from bot.org import import_org_file
from bot.replies import ALSO_ASKED, COMPOUND_NOTED, GREETING, IF_A_REPORT, NO_WORDS, NOT_UNDERSTOOD, UNKNOWN_COMPOUND
from bot.settings import faq_file
from conftest import ROOT

JINYU_GROUP = "wecom:wrOgQhDgAAJinYuCheng01"  # bound to 金御城 in org/sample_site.yml


@pytest.fixture(autouse=True)
def sample_site(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    shared_engine.cache_clear()
    engine = shared_engine()
    upgrade(engine)
    import_org_file(engine, ROOT / "org" / "sample_site.yml")
    yield engine
    engine.dispose()
    shared_engine.cache_clear()


@pytest.fixture
def clock(monkeypatch) -> list:
    """The action's clock, moved on by `clock[0] += timedelta(...)`."""
    now = [utc_now()]
    monkeypatch.setattr("actions.actions.utc_now", lambda: now[0])
    return now


def tracker_for(sender: str, text: str, intent: str, confidence: float = 0.95, entities=(), slots=None,
                ranking=()) -> Tracker:
    message = {"text": text, "intent": {"name": intent, "confidence": confidence},
               "intent_ranking": [{"name": intent, "confidence": confidence},
                                  *({"name": n, "confidence": c} for n, c in ranking)],
               "entities": list(entities), "metadata": {"display_name": "王阿姨"}}
    return Tracker(sender, slots or {}, message, [], False, None, {}, "action_listen")


class Chat:
    """One resident's conversation: each message runs the action with the slots the last left."""

    def __init__(self, sender: str):
        self.sender, self.slots = sender, {}

    async def say(self, text: str, intent: str, confidence: float = 0.95, entities=(), ranking=()) -> list[str]:
        replies, slots = await run(ActionTurn(), tracker_for(self.sender, text, intent, confidence, entities,
                                                             self.slots, ranking))
        self.slots.update(slots)
        return replies


async def run(action, tracker: Tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return ([m.get("text") or m.get("response") for m in dispatcher.messages],
            {e["name"]: e["value"] for e in events if e["event"] == "slot"})


def ticket_rows(engine):
    with Session(engine, future=True) as s:
        return [(t.category, t.compound.name, t.building, [r.user_id for r in t.reporters])
                for t in s.scalars(select(Ticket).order_by(Ticket.id))]


def handoffs_of(engine, sender: str) -> list[tuple[str, str]]:
    with Session(engine, future=True) as s:
        return [(h.reason, h.status) for h in s.scalars(select(Handoff).where(Handoff.sender_id == sender))]


async def test_a_report_in_a_bound_group_is_filed_with_who_and_when(sample_site):
    entities = [{"entity": "building", "value": "7"}, {"entity": "unit", "value": "2"}]
    replies, slots = await run(ActionTurn(), tracker_for(
        f"{JINYU_GROUP}:alice", "7号楼2单元暖气不热", "report_heating", entities=entities))
    assert len(replies) == 1
    assert "#1" in replies[0] and "供暖" in replies[0] and "张书记" in replies[0]
    assert "138****0004" in replies[0] and "前办结" in replies[0]
    assert slots["pending"] is None
    assert ticket_rows(sample_site) == [("heating", "金御城", "7", ["alice"])]


async def test_the_compound_named_in_the_message_wins_over_the_group(sample_site):
    await run(ActionTurn(), tracker_for(f"{JINYU_GROUP}:bob", "翠柳苑的路灯坏了", "report_power",
                                        entities=[{"entity": "compound", "value": "翠柳苑小区"}]))
    assert ticket_rows(sample_site)[0][1] == "翠柳苑"


async def test_without_a_compound_the_report_waits_and_the_answer_files_it(sample_site):
    carol = Chat("wecom:dm:carol")
    assert "哪个小区" in (await carol.say("暖气不热", "report_heating"))[-1]
    assert carol.slots["pending"]["reports"][0]["category"] == "heating" and ticket_rows(sample_site) == []
    assert await carol.say("火星基地", "inform") == [UNKNOWN_COMPOUND]
    replies = await carol.say("金御城", "inform")
    assert "供暖" in replies[0] and carol.slots["pending"] is None
    assert ticket_rows(sample_site) == [("heating", "金御城", None, ["carol"])]
    # one-to-one, the compound is remembered: the next report is filed without asking again
    replies = await carol.say("楼道灯坏了", "report_power")
    assert "供电照明" in replies[0] and ticket_rows(sample_site)[-1][:2] == ("power", "金御城")


async def test_a_question_while_asked_for_the_compound_is_answered_and_the_report_still_waits(sample_site):
    chat = Chat("wecom:dm:dora")
    await chat.say("楼下天天半夜装修", "report_noise")
    assert "没有未办结" in (await chat.say("我报的事怎么样了", "ask_ticket_status"))[0]
    assert chat.slots["pending"] is not None
    await chat.say("还有单元门口的坡道太陡", "report_accessibility")  # a second report waits with it
    replies = await chat.say("翠柳苑", "inform")
    assert len(replies) == 2 and [r[:2] for r in ticket_rows(sample_site)] == [("noise", "翠柳苑"), ("accessibility", "翠柳苑")]


async def test_the_resident_can_cancel_while_asked_for_the_compound(sample_site):
    chat = Chat("wecom:dm:sun")
    await chat.say("楼上天天半夜剁肉 吵得睡不着", "report_noise")
    assert "不登记" in (await chat.say("还是不报了吧", "deny"))[0]
    assert chat.slots["pending"] is None and ticket_rows(sample_site) == []


async def test_a_compound_not_in_the_directory_is_asked_about_never_replaced(sample_site):
    chat = Chat(f"{JINYU_GROUP}:olga")
    named = [{"entity": "compound", "value": "阳光花园"}, {"entity": "building", "value": "5"}]
    [question] = await chat.say("阳光花园5栋电梯坏了两天了", "report_elevator", entities=named)
    assert question.startswith("阳光花园不在本群的小区名单里，是金御城吗")
    assert ticket_rows(sample_site) == []
    assert "电梯" in (await chat.say("是的", "affirm"))[0]
    assert ticket_rows(sample_site) == [("elevator", "金御城", "5", ["olga"])]
    other = Chat(f"{JINYU_GROUP}:pete")
    await other.say("阳光花园5栋电梯坏了两天了", "report_elevator", entities=named)
    assert "不登记" in (await other.say("不是", "deny"))[0]
    assert len(ticket_rows(sample_site)) == 1


async def test_an_urgent_report_hears_the_emergency_number_before_anything_else(sample_site):
    replies, _ = await run(ActionTurn(), tracker_for(f"{JINYU_GROUP}:dave", "楼道里好大的煤气味", "report_gas"))
    assert "96777" in replies[0] and "【紧急】" in replies[0]  # the site's gas company hotline
    assert "网格、社区和街道" in replies[1] and "工作人员" in replies[2]
    replies, slots = await run(ActionTurn(), tracker_for("wecom:dm:erin", "电梯困人了", "report_elevator"))
    assert "119" in replies[0] and "哪个小区" in replies[1] and slots["pending"]  # advice first, then the question


async def test_a_message_the_bot_does_not_understand_gets_a_helpful_fallback():
    replies, slots = await run(ActionTurn(), tracker_for("wecom:dm:y", "嗯嗯那个啥", "nlu_fallback", 0.4))
    assert replies == [NOT_UNDERSTOOD] and "转人工" in replies[0]
    assert slots["misunderstood"] is True


async def test_two_messages_not_understood_hand_over_but_emoji_never_count(sample_site):
    chat = Chat(f"{JINYU_GROUP}:zoe")
    assert await chat.say("👍👍", "nlu_fallback", 0.3) == [NO_WORDS]
    assert await chat.say("@社区小助手 😂😂", "nlu_fallback", 0.3) == [NO_WORDS]
    assert handoffs_of(sample_site, chat.sender) == []
    assert "供电照明" in (await chat.say("9栋楼道灯不亮", "report_power"))[0]
    await chat.say("嗯嗯那个啥", "nlu_fallback", 0.4)
    [notice] = await chat.say("就是那个呗", "nlu_fallback", 0.4)
    assert "没能明白" in notice and handoffs_of(sample_site, chat.sender) == [("not_understood", "waiting")]


async def test_while_staff_have_the_conversation_reports_are_still_filed_and_status_answered(sample_site):
    chat = Chat(f"{JINYU_GROUP}:mia")
    [notice] = await chat.say("转人工", "request_human")
    assert "转接" in notice and "照样可以告诉小助手" in notice
    assert await chat.say("你好 在吗", "greet") == []  # for staff, in the console's transcript
    assert "供电照明" in (await chat.say("9栋楼道灯不亮", "report_power"))[0]
    assert "#1" in (await chat.say("我报的事怎么样了", "ask_ticket_status"))[0]
    urgent = await chat.say("3号楼楼道冒烟了", "report_safety_security")
    assert "119" in urgent[0] and "网格、社区和街道" in urgent[1]
    assert "已经为您转接" in (await chat.say("人工！", "request_human"))[0]
    assert handoffs_of(sample_site, chat.sender) == [("asked", "waiting")]


async def test_an_urgent_report_hands_over_and_a_later_status_question_is_answered(sample_site):
    chat = Chat(f"{JINYU_GROUP}:noah")
    replies = await chat.say("电梯困人了 里面有个老人", "report_elevator")
    assert "【紧急】" in replies[0] and handoffs_of(sample_site, chat.sender) == [("urgent", "waiting")]
    assert "电梯" in (await chat.say("我报的事怎么样了", "ask_ticket_status"))[0]


async def test_someone_fallen_who_cannot_get_up_hears_120_first_and_all_levels_are_told(sample_site):
    chat = Chat(f"{JINYU_GROUP}:ruth")
    replies = await chat.say("我妈在卫生间摔倒了 爬不起来", "chitchat", 0.6)  # as the classifier took it before it knew
    assert "120" in replies[0] and "【紧急】" in replies[0] and "网格、社区和街道" in replies[1]
    assert [row[0] for row in ticket_rows(sample_site)] == ["care_request"]
    assert handoffs_of(sample_site, chat.sender) == [("urgent", "waiting")]


async def test_a_resident_who_says_they_do_not_want_to_live_hears_the_hotline_and_gets_a_person(sample_site):
    chat = Chat(f"{JINYU_GROUP}:olga")
    replies = await chat.say("我不想活了", "deny", 0.68)  # as the classifier took it before it knew
    assert "12356" in replies[0] and handoffs_of(sample_site, chat.sender) == [("urgent", "waiting")]
    figure = Chat(f"{JINYU_GROUP}:pete")
    replies = await figure.say("楼上装修吵得我都不想活了", "report_noise", 0.9)
    assert "12356" not in "".join(replies) and handoffs_of(sample_site, figure.sender) == []


async def test_a_request_for_a_person_inside_a_report_is_both(sample_site):
    for intent, confidence, ranking in (("request_human", 0.6, [("report_sanitation", 0.37), ("chitchat", 0.02)]),
                                        ("report_sanitation", 0.65, [("request_human", 0.3)])):
        chat = Chat(f"{JINYU_GROUP}:r-{intent}")
        replies = await chat.say("我要找人工，A座楼下的垃圾三天没人收了", intent, confidence, ranking=ranking,
                                 entities=[{"entity": "building", "value": "A"}])
        assert "环境卫生" in replies[0] and "转接" in replies[-1]
        assert handoffs_of(sample_site, chat.sender) == [("asked", "waiting")]
    assert [row[:3] for row in ticket_rows(sample_site)] == [("sanitation", "金御城", "A")]


async def test_a_question_taken_for_an_unsure_report_is_answered_with_how_to_report(sample_site):
    replies, _ = await run(ActionTurn(), tracker_for(
        f"{JINYU_GROUP}:gina", "物业费的收费标准是多少", "report_property_service", 0.6, ranking=(("report_water", 0.2),)))
    assert replies == [entry("property_fee").reply() + IF_A_REPORT] and "转人工" in replies[0]
    assert ticket_rows(sample_site) == []
    await run(ActionTurn(), tracker_for(f"{JINYU_GROUP}:gina", "5号楼楼道灯坏了好几天", "report_power", 0.6,
                                        ranking=(("report_facilities", 0.2),)))
    assert ticket_rows(sample_site) == [("power", "金御城", None, ["gina"])]


async def test_a_sure_report_that_also_asks_is_filed_and_its_question_answered(sample_site):
    replies, _ = await run(ActionTurn(), tracker_for(
        f"{JINYU_GROUP}:ivy", "物业费的收费标准是多少 感觉收多了", "report_property_service", 0.9))
    assert "已登记" in replies[0] and replies[-1] == ALSO_ASKED + entry("property_fee").reply()
    assert [row[:2] for row in ticket_rows(sample_site)] == [("property_service", "金御城")]


async def test_a_question_that_describes_a_danger_goes_the_report_way(sample_site):
    replies, _ = await run(ActionTurn(), tracker_for(f"{JINYU_GROUP}:hank", "有股煤气味 抢修电话多少", "ask_info", 0.7))
    assert "【紧急】" in replies[0] and ticket_rows(sample_site)[0][0] == "gas"


async def test_a_greeting_that_goes_on_to_ask_is_answered_and_one_on_its_own_greeted(sample_site):
    replies, _ = await run(ActionTurn(), tracker_for("wecom:dm:ida", "@社区小助手 下午好 老年卡丢了怎么补", "greet"))
    assert replies == [entry("senior_card").reply()]
    replies, _ = await run(ActionTurn(), tracker_for("wecom:dm:ida", "大家好 我是新搬来的", "greet"))
    assert replies == [GREETING]
    replies, _ = await run(ActionTurn(), tracker_for("wecom:dm:ida", "我住翠柳苑", "inform"))
    assert replies == [COMPOUND_NOTED]
    replies, _ = await run(ActionTurn(), tracker_for("wecom:dm:ida", "谢谢啦", "thank"))
    assert replies == ["utter_thank"]


async def test_small_talk_that_asks_hears_the_faq_and_small_talk_alone_its_reply(sample_site):
    replies, _ = await run(ActionTurn(), tracker_for("wecom:dm:ivy", "小助手 你知道老年卡丢了去哪补吗", "chitchat"))
    assert replies == [entry("senior_card").reply()]
    replies, _ = await run(ActionTurn(), tracker_for("wecom:dm:ivy", "小助手你真可爱", "chitchat"))
    assert replies == ["utter_chitchat"]


async def test_status_and_satisfaction(sample_site):
    sender = f"{JINYU_GROUP}:frank"
    await run(ActionTurn(), tracker_for(sender, "5号楼门口狗屎太多", "report_pets"))
    replies, _ = await run(ActionTurn(), tracker_for(sender, "我报的事怎么样了", "ask_ticket_status"))
    assert "#1" in replies[0] and "文明养犬" in replies[0] and "已派单" in replies[0]
    with Session(sample_site, future=True) as s, s.begin():
        tickets.resolve(s, s.get(Ticket, 1), utc_now(), "已清理并提醒养犬户", "张书记")
    replies, _ = await run(ActionTurn(), tracker_for(sender, "不满意 还是很多", "unsatisfied"))
    assert "升级到社区" in replies[0]
    with Session(sample_site, future=True) as s:
        assert (s.get(Ticket, 1).status, s.get(Ticket, 1).level) == ("reopened", "community")


async def test_how_to_follow_or_rate_a_ticket_is_answered_when_there_is_none_to_show_or_rate(sample_site):
    newcomer = Chat("wecom:dm:hana")
    replies = await newcomer.say("工单号是什么 在哪看", "ask_ticket_status")
    assert replies == [entry("ticket_progress").reply()]
    replies = await newcomer.say("问题处理完了怎么评价", "satisfied")
    assert replies == [entry("satisfaction_rating").reply()]
    # a resident with an open ticket sees it; one asked to rate, rates
    sender = f"{JINYU_GROUP}:gus"
    await run(ActionTurn(), tracker_for(sender, "5号楼门口狗屎太多", "report_pets"))
    replies, _ = await run(ActionTurn(), tracker_for(sender, "工单号是什么 在哪看", "ask_ticket_status"))
    assert "#1" in replies[0] and "文明养犬" in replies[0]
    with Session(sample_site, future=True) as s, s.begin():
        tickets.resolve(s, s.get(Ticket, 1), utc_now(), "已清理", "张书记")
    replies, _ = await run(ActionTurn(), tracker_for(sender, "不满意 怎么评价才能重新处理", "unsatisfied"))
    assert "升级到社区" in replies[0]


async def test_an_entry_for_another_community_gives_way_to_the_residents_own(sample_site):
    # 望江华庭's group is in 和谐社区: its own service centre, not 光明社区's
    replies, _ = await run(ActionTurn(), tracker_for("rest:wangjiang-demo:q2", "社区服务中心几点开门", "ask_info"))
    assert replies == [entry("service_center_hexie").reply()]


async def test_a_question_the_faq_does_not_know_says_so_and_offers_a_person():
    replies, slots = await run(ActionTurn(), tracker_for("wecom:dm:q3", "帮我写一首关于秋天的诗", "ask_info"))
    assert replies == [faq.NOT_SURE] and "转人工" in replies[0] and slots["misunderstood"] is True


def entry(entry_id: str) -> faq.Entry:
    """An entry of the FAQ file the bot answers from (the test database has no FAQ imported)."""
    return {e.id: e for e in faq.load(faq_file())}[entry_id]


async def test_near_entries_are_offered_and_the_residents_number_answers(sample_site):
    sender = "wecom:dm:jill"
    replies, slots = await run(ActionTurn(), tracker_for(sender, "暖气的事问一下", "ask_info"))
    assert replies[0].startswith("猜你想问：") and slots["suggested"]["entries"][0] == "heating_season_dates"
    replies, slots = await run(ActionTurn(), tracker_for(sender, "1", "nlu_fallback", 0.3, slots={"suggested": slots["suggested"]}))
    assert replies == [entry("heating_season_dates").reply()] and slots["suggested"] is None
    with Session(sample_site, future=True) as session:
        [asked] = faq_store.asked(session)
        assert (asked.text, asked.outcome, asked.count) == ("暖气的事问一下", "suggested", 1)


async def test_the_suggestion_a_resident_chose_is_kept_with_their_question(sample_site):
    with Session(sample_site, future=True) as session, session.begin():  # the FAQ kept in the console
        faq_store.import_entries(session, faq.load(faq_file()), "admin", utc_now())
    sender = "wecom:dm:lee"
    _, slots = await run(ActionTurn(), tracker_for(sender, "暖气的事问一下", "ask_info"))
    assert slots["suggested"] == {"entries": slots["suggested"]["entries"], "question": "暖气的事问一下"}
    second = slots["suggested"]["entries"][1]
    replies, _ = await run(ActionTurn(), tracker_for(sender, "2", "nlu_fallback", 0.3, slots={"suggested": slots["suggested"]}))
    assert replies == [entry(second).reply()]
    with Session(sample_site, future=True) as session:
        [asked] = faq_store.asked(session)
        assert (asked.text, asked.outcome, asked.picked.key) == ("暖气的事问一下", "picked", second)


async def test_suggestions_offered_before_the_question_was_kept_still_take_a_number(sample_site):
    # a conversation from before: the slot holds the entries alone
    replies, _ = await run(ActionTurn(), tracker_for("wecom:dm:moe", "1", "nlu_fallback", 0.3,
                                                     slots={"suggested": ["heating_season_dates"]}))
    assert replies == [entry("heating_season_dates").reply()]


async def test_a_number_with_no_suggestions_offered_is_not_taken_for_a_choice(sample_site):
    replies, _ = await run(ActionTurn(), tracker_for("wecom:dm:kim", "2", "nlu_fallback", 0.3))
    assert not any(reply.startswith("猜你想问") for reply in replies) and not any("联系：" in r for r in replies)


async def test_a_probable_report_of_no_sure_category_is_confirmed_then_filed(sample_site):
    chat = Chat(f"{JINYU_GROUP}:quinn")
    ranking = [("report_elevator", 0.3), ("report_facilities", 0.25)]
    [question] = await chat.say("那个梯子又不对劲了", "nlu_fallback", 0.4, ranking=ranking)
    assert question.startswith("是要反映电梯的问题吗") and ticket_rows(sample_site) == []
    replies = await chat.say("是的", "affirm")
    assert "电梯" in replies[0] and ticket_rows(sample_site) == [("elevator", "金御城", None, ["quinn"])]
    assert ticket_rows(sample_site)[0] and chat.slots["pending"] is None


async def test_a_confirmation_answered_with_the_real_report_files_only_that(sample_site):
    chat = Chat(f"{JINYU_GROUP}:rita")
    await chat.say("那个梯子又不对劲了", "nlu_fallback", 0.4, ranking=[("report_elevator", 0.45), ("report_facilities", 0.1)])
    await chat.say("是单元门坏了关不上", "report_facilities")
    assert ticket_rows(sample_site) == [("facilities", "金御城", None, ["rita"])]
    other = Chat(f"{JINYU_GROUP}:sam")
    await other.say("那个梯子又不对劲了", "nlu_fallback", 0.4, ranking=[("report_elevator", 0.45), ("report_facilities", 0.1)])
    assert "不登记" in (await other.say("不是", "deny"))[0]
    assert len(ticket_rows(sample_site)) == 1


async def test_the_ticket_keeps_what_the_resident_wrote_though_the_model_read_it_normalised(sample_site):
    tracker = tracker_for(f"{JINYU_GROUP}:tom", "7号楼暖气不热", "report_heating")
    tracker.latest_message["original_text"] = "７號樓暖氣唔熱😭"
    await run(ActionTurn(), tracker)
    with Session(sample_site, future=True) as s:
        assert s.scalars(select(Ticket)).one().text == "７號樓暖氣唔熱😭"


async def test_a_yes_long_after_the_question_asks_it_again_and_files_nothing(sample_site, clock):
    chat = Chat(f"{JINYU_GROUP}:tara")
    ranking = [("report_elevator", 0.3), ("report_facilities", 0.25)]
    await chat.say("那个梯子又不对劲了", "nlu_fallback", 0.4, ranking=ranking)
    clock[0] += timedelta(hours=5)
    [again] = await chat.say("是的", "affirm")  # said to something else: the old question is asked again
    assert "那个梯子又不对劲了" in again and "是要反映电梯的问题吗" in again and ticket_rows(sample_site) == []
    clock[0] += timedelta(minutes=2)
    assert "电梯" in (await chat.say("是", "affirm"))[0]  # now it answers the question just asked
    assert ticket_rows(sample_site) == [("elevator", "金御城", None, ["tara"])]


async def test_a_report_waiting_for_its_compound_is_not_cancelled_by_a_late_no(sample_site, clock):
    chat = Chat("wecom:dm:uma")
    await chat.say("楼道灯坏了一个礼拜了", "report_power")
    clock[0] += timedelta(days=1)
    [again] = await chat.say("不是", "deny")
    assert "楼道灯坏了一个礼拜了" in again and "哪个小区" in again and chat.slots["pending"] is not None
    assert "供电照明" in (await chat.say("金御城", "inform"))[0]  # a name still answers, however late
    assert ticket_rows(sample_site) == [("power", "金御城", None, ["uma"])]
    late = Chat("wecom:dm:vic")  # and a name the next day answers without being asked again
    await late.say("楼道灯坏了一个礼拜了", "report_power")
    clock[0] += timedelta(days=1)
    assert "供电照明" in (await late.say("翠柳苑", "inform"))[0]


async def test_a_question_still_waiting_keeps_its_time_and_a_late_cancel_still_cancels(sample_site, clock):
    chat = Chat("wecom:dm:wen")
    await chat.say("楼道灯坏了一个礼拜了", "report_power")
    clock[0] += timedelta(minutes=25)
    await chat.say("谢谢", "thank")  # the question waits on, asked 25 minutes ago
    clock[0] += timedelta(minutes=15)
    assert "还没有登记" in (await chat.say("不是", "deny"))[0]
    clock[0] += timedelta(hours=3)
    assert "不登记" in (await chat.say("算了不报了", "deny"))[0] and chat.slots["pending"] is None
    assert ticket_rows(sample_site) == []


async def test_a_late_yes_to_is_it_our_compound_asks_that_again_and_the_next_yes_files(sample_site, clock):
    chat = Chat(f"{JINYU_GROUP}:xia")
    named = [{"entity": "compound", "value": "阳光花园"}]
    await chat.say("阳光花园门口的车堵了一上午了", "report_parking", entities=named)
    clock[0] += timedelta(minutes=40)
    [again] = await chat.say("是", "affirm")
    assert "还没有登记" in again and "是金御城吗" in again and ticket_rows(sample_site) == []
    assert "停车" in (await chat.say("是", "affirm"))[0]
    assert ticket_rows(sample_site) == [("parking", "金御城", None, ["xia"])]


async def test_a_late_yes_said_to_staff_gets_no_question_from_the_bot(sample_site, clock):
    chat = Chat("wecom:dm:yan")
    await chat.say("楼道灯坏了一个礼拜了", "report_power")
    await chat.say("转人工", "request_human")
    clock[0] += timedelta(hours=1)
    assert await chat.say("是的", "affirm") == [] and ticket_rows(sample_site) == []
    assert chat.slots["pending"] is not None  # the report still waits for its compound


async def test_a_question_kept_before_questions_had_a_time_is_asked_again(sample_site):
    old = {"reports": [{"category": "power", "urgent": False, "text": "楼道灯坏了"}], "asked": "compound"}
    replies, slots = await run(ActionTurn(), tracker_for("wecom:dm:zoe", "是的", "affirm", slots={"pending": old}))
    assert "楼道灯坏了" in replies[0] and "哪个小区" in replies[0] and ticket_rows(sample_site) == []
    assert slots["pending"]["asked_at"]


async def test_an_unsure_report_while_asked_for_the_compound_keeps_the_sure_one_waiting(sample_site):
    chat = Chat("wecom:dm:amy")
    await chat.say("楼道灯坏了一个礼拜了", "report_power")
    ranking = [("report_elevator", 0.3), ("report_facilities", 0.25)]
    [question] = await chat.say("那个梯子这两天又有点不对劲了", "nlu_fallback", 0.4, ranking=ranking)
    assert question.startswith("是要反映电梯的问题吗")
    cancelled, again = await chat.say("不是", "deny")  # not the lift: the light still waits
    assert "不登记" in cancelled and "楼道灯坏了一个礼拜了" in again and "哪个小区" in again
    await chat.say("金御城", "inform")
    assert ticket_rows(sample_site) == [("power", "金御城", None, ["amy"])]
    both = Chat("wecom:dm:bea")
    await both.say("楼道灯坏了一个礼拜了", "report_power")
    await both.say("那个梯子这两天又有点不对劲了", "nlu_fallback", 0.4, ranking=ranking)
    await both.say("单元门也关不上了", "report_facilities")  # a sure report instead: filed with the light
    await both.say("翠柳苑", "inform")
    assert [row[:2] for row in ticket_rows(sample_site)[1:]] == [("power", "翠柳苑"), ("facilities", "翠柳苑")]
