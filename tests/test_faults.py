"""Faults, on two Rasa servers sharing PostgreSQL and Redis with one action server
(tests/multi_stack.py), through the real DingTalk webhook: the action server stopped mid-run,
PostgreSQL restarted during traffic, the platform's API down for a while, and one callback
delivered several times at once. Whatever happens, no message is lost and none is answered or
filed twice."""
import json
import socket
import threading
import time
import urllib.error
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from connectors.group_chat import APOLOGY
from multi_stack import answer_like_dingtalk, shared_servers
from test_dingtalk import (APP_SECRET, GROUP, SECRETARY, SESSION_PATH, WEBHOOK, callback, deliver, independent_sign,
                          now_ms, replies, session_of, wait_for_replies)

pytestmark = pytest.mark.servers

REPORTS = ["{b}号楼电梯又坏了 谁来看看", "{b}号楼怎么停水了 也没提前通知一声", "{b}号楼门口垃圾堆成山了 臭得要命"]
BATCH_SEND = "/dingtalk/v1.0/robot/oToMessages/batchSend"


@pytest.fixture(scope="module")
def servers(request, trained_model, fake_platform):
    servers = shared_servers(request.config, trained_model, fake_platform.base_url)
    answer_like_dingtalk(fake_platform)
    return servers


def fresh() -> str:
    return f"f{uuid.uuid4().hex[:9]}"


def report(fake_platform, user: str, n: int, building: int | None = None) -> dict:
    """A report in 金御城's DingTalk group (about building `building`, else one of 1-9)."""
    return callback(fake_platform, REPORTS[n % len(REPORTS)].format(b=building or n % 9 + 1), user=user)


def send_like_dingtalk(servers, message: dict, server: int) -> list[int]:
    """Post a callback; a 503 is sent again a second later, as the platform does. The statuses seen."""
    statuses = []
    while not statuses or statuses[-1] == 503:
        if statuses:
            time.sleep(1)
        statuses.append(deliver(servers.at(server), message)[0])
    return statuses


def final_replies(fake_platform, message: dict, seconds: float = 120) -> list[str]:
    """Every reply to the message once its answer (anything but the apology) has come."""
    session = session_of(message)
    fake_platform.wait_for(lambda calls: any(c.path == SESSION_PATH and c.query.get("session") == session
                                             and APOLOGY not in c.body["text"]["content"] for c in calls), seconds)
    return [call.body["text"]["content"] for call in replies(fake_platform, session)]


def reporter_of_exactly_one_ticket(servers, user: str) -> bool:
    return sum(reporters.count(user) for *_, reporters in servers.stack.tickets()) == 1


def in_tracker_store(servers, message_ids: set[str]) -> set[str]:
    with servers.stack.engine.connect() as connection:
        rows = connection.execute(text("SELECT data FROM events WHERE type_name = 'user'")).scalars()
        return {json.loads(row).get("message_id") for row in rows} & message_ids


def test_the_same_callback_delivered_several_times_at_once_is_answered_and_filed_once(servers, fake_platform):
    user = fresh()
    message = report(fake_platform, user, 1)
    start, statuses = threading.Barrier(8), []

    def post(server: int) -> None:
        start.wait()
        statuses.append(deliver(servers.at(server), message)[0])
    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]  # four to each server
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    wait_for_replies(fake_platform, session_of(message))
    time.sleep(5)  # a second answer would have come by now
    [answer] = replies(fake_platform, session_of(message))
    assert "工单#" in answer.body["text"]["content"]
    assert reporter_of_exactly_one_ticket(servers, user)


def test_reports_sent_while_the_action_server_is_stopped_are_apologised_for_then_filed(servers, fake_platform):
    before, during = [fresh() for _ in range(3)], [fresh() for _ in range(3)]
    sent = [report(fake_platform, user, n) for n, user in enumerate(before)]
    for n, message in enumerate(sent):
        assert deliver(servers.at(n), message)[0] == 200
    servers.stack.stop_actions()  # while those are being answered
    try:
        held = [report(fake_platform, user, n) for n, user in enumerate(during)]
        for n, message in enumerate(held):
            assert deliver(servers.at(n), message)[0] == 200  # taken in, not refused
        for message in held:
            assert wait_for_replies(fake_platform, session_of(message))[0].body["text"]["content"].endswith(APOLOGY)
    finally:
        servers.stack.start_actions()
    for message, user in zip(sent + held, before + during):
        answers = [r for r in final_replies(fake_platform, message) if APOLOGY not in r]
        assert len(answers) == 1 and "工单#" in answers[0], answers
        assert reporter_of_exactly_one_ticket(servers, user), user
    ids = {m["msgId"] for m in sent + held}
    assert in_tracker_store(servers, ids) == ids


def test_postgresql_restarted_during_traffic_loses_nothing(servers, fake_platform):
    users = [fresh() for _ in range(24)]
    messages = [report(fake_platform, user, n) if n % 2 else callback(fake_platform, "你好", user=user)
                for n, user in enumerate(users)]
    statuses = {}

    def residents() -> None:
        for n, message in enumerate(messages):
            statuses[message["msgId"]] = send_like_dingtalk(servers, message, n)
            time.sleep(0.25)
    running = [process for process in servers.stack.processes if process.poll() is None]
    traffic = threading.Thread(target=residents)
    traffic.start()
    time.sleep(1.5)
    try:
        servers.postgres.restart(down_for=3)
        servers.stack.engine.dispose()  # the test's own connections were cut too
    finally:
        traffic.join()
    assert any(503 in seen for seen in statuses.values())  # the outage was met and refused retryably
    assert all(seen[-1] == 200 for seen in statuses.values())
    for n, (message, user) in enumerate(zip(messages, users)):
        answers = [r for r in final_replies(fake_platform, message) if APOLOGY not in r]
        assert len(answers) == 1, answers
        assert not n % 2 or reporter_of_exactly_one_ticket(servers, user), user
    ids = {m["msgId"] for m in messages}
    assert in_tracker_store(servers, ids) == ids
    assert all(process.poll() is None for process in running)  # they reconnected, none was restarted


def test_replies_and_notifications_wait_out_a_platform_outage_and_go_once_in_order(servers, fake_platform):
    users = [fresh() for _ in range(3)]
    fake_platform.down = True
    try:
        first = [report(fake_platform, user, n, building=20 + n) for n, user in enumerate(users)]  # new tickets
        second = [callback(fake_platform, "我报的事怎么样了", user=user) for user in users]
        for n, (one, two) in enumerate(zip(first, second)):
            assert deliver(servers.at(n), one)[0] == 200
            assert deliver(servers.at(n + 1), two)[0] == 200
        time.sleep(8)  # answered meanwhile, and tried, and refused
        assert not any(replies(fake_platform, session_of(m)) for m in first + second)
    finally:
        fake_platform.down = False
    for one, two in zip(first, second):
        assert len(final_replies(fake_platform, one)) == 1 and len(final_replies(fake_platform, two)) == 1
    time.sleep(5)  # a second delivery would have come by now
    sessions = [call.query.get("session") for call in fake_platform.sent(SESSION_PATH)]
    for one, two in zip(first, second):
        order = [s for s in sessions if s in (session_of(one), session_of(two))]
        assert order == [session_of(one), session_of(two)]  # once each, in the order they were said
    tickets = [number for number, *_, reporters in servers.stack.tickets() if set(users) & set(reporters)]
    assert len(tickets) == len(users)

    def told(calls: list, ticket: int) -> int:
        """How often the branch secretary heard of the new ticket."""
        return sum(1 for c in calls if c.path == BATCH_SEND and c.body.get("userIds") == [SECRETARY]
                   and f"#{ticket} " in json.loads(c.body["msgParam"])["content"])
    fake_platform.wait_for(lambda calls: all(told(calls, ticket) for ticket in tickets), 120)
    time.sleep(5)  # a second delivery would have come by now
    assert [told(fake_platform.sent(BATCH_SEND), ticket) for ticket in tickets] == [1] * len(tickets)


def deliver_and_hang_up(stack, message: dict, after: float) -> int | None:
    """Post a callback as a platform that waits `after` seconds, then hangs up (None: it did)."""
    timestamp = str(now_ms())
    try:
        return stack.post(WEBHOOK, json.dumps(message, ensure_ascii=False).encode(),
                          {"timestamp": timestamp, "sign": independent_sign(timestamp, APP_SECRET)}, timeout=after)[0]
    except (socket.timeout, TimeoutError, urllib.error.URLError):
        return None


def hold_the_inbox(servers, seconds: float) -> threading.Thread:
    """Lock the table that records callbacks for `seconds`, as a stalled database would."""
    locked = threading.Event()

    def stall() -> None:
        with servers.stack.engine.connect() as connection, connection.begin():
            connection.execute(text("LOCK TABLE received_events IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            time.sleep(seconds)
    holder = threading.Thread(target=stall)
    holder.start()
    assert locked.wait(10)
    return holder


@pytest.mark.parametrize("stall", [10, 40])
def test_callbacks_the_platform_gave_up_on_during_a_stall_are_answered_once_in_order(servers, fake_platform, stall):
    users = [fresh() for _ in range(3)]
    first = [report(fake_platform, user, n, building=40 + n) for n, user in enumerate(users)]
    second = [callback(fake_platform, "我报的事怎么样了", user=user) for user in users]
    holder = hold_the_inbox(servers, stall)
    try:
        statuses = []
        for n, (one, two) in enumerate(zip(first, second)):  # the platform waits 3 s, as Feishu does
            statuses += [deliver_and_hang_up(servers.at(n), message, after=3) for message in (one, two)]
        for n, one in enumerate(first):  # and sends again, to the other server
            statuses.append(deliver_and_hang_up(servers.at(n + 1), one, after=3))
    finally:
        holder.join()
    assert statuses[0] is None and set(statuses) <= {None, 200}  # it hung up; nothing was refused
    for one, two in zip(first, second):
        assert len(final_replies(fake_platform, one)) == 1 and len(final_replies(fake_platform, two)) == 1
    time.sleep(5)  # a second answer would have come by now
    sessions = [call.query.get("session") for call in fake_platform.sent(SESSION_PATH)]
    for one, two in zip(first, second):
        assert [s for s in sessions if s in (session_of(one), session_of(two))] == [session_of(one), session_of(two)]
    assert all(reporter_of_exactly_one_ticket(servers, user) for user in users)


def test_messages_held_by_a_server_that_crashed_are_answered_after_it_restarts(servers, fake_platform):
    users = [fresh() for _ in range(4)]
    servers.stack.stop_actions()  # the messages are held: apologised for, tried again and again
    try:
        held = [report(fake_platform, user, n, building=50 + n) for n, user in enumerate(users)]
        for message in held:
            assert deliver(servers.at(1), message)[0] == 200
        for message in held:
            assert wait_for_replies(fake_platform, session_of(message))[0].body["text"]["content"].endswith(APOLOGY)
        servers.stack.restart_rasa_server(servers.urls[1])  # killed while holding them
    finally:
        servers.stack.start_actions()
    for message in held:  # the platform's retry of one is not taken for a duplicate either
        assert deliver(servers.at(1), message)[0] == 200
    for message, user in zip(held, users):
        answers = [r for r in final_replies(fake_platform, message) if APOLOGY not in r]
        assert len(answers) == 1 and "工单#" in answers[0], answers
        assert reporter_of_exactly_one_ticket(servers, user), user


def test_the_next_message_waits_for_one_another_server_is_answering(servers, fake_platform):
    """A platform's retry reached the other server first, which is answering it; the resident's
    next message, which came here after it, is answered only after it."""
    from bot.clock import utc_now
    from connectors import inbox
    user = fresh()
    one, two = report(fake_platform, user, 0), callback(fake_platform, "我报的事怎么样了", user=user)
    assert inbox.record(servers.stack.engine, "dingtalk", one["msgId"], {}, utc_now())  # "the other server"
    assert deliver(servers.at(0), one)[0] == 200 and deliver(servers.at(0), two)[0] == 200
    time.sleep(4)
    assert replies(fake_platform, session_of(two)) == []  # held in line behind the message answered elsewhere
    with Session(servers.stack.engine, future=True) as session, session.begin():
        inbox.finish(session, "dingtalk", one["msgId"])
    assert len(final_replies(fake_platform, two, 60)) == 1
