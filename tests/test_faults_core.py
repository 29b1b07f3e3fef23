"""The group-chat core through an outage, with a stand-in for Rasa that fails as Rasa does when
its database is unreachable (the end-to-end faults are in tests/test_faults.py)."""
import pytest
from rasa.core.lock_store import LockError
from sqlalchemy.exc import OperationalError

from connectors.group_chat import APOLOGY, Incoming
from connectors.inbound import MalformedMessage
from connectors.rasa_chat import RasaGroupChat
from test_group_chat import Bot, Platform, database, incoming, take  # noqa: F401 - database: autouse fixture


DATABASE_DOWN = OperationalError("SELECT 1", {}, ConnectionRefusedError("database restarting"))


class FailingFirst(Bot):
    """Raises `error` (the database's, by default) for the first `failures` messages, then answers."""

    def __init__(self, failures: int, error: Exception = DATABASE_DOWN):
        super().__init__()
        self.failures, self.error = failures, error

    async def __call__(self, user_message):
        if self.failures:
            self.failures -= 1
            raise self.error
        await super().__call__(user_message)


async def test_a_message_that_meets_an_outage_is_apologised_for_once_then_answered():
    platform, bot = Platform(), FailingFirst(failures=2)
    assert await take(RasaGroupChat("wecom", platform.send), bot, incoming("held", "7号楼暖气不热"))
    assert [text for _, text, _ in platform.sent] == [APOLOGY, "听到：7号楼暖气不热"]
    assert len(bot.heard) == 1


async def test_a_message_that_waited_too_long_for_its_conversation_is_held_not_dropped():
    # under overload Rasa's lock store gives up on a message that waited out the lock's lifetime
    platform, bot = Platform(), FailingFirst(failures=1, error=LockError("Could not acquire lock"))
    assert await take(RasaGroupChat("wecom", platform.send), bot, incoming("waited", "5号楼电梯坏了"))
    assert [text for _, text, _ in platform.sent] == [APOLOGY, "听到：5号楼电梯坏了"]


async def test_where_a_reply_handle_answers_once_the_answer_gets_it_and_there_is_no_apology():
    platform = Platform()
    chat = RasaGroupChat("wecom", platform.send, single_use_replies=True)
    await take(chat, FailingFirst(failures=1), incoming("once", "电梯坏了"))
    assert [text for _, text, _ in platform.sent] == ["听到：电梯坏了"]


async def test_a_held_message_keeps_its_place_in_the_conversation():
    platform, bot = Platform(), FailingFirst(failures=2)
    chat = RasaGroupChat("wecom", platform.send)
    await chat.accept(incoming("first", "第一条"), bot)
    await chat.accept(incoming("second", "第二条"), bot)
    await chat.idle()
    assert [text for _, text, _ in platform.sent] == [APOLOGY, "听到：第一条", "听到：第二条"]


@pytest.mark.parametrize("field", [{"user_id": ["alice"]}, {"group_id": {"id": 1}}, {"text": 7},
                                   {"display_name": 3.5}])
def test_a_message_whose_fields_are_not_text_is_malformed(field):
    with pytest.raises(MalformedMessage):
        Incoming(**{"platform": "wecom", "event_id": "e", "user_id": "alice", "text": "你好", **field})
