"""转人工 on the bot's side, through the real Rasa server and action server over REST: asking
for a person, two messages in a row the bot cannot understand, an urgent report; while staff
have the conversation the bot still files reports and answers status questions, and leaves
everything else to them; handing back; a new session that keeps a waiting conversation with
staff. Then the office-hours wording, with fixed times."""
import asyncio
import json
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from bot import handoff as handoffs
from bot.clock import LOCAL_ZONE, utc_now
from bot.models import Handoff, OutboxMessage
from bot.office_hours import OfficeHoursError, parse
from bot.org import OrgFileError, validate_org

GROUP = "rest:wangjiang-demo"  # bound to 望江华庭 (和谐社区, 苏书记 wecom:susj, 云网格员 wecom:yungw)
PERSON_WILL_ANSWER = "已为您转接社区工作人员"


def resident() -> str:
    return f"{GROUP}:h{uuid.uuid4().hex[:8]}"


def handoff_rows(stack, sender: str) -> list[Handoff]:
    with Session(stack.engine, future=True) as session:
        return list(session.scalars(select(Handoff).where(Handoff.sender_id == sender)))


def handoff_of(stack, sender: str) -> Handoff:
    """The conversation's one handoff, with its compound and ticket loaded."""
    with Session(stack.engine, future=True) as session:
        return session.scalars(select(Handoff).where(Handoff.sender_id == sender)
                               .options(selectinload(Handoff.compound), selectinload(Handoff.ticket))).one()


def alerts_about(stack, sender: str) -> list[OutboxMessage]:
    """The 【转人工】 alerts to staff that quote this resident's user id."""
    user = sender.rsplit(":", 1)[1]
    with Session(stack.engine, future=True) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.text.like(f"【转人工】%{user}%"))))


def logged_user_texts(stack, sender: str) -> list[str]:
    status, body = stack.get(f"/conversations/{handoffs.conversation_in_url(sender)}/tracker")
    assert status == 200
    return [e["text"] for e in json.loads(body)["events"] if e["event"] == "user"]


def hand_back(stack, sender: str) -> None:
    """What the console's hand-back does: resume the conversation in Rasa, then record it."""
    asyncio.run(handoffs.RasaConversations(stack.rasa_url, stack.rasa_token).resume(sender, handoffs.HANDED_BACK))
    with Session(stack.engine, future=True) as session, session.begin():
        handoffs.hand_back(session, handoffs.open_handoff(session, sender), utc_now())


def test_asking_for_a_person_hands_over_and_a_report_meanwhile_is_still_filed(stack):
    asker, neighbour = resident(), resident()
    [notice] = stack.rest(asker, "转人工")
    assert PERSON_WILL_ANSWER in notice and ("分钟内" in notice or "上班后" in notice)
    assert stack.rest(asker, "你好 在吗") == []  # small talk waits for staff, kept in the transcript
    assert "你好 在吗" in logged_user_texts(stack, asker)
    [receipt] = stack.rest(asker, "5号楼电梯坏了 一直停在三楼不动")
    assert "电梯" in receipt and [t for t in stack.tickets() if asker.rsplit(":", 1)[1] in t[3]]
    assert stack.rest(neighbour, "你好")  # the same group, another resident: the bot answers
    row = handoff_of(stack, asker)
    assert (row.reason, row.status, row.compound.name, row.group_id) == ("asked", "waiting", "望江华庭", "wangjiang-demo")
    assert sorted(a.recipient for a in alerts_about(stack, asker)) == ["wecom:dm:susj", "wecom:dm:yungw"]


def test_two_messages_in_a_row_the_bot_cannot_understand_hand_over(stack):
    sender = resident()
    [first] = stack.rest(sender, "请问这个月的电影票多少钱")  # nothing the FAQ is near
    assert "不太确定" in first or "没太明白" in first
    [second] = stack.rest(sender, "咱们这儿有没有卖菜的")
    assert "没能明白" in second and PERSON_WILL_ANSWER in second
    assert handoff_of(stack, sender).reason == "not_understood"
    assert stack.rest(sender, "哪里可以修自行车") == []


def test_one_message_not_understood_between_understood_ones_does_not_hand_over(stack):
    sender = resident()
    assert "转人工" in stack.rest(sender, "请问驾照到期去哪换")[0]
    assert stack.rest(sender, "你好")
    [again] = stack.rest(sender, "咱们这儿有没有卖菜的")
    assert "转人工" in again and PERSON_WILL_ANSWER not in again
    assert not handoff_rows(stack, sender)


def test_an_urgent_report_hands_over_and_alerts_staff(stack):
    sender = resident()
    emergency, receipt, notice = stack.rest(sender, "B座电梯困人了 里面有个老太太 按铃没人理")
    assert "【紧急】" in emergency and "街道" in receipt and "跟进" in notice
    row = handoff_of(stack, sender)
    assert row.reason == "urgent" and row.ticket is not None and row.ticket.urgent
    assert row.ticket_id in [t[0] for t in stack.tickets() if sender.rsplit(":", 1)[1] in t[3]]
    assert alerts_about(stack, sender)  # besides the 【紧急工单】 notices to all three levels
    [status] = stack.rest(sender, "我报的事怎么样了")  # at 3 a.m. too: the bot still answers this
    assert f"#{row.ticket_id}" in status


def test_handing_back_lets_the_bot_answer_again(stack):
    sender = resident()
    stack.rest(sender, "我要找人工客服")
    assert stack.rest(sender, "你好") == []
    hand_back(stack, sender)
    assert handoff_of(stack, sender).status == "returned"
    replies = stack.rest(sender, "A座楼道灯坏了")
    assert replies and "供电照明" in replies[0]


def two_hours_pass(stack, sender: str) -> None:
    """Move the conversation's events two hours back, in both places Rasa keeps their time."""
    with stack.engine.begin() as connection:
        rows = connection.execute(text("SELECT id, data FROM events WHERE sender_id = :s"), {"s": sender}).all()
        for row_id, data in rows:
            event = json.loads(data)
            event["timestamp"] -= 7200
            connection.execute(text("UPDATE events SET timestamp = :t, data = :d WHERE id = :i"),
                               {"t": event["timestamp"], "d": json.dumps(event), "i": row_id})


def test_a_new_session_keeps_a_waiting_conversation_with_staff(stack):
    sender = resident()
    stack.rest(sender, "转人工")
    two_hours_pass(stack, sender)  # the next message starts a new session
    assert stack.rest(sender, "你好") == []
    with stack.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM events WHERE sender_id = :s AND "
                                       "type_name = 'session_started'"), {"s": sender}).scalar() == 2
    hand_back(stack, sender)
    assert stack.rest(sender, "你好")


def test_handing_back_reaches_a_conversation_whose_id_needs_escaping(stack):
    sender = f"rest:{quote('!room:matrix.example.org', safe='')}:h{uuid.uuid4().hex[:6]}"
    stack.rest(sender, "转人工")
    assert stack.rest(sender, "你好") == []
    hand_back(stack, sender)
    assert stack.rest(sender, "你好")


# the office hours residents are told about ---------------------------------------------------------
WEEKDAYS = parse("周一至周五 8:30-12:00,14:00-17:30；周六 9:00-12:00")


def utc(local: str) -> datetime:
    """A Beijing time, as the naive UTC the database keeps."""
    return datetime.fromisoformat(local).replace(tzinfo=LOCAL_ZONE).astimezone(timezone.utc).replace(tzinfo=None)


@pytest.mark.parametrize("local, expected", [
    ("2026-11-23 10:00", "工作人员会在30分钟内在这里回复您"),     # a Monday morning
    ("2026-11-23 12:30", "工作人员会在今天14:00上班后尽快回复您"),  # lunch
    ("2026-11-23 18:00", "工作人员会在明天8:30上班后尽快回复您"),   # the evening
    ("2026-11-28 13:00", "工作人员会在周一8:30上班后尽快回复您"),   # Saturday afternoon
])
def test_the_resident_hears_when_a_person_will_answer(local, expected):
    said = handoffs.notice("asked", WEEKDAYS, utc(local))
    assert expected in said and said.startswith("好的，" + PERSON_WILL_ANSWER)
    assert ("非工作时间" in said) == ("分钟内" not in expected)
    assert "照样可以告诉小助手" in said  # the bot still takes reports meanwhile


@pytest.mark.parametrize("written", ["周一至周五", "9:00-17:00", "周五至周一 9:00-17:00", "周一 17:00-9:00",
                                     "周八 9:00-12:00", "周一至周五 9点到5点"])
def test_office_hours_that_cannot_be_read_are_refused(written):
    with pytest.raises(OfficeHoursError):
        parse(written)


def test_the_org_file_check_names_the_community_with_unreadable_office_hours():
    site = {"subdistricts": [{"name": "幸福街道", "communities": [{"name": "光明社区", "office_hours": "上班时间"}]}]}
    with pytest.raises(OrgFileError, match=r"communities\[0\] \(光明社区\)：字段 'office_hours' 读不懂"):
        validate_org(site)
