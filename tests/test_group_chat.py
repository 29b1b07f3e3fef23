"""The shared group-chat core, with a stand-in for Rasa that echoes what it was told."""
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.db import shared_engine
from bot.migrate import upgrade
from bot.models import OutboxMessage
from bot.notifier import deliver_due
from bot.org import import_org_file
from conftest import ROOT
from connectors.group_chat import NOT_TEXT_REPLY, Incoming
from connectors.rasa_chat import RasaGroupChat


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    shared_engine.cache_clear()
    upgrade(shared_engine())
    import_org_file(shared_engine(), ROOT / "org" / "sample_site.yml")
    yield
    shared_engine().dispose()
    shared_engine.cache_clear()


class Platform:
    """Records what would have reached the platform; `failing` makes every send raise."""

    def __init__(self):
        self.sent, self.failing = [], False

    async def send(self, message):
        if self.failing:
            raise ConnectionError("platform down")
        self.sent.append((message.recipient, message.text, message.context))


class Bot:
    """Stands in for Rasa: answers every message with one line naming what it heard."""

    def __init__(self):
        self.heard = []

    async def __call__(self, user_message):
        self.heard.append((user_message.sender_id, user_message.text, user_message.metadata))
        await user_message.output_channel.send_text_message(user_message.sender_id, f"听到：{user_message.text}")


def incoming(event_id="e1", text="7号楼暖气不热", group="wrOgQhDgAAJinYuCheng01", mentioned=True, **extra):
    return Incoming(platform="wecom", event_id=event_id, user_id="alice", text=text, group_id=group,
                    display_name="王阿姨", mentioned=mentioned, **extra)


async def take(chat, bot, message):
    accepted = await chat.accept(message, bot)
    await chat.idle()
    return accepted


async def test_a_mention_in_a_group_reaches_the_bot_with_the_group_and_name():
    platform, bot = Platform(), Bot()
    chat = RasaGroupChat("wecom", platform.send)
    assert await take(chat, bot, incoming(context={"reply": "here"}))
    sender, text, metadata = bot.heard[0]
    assert sender == "wecom:wrOgQhDgAAJinYuCheng01:alice" and text == "7号楼暖气不热"
    assert metadata == {"platform": "wecom", "group_id": "wrOgQhDgAAJinYuCheng01", "display_name": "王阿姨"}
    assert platform.sent == [(sender, "听到：7号楼暖气不热", {"reply": "here"})]


async def test_group_chatter_without_mention_or_keyword_is_left_alone():
    platform, bot = Platform(), Bot()
    chat = RasaGroupChat("wecom", platform.send, keywords=("小助手",))
    await take(chat, bot, incoming("e1", "今晚谁去跳舞", mentioned=False))
    assert bot.heard == [] and platform.sent == []
    await take(chat, bot, incoming("e2", "小助手，5号楼停水了", mentioned=False))
    assert bot.heard[0][1] == "5号楼停水了"


async def test_every_message_in_a_one_to_one_chat_reaches_the_bot():
    platform, bot = Platform(), Bot()
    await take(RasaGroupChat("wecom", platform.send), bot, incoming(group=None, mentioned=False))
    assert bot.heard[0][0] == "wecom:dm:alice"


async def test_a_retried_callback_is_answered_once_even_after_a_restart():
    platform, bot = Platform(), Bot()
    assert await take(RasaGroupChat("wecom", platform.send), bot, incoming("same"))
    assert not await take(RasaGroupChat("wecom", platform.send), bot, incoming("same"))  # a new process
    assert len(bot.heard) == 1 and len(platform.sent) == 1


async def test_a_failed_processing_lets_the_platform_retry():
    platform = Platform()

    async def broken(_message):
        raise RuntimeError("action server down")
    chat = RasaGroupChat("wecom", platform.send)
    assert await take(chat, broken, incoming("e9"))
    bot = Bot()
    assert await take(chat, bot, incoming("e9"))  # the platform's retry is processed
    assert len(bot.heard) == 1


async def test_phone_and_id_numbers_are_masked_in_groups_only():
    platform, bot = Platform(), Bot()
    chat = RasaGroupChat("wecom", platform.send)
    text = "电话13912345678 身份证110101199003071234"
    await take(chat, bot, incoming("g", text))
    await take(chat, bot, incoming("d", text, group=None))
    group_reply, direct_reply = platform.sent[0][1], platform.sent[1][1]
    assert "139****5678" in group_reply and "13912345678" not in group_reply
    assert "110101********1234" in group_reply
    assert "13912345678" in direct_reply


async def test_a_sticker_or_a_file_with_nothing_to_fetch_it_by_gets_a_short_reply():
    platform, bot = Platform(), Bot()
    await take(RasaGroupChat("wecom", platform.send), bot, incoming("p", "", kind="sticker"))
    assert bot.heard == [] and platform.sent[0][1] == NOT_TEXT_REPLY and "只能" not in NOT_TEXT_REPLY


async def test_a_reply_the_platform_refused_is_kept_and_sent_later_in_order():
    platform, bot = Platform(), Bot()
    chat = RasaGroupChat("wecom", platform.send)
    platform.failing = True
    await take(chat, bot, incoming("a", "第一条"))
    await take(chat, bot, incoming("b", "第二条"))
    assert platform.sent == []
    with Session(shared_engine(), future=True) as s:
        assert [m.status for m in s.scalars(select(OutboxMessage))] == ["pending", "pending"]
    platform.failing = False
    for minutes in (1, 2):
        await deliver_due(shared_engine(), {"wecom": platform.send}, utc_now() + timedelta(minutes=minutes))
    assert [text for _, text, _ in platform.sent] == ["听到：第一条", "听到：第二条"]
