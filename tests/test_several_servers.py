"""Two Rasa servers, one conversation: they share the PostgreSQL tracker store and Rasa's own
Redis lock store (`connectors.lock_store`), with one action server (tests/multi_stack.py). A resident's messages go to
either server, as a load balancer would send them, through the real DingTalk webhook."""
import json
import uuid

import pytest

from bot.replies import ASK_COMPOUND
from multi_stack import answer_like_dingtalk, shared_servers
from test_dingtalk import callback, deliver, session_of, wait_for_replies

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def servers(request, trained_model, fake_platform):
    servers = shared_servers(request.config, trained_model, fake_platform.base_url)
    answer_like_dingtalk(fake_platform)
    return servers


def say(servers, fake_platform, server: int, user: str, text: str) -> str:
    """A one-to-one message to Rasa server `server`; returns its session (where the reply goes)."""
    message = callback(fake_platform, text, user=user, group=None)
    assert deliver(servers.at(server), message)[0] == 200
    return session_of(message)


def reply_text(fake_platform, session: str) -> str:
    [reply] = wait_for_replies(fake_platform, session)
    return reply.body["text"]["content"]


def turns(servers, sender: str) -> list[tuple[str, str]]:
    """The conversation as the shared tracker store holds it: (who, text) for each user and bot event."""
    status, body = servers.at(0).get(f"/conversations/{sender}/tracker")
    assert status == 200, body
    return [(e["event"], e.get("text") or "") for e in json.loads(body)["events"] if e["event"] in ("user", "bot")]


def test_a_form_half_filled_on_one_server_is_finished_on_the_other(servers, fake_platform):
    user = f"multi{uuid.uuid4().hex[:8]}"
    asked = reply_text(fake_platform, say(servers, fake_platform, 0, user, "3号楼电梯坏了 一直停在5楼不动"))
    assert asked == ASK_COMPOUND  # one-to-one: the bot needs the compound
    receipt = reply_text(fake_platform, say(servers, fake_platform, 1, user, "金御城"))
    assert "电梯" in receipt and "金御城" in receipt
    [(ticket, category, compound, reporters)] = [t for t in servers.stack.tickets() if user in t[3]]
    assert (category, compound, reporters.count(user)) == ("elevator", "金御城", 1)
    assert f"#{ticket} " in receipt
    assert [text for who, text in turns(servers, f"dingtalk:dm:{user}") if who == "user"] == [
        "3号楼电梯坏了 一直停在5楼不动", "金御城"]


def test_messages_sent_to_both_servers_at_once_are_processed_one_after_another_in_order(servers, fake_platform):
    user = f"multi{uuid.uuid4().hex[:8]}"
    texts = ["你好", "你是谁", "我报的事怎么样了", "谢谢", "你好", "你是谁"]
    sessions = [say(servers, fake_platform, n, user, text) for n, text in enumerate(texts)]  # no waiting
    for session in sessions:
        wait_for_replies(fake_platform, session)
    conversation = turns(servers, f"dingtalk:dm:{user}")
    assert [text for who, text in conversation if who == "user"] == texts
    whose = [who for n, (who, _) in enumerate(conversation) if n == 0 or conversation[n - 1][0] != who]
    assert whose == ["user", "bot"] * len(texts)  # each turn finished before the next began
    order = [call.query["session"] for call in fake_platform.sent("/dingtalk/robot/sendBySession")]
    assert [session for session in order if session in sessions] == sessions  # answered in order
