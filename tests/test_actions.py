"""The report action, driven with a Tracker and a CollectingDispatcher."""
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionHandleReport
from bot.replies import NOT_UNDERSTOOD


def tracker_for(text: str, intent: str, confidence: float, entities=()) -> Tracker:
    message = {"text": text, "intent": {"name": intent, "confidence": confidence},
               "intent_ranking": [{"name": intent, "confidence": confidence}],
               "entities": list(entities)}
    return Tracker("wecom:group1:alice", {}, message, [], False, None, {}, "action_listen")


async def run(tracker: Tracker) -> list[str]:
    dispatcher = CollectingDispatcher()
    await ActionHandleReport().run(dispatcher, tracker, {})
    return [m["text"] for m in dispatcher.messages]


async def test_a_report_is_acknowledged_with_its_category_and_place():
    entities = [{"entity": "building", "value": "7"}, {"entity": "unit", "value": "2"}]
    replies = await run(tracker_for("7号楼2单元暖气不热", "report_heating", 0.95, entities))
    assert len(replies) == 1
    assert "供暖" in replies[0] and "7号楼 2单元" in replies[0]


async def test_an_urgent_report_answers_with_the_emergency_number_first():
    replies = await run(tracker_for("楼道里着火了 好大的烟", "report_safety_security", 0.9))
    assert "119" in replies[0] and "【紧急】" in replies[0]
    assert "治安安全" in replies[1] and "街道" in replies[1]


async def test_a_message_the_bot_does_not_understand_gets_a_helpful_fallback():
    replies = await run(tracker_for("嗯嗯那个啥", "nlu_fallback", 0.4))
    assert replies == [NOT_UNDERSTOOD]
    assert "转人工" in replies[0]


@pytest.mark.parametrize("intent", ["report_noise", "report_pets"])
async def test_no_category_is_named_below_the_confidence_threshold(intent):
    replies = await run(tracker_for("这个那个", intent, 0.2))
    assert replies == [NOT_UNDERSTOOD]
