"""随手拍: a photo or voice message a resident sends becomes part of their ticket, safely kept.

The files are real (tests/media_samples.py); the turn runs through the Rasa action against the
sample site, as in test_turn.py; downloads come from the fake platform."""
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.actions import ActionTurn
from bot import handoff, media, media_files
from bot.clock import utc_now
from bot.conversations import Resident
from bot.models import Ticket, TicketMedia
from bot.replies import ASK_COMPOUND, UNKNOWN_COMPOUND
from bot.worker import media_tick
from connectors import media_queue
from connectors.group_chat import Incoming
from connectors.inbound import MalformedMessage
from connectors.rasa_chat import RasaGroupChat
from media_samples import amr_voice, broken_jpeg, gps_of, jpeg_with_gps, mp4_video, silk_voice
from test_turn import JINYU_GROUP, Chat, run, sample_site, tracker_for  # noqa: F401 - the fixture, shared

ALICE = Resident("wecom", "wrOgQhDgAAJinYuCheng01", "alice", "王阿姨")
PHOTO = {"kind": "image", "url": "PHOTO"}


@pytest.fixture(autouse=True)
def media_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))
    return tmp_path / "media"


def receive(engine, refs, event_id="m1", addressed=True, with_text=False, resident=ALICE, at=None):
    with Session(engine, future=True) as session, session.begin():
        return media.received(session, resident, event_id, refs, addressed, with_text, at or utc_now())


async def say(text, intent, ranking=()):
    replies, _ = await run(ActionTurn(), tracker_for(f"{JINYU_GROUP}:alice", text, intent, ranking=ranking))
    return replies


def rows(engine):
    with Session(engine, future=True) as session:
        return [(m.kind, m.status, m.ticket_id) for m in session.scalars(select(TicketMedia).order_by(TicketMedia.id))]


# --- what is kept of a file ------------------------------------------------------------------------

def test_a_kept_photo_has_lost_its_gps_position_camera_and_comment():
    original = jpeg_with_gps()
    assert gps_of(original)  # the test photo does carry a position
    kept = media_files.prepare("image", original)
    assert kept.content_type == "image/jpeg" and gps_of(kept.body) == {}
    assert b"Exif" not in kept.body and b"TestCam" not in kept.body and b"home of the resident" not in kept.body
    assert kept.thumb and kept.thumb[:2] == b"\xff\xd8"


@pytest.mark.parametrize("make", [amr_voice, silk_voice])
def test_amr_and_silk_voice_messages_are_kept_as_wav_a_browser_plays(make):
    kept = media_files.prepare("voice", make())
    assert kept.content_type == "audio/wav" and kept.body[:4] == b"RIFF" and len(kept.body) > 20000


def test_a_short_video_is_kept_with_a_still():
    kept = media_files.prepare("video", mp4_video())
    assert kept.content_type == "video/mp4" and kept.thumb[:2] == b"\xff\xd8"


@pytest.mark.parametrize("kind, data", [("image", broken_jpeg()), ("image", b"<svg onload=alert(1)>"),
                                        ("image", amr_voice()), ("voice", b"#!AMR\n" + b"\x00" * 40),
                                        ("voice", jpeg_with_gps()), ("video", b"....ftypmp42" + b"\x00" * 64),
                                        ("image", b"")])
def test_what_does_not_decode_as_its_kind_is_refused(kind, data):
    with pytest.raises(media_files.Refused):
        media_files.prepare(kind, data)


def test_a_file_over_the_size_limit_is_refused_before_decoding(monkeypatch):
    monkeypatch.setitem(media_files.MAX_BYTES, "image", 1000)
    with pytest.raises(media_files.Refused, match="太大"):
        media_files.prepare("image", jpeg_with_gps())


# --- photos and reports ----------------------------------------------------------------------------

async def test_a_photo_alone_is_asked_about_and_the_answer_files_it_with_the_photo(sample_site):
    assert receive(sample_site, [PHOTO]) == "这张照片是要反映什么问题？"
    # the answer is unsure for the model, but it is the answer: filed, in its likeliest category
    replies = await say("3栋门口，堵了一上午了", "inform", ranking=[("report_parking", 0.2)])
    assert "已登记工单#1" in replies[0] and "已附照片1张" in replies[0]
    assert rows(sample_site) == [("image", "queued", 1)]


async def test_a_photo_sent_with_the_report_is_on_its_ticket_and_in_its_receipt(sample_site):
    assert receive(sample_site, [PHOTO, {"kind": "voice", "url": "V"}], with_text=True) is None
    replies = await say("消防通道又被车堵了", "report_parking")
    assert "已附照片1张、语音1条" in replies[0]
    assert [ticket for _, _, ticket in rows(sample_site)] == [1, 1]


async def test_a_photo_after_a_report_joins_its_ticket(sample_site):
    await say("消防通道又被车堵了", "report_parking")
    assert receive(sample_site, [PHOTO]) == "已把照片1张附到工单#1。"
    assert rows(sample_site) == [("image", "queued", 1)]


async def test_a_photo_in_passing_is_only_noted_and_taken_by_a_report_minutes_later(sample_site):
    assert receive(sample_site, [PHOTO], addressed=False) is None
    assert rows(sample_site) == [("image", "seen", None)]  # nothing downloaded for a photo in passing
    replies = await say("消防通道又被车堵了", "report_parking")
    assert "已附照片1张" in replies[0] and rows(sample_site) == [("image", "queued", 1)]


async def test_a_photo_long_before_a_report_is_not_attached_and_a_passing_one_is_forgotten(sample_site):
    long_ago = utc_now() - timedelta(hours=1)
    receive(sample_site, [PHOTO], event_id="old", at=long_ago)
    receive(sample_site, [PHOTO], event_id="passing", addressed=False, at=long_ago)
    replies = await say("消防通道又被车堵了", "report_parking")
    assert "已附" not in replies[0]
    media_tick(sample_site)
    assert rows(sample_site) == [("image", "queued", None)]


async def test_a_place_alone_is_not_taken_for_what_the_photo_shows(sample_site):
    receive(sample_site, [PHOTO], at=utc_now() - timedelta(minutes=5))
    place = [{"entity": "building", "value": "5", "start": 0, "end": 3},
             {"entity": "unit", "value": "2", "start": 3, "end": 6}]
    replies, _ = await run(ActionTurn(), tracker_for(f"{JINYU_GROUP}:alice", "5号楼2单元", "inform",
                                                     entities=place, ranking=[("report_parking", 0.2)]))
    assert replies == ["这张照片是要反映什么问题？请把位置和问题一起说一遍，我来登记。"]
    assert rows(sample_site) == [("image", "queued", None)]  # on no ticket yet
    replies = await say("5号楼门口的车堵了一上午了", "inform", ranking=[("report_parking", 0.2)])
    assert "已登记工单#1 停车秩序" in replies[0] and "已附照片1张" in replies[0]


async def test_a_question_of_the_bots_own_is_not_crowded_by_the_photos(sample_site):
    carol = Resident("wecom", None, "carol")  # one-to-one: no group to say the compound
    assert receive(sample_site, [PHOTO], resident=carol) == "这张照片是要反映什么问题？"
    chat = Chat("wecom:dm:carol")
    replies = await chat.say("门口的车堵了一上午了", "inform", ranking=[("report_parking", 0.2)])
    assert replies == [ASK_COMPOUND]  # answered: now only "which compound?"
    replies = await chat.say("阳光花园", "inform", entities=[{"entity": "compound", "value": "阳光花园",
                                                              "start": 0, "end": 4}])
    assert replies == [UNKNOWN_COMPOUND]
    replies = await chat.say("翠柳苑", "inform")
    assert "已登记工单#1 停车秩序 · 翠柳苑" in replies[0] and "已附照片1张" in replies[0]


@pytest.mark.parametrize("sender, answers", [
    (f"{JINYU_GROUP}:alice", [("阳光花园门口的车堵了一上午了", "report_parking"), ("不是", "deny")]),  # not our compound
    ("wecom:dm:carol", [("门口的车堵了一上午了", "report_parking"), ("算了", "deny")]),  # which compound? never mind
])
async def test_a_photo_whose_report_was_dropped_does_not_file_the_next_message(sample_site, sender, answers):
    resident = ALICE if sender.startswith(JINYU_GROUP) else Resident("wecom", None, "carol")
    receive(sample_site, [PHOTO], with_text=True, resident=resident)
    chat = Chat(sender)
    for text, intent in answers:
        place = [{"entity": "compound", "value": "阳光花园", "start": 0, "end": 4}] if "阳光花园" in text else ()
        replies = await chat.say(text, intent, entities=place)
    assert "不登记" in replies[0]
    replies = await chat.say("社区医院几点开门", "ask_info", 0.9, ranking=[("report_property_service", 0.05)])
    assert not any("工单" in reply or "哪个小区" in reply for reply in replies)
    assert rows(sample_site) == [("image", "withdrawn", None)]


async def test_a_building_while_the_group_asks_about_a_compound_named_is_no_photo_answer(sample_site):
    receive(sample_site, [PHOTO], at=utc_now() - timedelta(minutes=3))
    chat = Chat(f"{JINYU_GROUP}:alice")
    await chat.say("阳光花园门口的车堵了一上午了", "inform", ranking=[("report_parking", 0.2)],
                   entities=[{"entity": "compound", "value": "阳光花园", "start": 0, "end": 4}])
    assert chat.slots["pending"]["asked"] == "confirm"
    replies = await chat.say("3栋", "inform", entities=[{"entity": "building", "value": "3", "start": 0, "end": 2}])
    assert not any("照片" in reply for reply in replies)


async def test_a_photo_sent_by_mistake_is_not_put_on_the_next_report(sample_site):
    receive(sample_site, [PHOTO], at=utc_now() - timedelta(minutes=2))
    await say("不是，发错了", "deny")
    replies = await say("消防通道又被车堵了", "report_parking")
    assert "已登记工单#1" in replies[0] and "已附" not in replies[0]
    assert rows(sample_site) == [("image", "withdrawn", None)]


async def test_a_photo_withdrawn_while_it_downloads_stays_withdrawn(sample_site):
    receive(sample_site, [PHOTO], at=utc_now() - timedelta(minutes=2))
    with Session(sample_site, future=True) as session, session.begin():
        [(media_id, _, _)] = media.claim_due(session, "wecom", utc_now())
    await say("不是，发错了", "deny")
    with Session(sample_site, future=True) as session, session.begin():
        media.kept(session, media_id, "x.jpg", None, "image/jpeg", 10)  # the download ends after
    replies = await say("消防通道又被车堵了", "report_parking")
    assert "已附" not in replies[0] and rows(sample_site) == [("image", "withdrawn", None)]


async def test_no_answer_to_staff_takes_the_photos_they_look_at(sample_site):
    with Session(sample_site, future=True) as session, session.begin():
        handoff.start(session, ALICE, "request_human", None, "转人工", utc_now())
    receive(sample_site, [PHOTO])
    await say("不是", "deny")  # to staff's "是3号楼吗？"
    assert rows(sample_site) == [("image", "queued", None)]


def test_a_photo_only_seen_in_the_group_is_forgotten_when_its_report_is_dropped(sample_site):
    receive(sample_site, [PHOTO], addressed=False)
    with Session(sample_site, future=True) as session, session.begin():
        media.withdraw(session, ALICE.sender_id, utc_now())
    assert rows(sample_site) == []


async def test_a_greeting_is_not_taken_for_the_answer(sample_site):
    receive(sample_site, [PHOTO])
    replies = await say("谢谢", "thank", ranking=[("report_parking", 0.01)])
    assert not any("工单" in reply for reply in replies if reply)


@pytest.mark.parametrize("text, intent", [("社区医院几点开门", "ask_info"), ("哈哈 小助手你真可爱", "chitchat")])
async def test_a_question_or_small_talk_after_a_photo_files_nothing(sample_site, text, intent):
    receive(sample_site, [PHOTO], at=utc_now() - timedelta(minutes=10))
    replies = await say(text, intent, ranking=[("report_property_service", 0.05)])
    assert not any("工单" in reply for reply in replies if reply)
    with Session(sample_site, future=True) as session:
        assert session.scalars(select(Ticket)).all() == []


async def test_a_complaint_asked_as_a_question_after_a_photo_is_its_report(sample_site):
    receive(sample_site, [PHOTO])
    replies = await say("楼道里的垃圾怎么一直没人收？", "ask_info", ranking=[("report_sanitation", 0.9)])
    assert any("环境卫生" in reply and "已附照片1张" in reply for reply in replies if reply)


def test_a_message_taken_again_is_noted_once(sample_site):
    first = receive(sample_site, [PHOTO])
    assert receive(sample_site, [PHOTO]) == first and len(rows(sample_site)) == 1


def test_a_second_photo_while_the_question_waits_is_counted(sample_site):
    receive(sample_site, [PHOTO], event_id="a")
    assert receive(sample_site, [PHOTO], event_id="b") == "收到，共照片2张。这张照片是要反映什么问题？"


def test_a_resident_over_the_daily_quota_is_told_and_nothing_is_noted(sample_site, monkeypatch):
    monkeypatch.setenv("MEDIA_PER_RESIDENT_PER_DAY", "2")
    receive(sample_site, [PHOTO], event_id="a")
    receive(sample_site, [PHOTO], event_id="b")
    assert receive(sample_site, [PHOTO], event_id="c") == media.QUOTA_REPLY
    assert len(rows(sample_site)) == 2


# --- the group-chat core ---------------------------------------------------------------------------

async def test_the_core_asks_about_a_photo_without_waiting_for_its_download(sample_site, fake_platform):
    from test_group_chat import Bot, Platform, incoming, take
    fake_platform.routes["/core/slow.jpg"] = lambda *_: (200, jpeg_with_gps())
    platform, bot = Platform(), Bot()
    fetch = serving(fake_platform, {})
    chat = RasaGroupChat("wecom", platform.send, fetch=fetch)
    photo = {"kind": "image", "url": "/core/slow.jpg"}
    await take(chat, bot, incoming("p1", "", kind="image", media=(photo,)))
    assert bot.heard == [] and platform.sent[-1][1] == "这张照片是要反映什么问题？"
    await take(chat, bot, incoming("p2", "你们看看这车停的", media=(photo,)))  # with text: the turn says it
    assert bot.heard[-1][1] == "你们看看这车停的" and platform.sent[-1][1] == "听到：你们看看这车停的"
    await take(chat, bot, incoming("p3", "", kind="image", mentioned=False, media=(photo,)))  # in passing
    assert len(platform.sent) == 2
    assert [status for _, status, _ in rows(sample_site)] == ["stored", "stored", "seen"]


@pytest.mark.parametrize("refs", [[{"kind": "image", "url": 5}], [{"kind": "exe", "url": "x"}], ["x"],
                                  [{"kind": "image", "url": "x" * 5000}], [PHOTO] * 40, "image"])
def test_malformed_media_handles_are_refused_at_the_edge(refs):
    with pytest.raises(MalformedMessage):
        Incoming(platform="wecom", event_id="e", user_id="u", text="", kind="image", media=refs)


# --- the fetch loop --------------------------------------------------------------------------------

def serving(fake_platform, files):
    for path, body in files.items():
        fake_platform.routes[path] = lambda *_, body=body: (200, body)
    return lambda ref: media_queue.download(fake_platform.base_url + ref["url"], ref["kind"])


async def test_the_loop_keeps_a_photo_refuses_a_broken_one_and_retries_an_outage(sample_site, fake_platform, media_dir):
    fetch = serving(fake_platform, {"/m/photo.jpg": jpeg_with_gps(), "/m/broken.jpg": broken_jpeg()})
    receive(sample_site, [{"kind": "image", "url": "/m/photo.jpg"}, {"kind": "image", "url": "/m/broken.jpg"},
                          {"kind": "image", "url": "/m/not-yet.jpg"}])
    fake_platform.routes["/m/not-yet.jpg"] = lambda *_: (502, {"error": "bad gateway"})
    assert await media_queue.fetch_due("wecom", fetch) == 3
    with Session(sample_site, future=True) as session:
        photo, broken, later = session.scalars(select(TicketMedia).order_by(TicketMedia.id)).all()
        assert photo.status == "stored" and photo.ref is None
        assert gps_of(media_files.path_of(photo.file_name).read_bytes()) == {}
        assert broken.status == "refused" and broken.note == "无法识别的图片，未保存" and broken.file_name is None
        assert later.status == "queued" and "MediaUnavailable" in later.last_error
        assert later.next_attempt_at > utc_now()
    assert sorted(p.name.split(".", 1)[1] for p in media_dir.iterdir()) == ["jpg", "thumb.jpg"]


async def test_the_total_quota_refuses_what_no_longer_fits(sample_site, fake_platform, monkeypatch):
    monkeypatch.setenv("MEDIA_TOTAL_MB", "0")
    fetch = serving(fake_platform, {"/m/photo.jpg": jpeg_with_gps()})
    receive(sample_site, [{"kind": "image", "url": "/m/photo.jpg"}])
    await media_queue.fetch_due("wecom", fetch)
    assert rows(sample_site) == [("image", "refused", None)]


# --- retention -------------------------------------------------------------------------------------

async def test_files_go_when_their_ticket_has_been_closed_longer_than_the_retention(sample_site, fake_platform,
                                                                                       media_dir, monkeypatch):
    monkeypatch.setenv("MEDIA_RETENTION_DAYS", "30")
    fetch = serving(fake_platform, {"/m/photo.jpg": jpeg_with_gps()})
    await say("消防通道又被车堵了", "report_parking")
    await say("垃圾三天没人收", "report_sanitation")
    receive(sample_site, [{"kind": "image", "url": "/m/photo.jpg"}], event_id="p1")
    receive(sample_site, [{"kind": "image", "url": "/m/photo.jpg"}], event_id="p2",
            resident=Resident("wecom", "wrOgQhDgAAJinYuCheng01", "bob"))
    await media_queue.fetch_due("wecom", fetch)
    with Session(sample_site, future=True) as session, session.begin():
        closed = session.get(Ticket, 2)
        closed.status, closed.resolved_at = "closed", utc_now() - timedelta(days=31)
        session.get(Ticket, 1).status = "closed"  # closed today: kept
    assert len(list(media_dir.iterdir())) == 4
    assert media_tick(sample_site) == 2
    with Session(sample_site, future=True) as session:
        gone, kept = session.scalars(select(TicketMedia).order_by(TicketMedia.id)).all()
        assert (gone.ticket_id, gone.status, gone.file_name) == (2, "deleted", None)  # alice's, after her report
        assert kept.status == "stored" and media_files.path_of(kept.file_name) is not None  # bob's, on no ticket
    assert len(list(media_dir.iterdir())) == 2
