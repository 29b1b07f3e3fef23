"""The actions, driven with a Tracker and a CollectingDispatcher against the sample site."""
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.actions import (ActionAnswerFaq, ActionFileReport, ActionHandleReport, ActionRateTicket,
                             ActionTicketStatus, ValidateCompoundForm)
from bot import faq, tickets
from bot.clock import utc_now
from bot.db import shared_engine
from bot.migrate import upgrade
from bot.models import Ticket
from bot.org import import_org_file
from bot.replies import COMPOUND_NOTED, GREETING, IF_A_REPORT, NOT_UNDERSTOOD, UNKNOWN_COMPOUND
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


def tracker_for(sender: str, text: str, intent: str, confidence: float = 0.95, entities=(), slots=None) -> Tracker:
    message = {"text": text, "intent": {"name": intent, "confidence": confidence},
               "intent_ranking": [{"name": intent, "confidence": confidence}],
               "entities": list(entities), "metadata": {"display_name": "王阿姨"}}
    return Tracker(sender, slots or {}, message, [], False, None, {}, "action_listen")


async def run(action, tracker: Tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return [m["text"] for m in dispatcher.messages], {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def ticket_rows(engine):
    with Session(engine, future=True) as s:
        return [(t.category, t.compound.name, t.building, [r.user_id for r in t.reporters])
                for t in s.scalars(select(Ticket).order_by(Ticket.id))]


async def test_a_report_in_a_bound_group_is_filed_with_who_and_when(sample_site):
    entities = [{"entity": "building", "value": "7"}, {"entity": "unit", "value": "2"}]
    replies, slots = await run(ActionHandleReport(), tracker_for(
        f"{JINYU_GROUP}:alice", "7号楼2单元暖气不热", "report_heating", entities=entities))
    assert len(replies) == 1
    assert "#1" in replies[0] and "供暖" in replies[0] and "张书记" in replies[0]
    assert "138****0004" in replies[0] and "前办结" in replies[0]
    assert slots["compound_missing"] is False
    assert ticket_rows(sample_site) == [("heating", "金御城", "7", ["alice"])]


async def test_the_compound_named_in_the_message_wins_over_the_group(sample_site):
    await run(ActionHandleReport(), tracker_for(f"{JINYU_GROUP}:bob", "翠柳苑的路灯坏了", "report_power",
                                                entities=[{"entity": "compound", "value": "翠柳苑小区"}]))
    assert ticket_rows(sample_site)[0][1] == "翠柳苑"


async def test_without_a_compound_the_report_waits_for_the_form(sample_site):
    replies, slots = await run(ActionHandleReport(), tracker_for("wecom:dm:carol", "暖气不热", "report_heating"))
    assert replies == [] and slots["compound_missing"] is True
    assert slots["pending_report"]["category"] == "heating"
    assert ticket_rows(sample_site) == []
    tracker = tracker_for("wecom:dm:carol", "金御城", "inform", slots={**slots, "compound": "金御城"})
    replies, slots = await run(ActionFileReport(), tracker)
    assert "供暖" in replies[0] and slots["pending_report"] is None
    assert ticket_rows(sample_site) == [("heating", "金御城", None, ["carol"])]


async def test_an_urgent_report_hears_the_emergency_number_before_anything_else(sample_site):
    replies, _ = await run(ActionHandleReport(), tracker_for(
        f"{JINYU_GROUP}:dave", "楼道里好大的煤气味", "report_gas"))
    assert "96777" in replies[0] and "【紧急】" in replies[0]  # the site's gas company hotline
    assert "网格、社区和街道" in replies[1]
    replies, slots = await run(ActionHandleReport(), tracker_for("wecom:dm:erin", "电梯困人了", "report_elevator"))
    assert "119" in replies[0] and slots["compound_missing"] is True  # advice first, then the question


def test_the_form_accepts_names_and_aliases_and_re_asks_on_nonsense():
    form, tracker = ValidateCompoundForm(), tracker_for("wecom:dm:x", "", "inform")
    dispatcher = CollectingDispatcher()
    assert form.validate_compound("翠柳苑小区", dispatcher, tracker, {}) == {"compound": "翠柳苑"}
    assert form.validate_compound("火星基地", dispatcher, tracker, {}) == {"compound": None}
    assert dispatcher.messages[-1]["text"] == UNKNOWN_COMPOUND


async def test_a_message_the_bot_does_not_understand_gets_a_helpful_fallback():
    replies, slots = await run(ActionHandleReport(), tracker_for("wecom:dm:y", "嗯嗯那个啥", "nlu_fallback", 0.4))
    assert replies == [NOT_UNDERSTOOD] and "转人工" in replies[0]
    assert slots["compound_missing"] is False


async def test_a_question_taken_for_an_unsure_report_is_answered_with_how_to_report(sample_site):
    replies, _ = await run(ActionHandleReport(), tracker_for(
        f"{JINYU_GROUP}:gina", "物业费的收费标准是多少", "report_property_service", 0.6))
    assert replies == [faq.entries_by_id()["property_fee"].reply() + IF_A_REPORT] and "转人工" in replies[0]
    assert ticket_rows(sample_site) == []
    await run(ActionHandleReport(), tracker_for(f"{JINYU_GROUP}:gina", "5号楼楼道灯坏了好几天", "report_power", 0.6))
    assert ticket_rows(sample_site) == [("power", "金御城", None, ["gina"])]


async def test_a_question_that_describes_a_danger_goes_the_report_way():
    tracker = tracker_for(f"{JINYU_GROUP}:hank", "有股煤气味 抢修电话多少", "ask_info", 0.7)
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert events == [{"event": "followup", "timestamp": None, "name": "action_handle_report"}]
    assert dispatcher.messages == []  # the report path says the emergency number first


async def test_a_greeting_that_goes_on_to_ask_is_answered_and_one_on_its_own_greeted(sample_site):
    replies, slots = await run(ActionAnswerFaq(), tracker_for("wecom:dm:ida", "@社区小助手 下午好 今年暖气哪天开始烧", "greet"))
    assert replies == [faq.entries_by_id()["heating_season_dates"].reply()] and slots == {"faq_sure": False}
    replies, _ = await run(ActionAnswerFaq(), tracker_for("wecom:dm:ida", "大家好 我是新搬来的", "greet"))
    assert replies == [GREETING]
    replies, _ = await run(ActionAnswerFaq(), tracker_for("wecom:dm:ida", "我住翠柳苑", "inform"))
    assert replies == [COMPOUND_NOTED]


async def test_status_and_satisfaction(sample_site):
    sender = f"{JINYU_GROUP}:frank"
    await run(ActionHandleReport(), tracker_for(sender, "5号楼门口狗屎太多", "report_pets"))
    replies, _ = await run(ActionTicketStatus(), tracker_for(sender, "我报的事怎么样了", "ask_ticket_status"))
    assert "#1" in replies[0] and "文明养犬" in replies[0] and "已派单" in replies[0]
    with Session(sample_site, future=True) as s, s.begin():
        tickets.resolve(s, s.get(Ticket, 1), utc_now(), "已清理并提醒养犬户", "张书记")
    replies, _ = await run(ActionRateTicket(), tracker_for(sender, "不满意 还是很多", "unsatisfied"))
    assert "升级到社区" in replies[0]
    with Session(sample_site, future=True) as s:
        assert (s.get(Ticket, 1).status, s.get(Ticket, 1).level) == ("reopened", "community")


def question(sender: str, *ranking: tuple[str, float], text: str = "服务中心几点开门") -> Tracker:
    tracker = tracker_for(sender, text, "faq")
    tracker.latest_message["response_selector"] = {"faq": {"ranking": [
        {"intent_response_key": f"faq/{key}", "confidence": confidence} for key, confidence in ranking]}}
    return tracker


async def test_a_sure_answer_is_left_to_utter_faq():
    replies, slots = await run(ActionAnswerFaq(), question("wecom:dm:q1", ("service_center_guangming", 0.9)))
    assert replies == [] and slots == {"faq_sure": True}


async def test_an_entry_for_another_community_gives_way_to_the_residents_own():
    # 望江华庭's group is in 和谐社区: the 光明社区 entry ranked first is passed over
    replies, slots = await run(ActionAnswerFaq(), question(
        "rest:wangjiang-demo:q2", ("service_center_guangming", 0.8), ("service_center_hexie", 0.6)))
    assert slots == {"faq_sure": False}
    assert replies == [faq.entries_by_id()["service_center_hexie"].reply()]


async def test_an_unsure_selector_says_so_and_offers_a_person():
    replies, slots = await run(ActionAnswerFaq(), question("wecom:dm:q3", ("service_center_guangming", 0.2), text="帮我写一首关于秋天的诗"))
    assert replies == [faq.NOT_SURE] and "转人工" in replies[0] and slots == {"faq_sure": False}
