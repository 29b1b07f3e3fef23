"""随手拍 on every platform: a message's photo or voice file is read from its callback, fetched the
platform's way from the fake platform (which serves a real JPEG with a GPS position and real
AMR and SILK voice messages), and kept re-encoded: the photo without its position."""
import base64
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import media_files
from bot.db import shared_engine
from bot.models import TicketMedia
from actions.actions import ActionTurn
from connectors import dingtalk, feishu, matrix, media_queue, onebot, wechat_kf
from connectors.wechat_mp import VOICE_NOT_TRANSCRIBED, WeChatMpInput
from connectors.wecom import Application, WeComBotInput, WeComInput, WeComSender, parsed_xml
from media_samples import amr_voice, gps_of, jpeg_with_gps, silk_voice
from stack.wechat import KF, MP
from stack.wecom import APP, BOT
from test_group_chat import Bot, take
from test_media import media_dir, sample_site  # noqa: F401 - autouse: the database and MEDIA_DIR, shared
from test_turn import run, tracker_for

PHOTO, AMR, SILK = jpeg_with_gps(), amr_voice(), silk_voice()
feishu_token_path = "/open-apis/auth/v3/tenant_access_token/internal"


@pytest.fixture
def api(fake_platform):
    """A prefix of the fake platform's own for one test, and a way to add routes under it."""
    prefix = f"/media-{uuid.uuid4().hex[:8]}"

    def route(path, answer):
        fake_platform.routes[prefix + path] = answer if callable(answer) else (lambda *_: (200, answer))
    route.base = fake_platform.base_url + prefix
    route.prefix = prefix
    return route


async def kept(incoming, fetch) -> list[tuple[str, str, bytes]]:
    """What the core notes of the message and the fetch loop keeps: (kind, status, file) each."""
    assert incoming.media, "the connector found no file in the message"
    media_queue.note(incoming, addressed=True, with_text=False)
    await media_queue.fetch_due(incoming.platform, fetch)
    with Session(shared_engine(), future=True) as session:
        return [(row.kind, row.status, media_files.path_of(row.file_name).read_bytes() if row.file_name else b"")
                for row in session.scalars(select(TicketMedia).order_by(TicketMedia.id))]


def assert_photo_without_position(file: bytes) -> None:
    assert file[:2] == b"\xff\xd8" and gps_of(file) == {} and b"TestCam" not in file


def assert_wav(file: bytes) -> None:
    assert file[:4] == b"RIFF" and file[8:12] == b"WAVE"


async def test_wecom_application_photos_and_voice_come_from_media_get(api, fake_platform):
    files = {"PHOTO_ID": PHOTO, "VOICE_ID": AMR}
    api("/cgi-bin/gettoken", {"errcode": 0, "access_token": "T-media", "expires_in": 7200})
    api("/cgi-bin/media/get", lambda _m, _p, query, _b: (200, files[query["media_id"]]) if query.get(
        "access_token") == "T-media" else (200, {"errcode": 40014, "errmsg": "invalid access_token"}))
    channel = WeComInput(APP["token"], APP["encoding_aes_key"], Application(APP["corp_id"], "s", 1, api.base),
                         sender=WeComSender())

    def xml(kind, media_id):
        return parsed_xml(f"<xml><FromUserName>zhang</FromUserName><MsgType>{kind}</MsgType><MediaId>{media_id}"
                          f"</MediaId><MsgId>{uuid.uuid4().int}</MsgId><Format>amr</Format></xml>".encode())
    [(kind, status, photo)] = await kept(channel.incoming(xml("image", "PHOTO_ID")), channel.chat.fetch)
    assert (kind, status) == ("image", "stored")
    assert_photo_without_position(photo)
    voice = await kept(channel.incoming(xml("voice", "VOICE_ID")), channel.chat.fetch)
    assert voice[1][:2] == ("voice", "stored")
    assert_wav(voice[1][2])


async def test_wecom_ai_bot_images_are_decrypted_with_the_callback_key(api):
    key = base64.b64decode(BOT["encoding_aes_key"] + "=")
    padded = PHOTO + bytes([32 - len(PHOTO) % 32]) * (32 - len(PHOTO) % 32)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    api("/aibot/file", lambda *_: (200, encryptor.update(padded) + encryptor.finalize()))
    channel = WeComBotInput(BOT["token"], BOT["encoding_aes_key"], "https://qyapi.weixin.qq.com", sender=WeComSender())
    incoming = channel.incoming({"msgid": uuid.uuid4().hex, "chattype": "single", "from": {"userid": "li"},
                                 "msgtype": "image", "image": {"url": api.base + "/aibot/file"}})
    [(_, status, photo)] = await kept(incoming, channel.chat.fetch)
    assert status == "stored"
    assert_photo_without_position(photo)


async def test_wecom_ai_bot_voice_arrives_as_its_transcript():
    channel = WeComBotInput(BOT["token"], BOT["encoding_aes_key"], "https://qyapi.weixin.qq.com", sender=WeComSender())
    incoming = channel.incoming({"msgid": "v1", "chattype": "single", "from": {"userid": "li"}, "msgtype": "voice",
                                 "voice": {"content": "三号楼电梯坏了"}})
    assert (incoming.kind, incoming.text) == ("text", "三号楼电梯坏了")


async def test_feishu_photos_voice_and_rich_posts_are_message_resources(api, fake_platform):
    api(feishu_token_path, {"code": 0, "tenant_access_token": "t-media", "expire": 7200})
    api("/open-apis/im/v1/messages/om_photo/resources/img_v2_1", lambda *_: (200, PHOTO))
    api("/open-apis/im/v1/messages/om_voice/resources/file_v3_1", lambda *_: (200, SILK))
    channel = feishu.FeishuInput("cli_app", "secret", "vtoken", api_base=api.base)

    def event(message_id, message_type, content):
        return {"sender": {"sender_id": {"open_id": "ou_wang"}},
                "message": {"message_id": message_id, "chat_type": "p2p", "chat_id": "oc_p2p",
                            "message_type": message_type, "content": json.dumps(content)}}
    photo = feishu.incoming_from(event("om_photo", "image", {"image_key": "img_v2_1"}), "ev-p", None, None)
    [(_, status, file)] = await kept(photo, channel.chat.fetch)
    assert status == "stored"
    assert_photo_without_position(file)
    [call] = [c for c in fake_platform.sent(api.prefix + "/open-apis/im/v1/messages/om_photo")]
    assert call.query == {"type": "image"} and call.headers["Authorization"] == "Bearer t-media"
    voice = feishu.incoming_from(event("om_voice", "audio", {"file_key": "file_v3_1", "duration": 2000}), "ev-v",
                                 None, None)
    assert_wav((await kept(voice, channel.chat.fetch))[1][2])
    post = feishu.incoming_from(event("om_post", "post", {"title": "", "content": [
        [{"tag": "text", "text": "3栋门口堵了"}, {"tag": "img", "image_key": "img_v2_2"}]]}), "ev-t", None, None)
    assert (post.kind, post.text, [r["key"] for r in post.media]) == ("text", "3栋门口堵了", ["img_v2_2"])


async def test_dingtalk_files_come_through_their_download_code(api, fake_platform):
    api("/v1.0/oauth2/accessToken", {"accessToken": "d-media", "expireIn": 7200})
    api("/v1.0/robot/messageFiles/download", lambda _m, _p, _q, body: (200, {
        "downloadUrl": f"{api.base}/files/{body['downloadCode']}"}))
    api("/files/photo-code", lambda *_: (200, PHOTO))
    api("/files/voice-code", lambda *_: (200, AMR))
    channel = dingtalk.DingTalkInput("appkey", "secret", "robot-1", api_base=api.base)

    def callback(msgtype, content):
        return dingtalk.incoming_from({"msgId": uuid.uuid4().hex, "msgtype": msgtype, "conversationType": "1",
                                       "senderStaffId": "resident9", "content": content}, channel.webhook_prefix)
    [(_, status, photo)] = await kept(callback("picture", {"downloadCode": "photo-code"}), channel.chat.fetch)
    assert status == "stored"
    assert_photo_without_position(photo)
    [call] = fake_platform.sent(api.prefix + "/v1.0/robot/messageFiles/download")
    assert call.body == {"downloadCode": "photo-code", "robotCode": "robot-1"}
    assert call.headers["x-acs-dingtalk-access-token"] == "d-media"
    voice = callback("audio", {"downloadCode": "voice-code", "recognition": "楼道灯坏了", "duration": 2})
    assert (voice.kind, voice.text) == ("text", "楼道灯坏了")  # DingTalk's transcript goes to the bot
    assert_wav((await kept(voice, channel.chat.fetch))[1][2])


async def test_onebot_images_and_records_come_from_their_urls(api):
    api("/qq/photo.jpg", lambda *_: (200, PHOTO))
    api("/qq/voice.silk", lambda *_: (200, SILK))
    event = {"post_type": "message", "message_type": "private", "user_id": 30000009, "message_id": 77,
             "message": [{"type": "image", "data": {"file": "a.jpg", "url": api.base + "/qq/photo.jpg"}},
                         {"type": "record", "data": {"file": "v.silk", "url": api.base + "/qq/voice.silk"}}]}
    incoming = onebot.incoming_from(event, "10001")
    [(_, photo_status, photo), (_, voice_status, voice)] = await kept(incoming, onebot.OneBotInput(api.base).chat.fetch)
    assert (photo_status, voice_status) == ("stored", "stored")
    assert_photo_without_position(photo)
    assert_wav(voice)


async def test_matrix_files_come_from_the_homeservers_media_repository(api, fake_platform):
    api("/_matrix/client/v1/media/download/example.org/photoId", lambda *_: (200, PHOTO))
    api("/_matrix/client/v1/media/download/example.org/voiceId", lambda *_: (404, {"errcode": "M_UNRECOGNIZED"}))
    api("/_matrix/media/v3/download/example.org/voiceId", lambda *_: (200, AMR))  # an older homeserver
    bot = matrix.MatrixInput(api.base, "@bot:example.org", access_token="mx-token")

    def event(msgtype, mxc):
        return {"type": "m.room.message", "sender": "@wang:example.org", "event_id": f"${uuid.uuid4().hex}",
                "content": {"msgtype": msgtype, "body": "x", "url": mxc}}
    photo = matrix.incoming_from("!room:example.org", event("m.image", "mxc://example.org/photoId"), bot)
    [(_, status, file)] = await kept(photo, bot.chat.fetch)
    assert status == "stored"
    assert_photo_without_position(file)
    [call] = fake_platform.sent(api.prefix + "/_matrix/client/v1/media/download/example.org/photoId")
    assert call.headers["Authorization"] == "Bearer mx-token"
    voice = matrix.incoming_from("!room:example.org", event("m.audio", "mxc://example.org/voiceId"), bot)
    assert_wav((await kept(voice, bot.chat.fetch))[1][2])
    odd = matrix.incoming_from("!room:example.org", event("m.image", "mxc://example.org/../../admin"), bot)
    assert odd.media == ()  # only a plain server name and media id ever go into a URL


# -- personal WeChat: the Official Account and 微信客服 ------------------------------------------------
def tencent_media_get(api, token_path: str, token_query: dict, files: dict, sent_path: str) -> None:
    """A Tencent account at the fake platform: its token for the right credentials, `media/get`
    serving `files` for that token only, and its send API answering ok."""
    api(token_path, lambda _m, _p, query, _b: (200, {"errcode": 0, "access_token": "T-wechat", "expires_in": 7200})
        if token_query.items() <= query.items() else (200, {"errcode": 40125, "errmsg": "invalid appsecret"}))
    api("/cgi-bin/media/get", lambda _m, _p, query, _b: (200, files[query["media_id"]])
        if query.get("access_token") == "T-wechat" and query.get("media_id") in files
        else (200, {"errcode": 40007, "errmsg": "invalid media_id"}))
    api(sent_path, {"errcode": 0, "errmsg": "ok"})


def replies_to(fake_platform, api, sent_path: str) -> list[str]:
    return [call.body["text"]["content"] for call in fake_platform.sent(api.prefix + sent_path)]


async def answer_files_the_ticket(sender_id: str) -> str:
    """The resident's answer to the question, through the bot's turn: the receipt."""
    replies, _ = await run(ActionTurn(), tracker_for(sender_id, "金御城3栋门口，车堵了一上午了", "report_parking",
                                                     entities=[{"entity": "compound", "value": "金御城"}]))
    return replies[0]


def kept_rows() -> list[tuple[str, str, int | None]]:
    with Session(shared_engine(), future=True) as session:
        return [(m.kind, m.status, m.ticket_id) for m in session.scalars(select(TicketMedia).order_by(TicketMedia.id))]


async def test_official_account_photos_and_voice_come_from_media_get_and_join_the_ticket(api, fake_platform):
    sent = "/cgi-bin/message/custom/send"
    tencent_media_get(api, "/cgi-bin/token", {"appid": MP["app_id"], "secret": "mp-secret"},
                      {"PHOTO_ID": PHOTO, "VOICE_ID": AMR, "SPOKEN_ID": AMR}, sent)
    api("/mmbiz/photo.jpg", lambda *_: (200, PHOTO))
    channel, bot = WeChatMpInput(MP["app_id"], "mp-secret", MP["token"], api_base=api.base), Bot()

    def xml(kind, resident="oWang", **fields):
        fields = {"FromUserName": resident, "MsgType": kind, "MsgId": str(uuid.uuid4().int), **fields}
        return channel.incoming(parsed_xml(("<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
                                            + "</xml>").encode()))
    photo = xml("image", MediaId="PHOTO_ID", PicUrl=api.base + "/mmbiz/photo.jpg")
    assert photo.media == ({"kind": "image", "media_id": "PHOTO_ID", "url": api.base + "/mmbiz/photo.jpg"},)
    await take(channel.chat, bot, photo)
    assert bot.heard == [] and replies_to(fake_platform, api, sent) == ["这张照片是要反映什么问题？"]
    [(kind, status, file)] = await kept(photo, channel.chat.fetch)  # noted once: fetched already
    assert (kind, status) == ("image", "stored")
    assert_photo_without_position(file)
    receipt = await answer_files_the_ticket("wechat_mp:dm:oWang")
    assert "已附照片1张" in receipt and kept_rows() == [("image", "stored", 1)]

    # no transcript, from a resident with no report just before: today's words, the file waits for the answer
    unheard = xml("voice", "oLi", MediaId="VOICE_ID", Format="amr", Recognition="")
    await take(channel.chat, bot, unheard)
    assert replies_to(fake_platform, api, sent)[-1] == VOICE_NOT_TRANSCRIBED
    spoken = xml("voice", MediaId="SPOKEN_ID", Format="amr", Recognition="5号楼楼道灯不亮了")
    assert (spoken.kind, spoken.text, spoken.media) == ("text", "5号楼楼道灯不亮了",
                                                        ({"kind": "voice", "media_id": "SPOKEN_ID"},))
    voices = (await kept(spoken, channel.chat.fetch))[1:]
    assert [status for _, status, _ in voices] == ["stored", "stored"]
    assert_wav(voices[0][2])
    # a MediaId media/get no longer hands over: the photo comes from its PicUrl
    late = xml("image", MediaId="EXPIRED", PicUrl=api.base + "/mmbiz/photo.jpg")
    assert_photo_without_position((await kept(late, channel.chat.fetch))[-1][2])
    await channel.sender.close()


async def test_wechat_kf_photos_and_voice_come_from_media_get_with_the_kf_token(api, fake_platform):
    sent = "/cgi-bin/kf/send_msg"
    tencent_media_get(api, "/cgi-bin/gettoken", {"corpid": KF["corp_id"], "corpsecret": KF["secret"]},
                      {"PHOTO_ID": PHOTO, "VOICE_ID": AMR}, sent)
    channel = wechat_kf.WeChatKfInput(KF["token"], KF["encoding_aes_key"],
                                      Application(KF["corp_id"], KF["secret"], 0, api.base))
    bot = Bot()

    def synced(kind, media_id, resident="wmWang"):
        return wechat_kf.incoming_from({"msgid": uuid.uuid4().hex, "open_kfid": "wkOffice", "external_userid": resident,
                                        "send_time": int(time.time()), "origin": 3, "msgtype": kind,
                                        kind: {"media_id": media_id}}, time.time())
    photo = synced("image", "PHOTO_ID")
    assert photo.media == ({"kind": "image", "media_id": "PHOTO_ID"},)
    await take(channel.chat, bot, photo)
    assert bot.heard == [] and replies_to(fake_platform, api, sent) == ["这张照片是要反映什么问题？"]
    [call] = fake_platform.sent(api.prefix + sent)
    assert call.body["open_kfid"] == "wkOffice" and call.body["touser"] == "wmWang"
    [(kind, status, file)] = await kept(photo, channel.chat.fetch)
    assert (kind, status) == ("image", "stored")
    assert_photo_without_position(file)
    receipt = await answer_files_the_ticket("wechat_kf:dm:wmWang")
    assert "已附照片1张" in receipt and kept_rows() == [("image", "stored", 1)]

    voice = synced("voice", "VOICE_ID", "wmLi")  # no report just before: today's words, the file waits
    await take(channel.chat, bot, voice)
    assert replies_to(fake_platform, api, sent)[-1] == wechat_kf.VOICE_AS_TEXT
    [_, (kind, status, file)] = await kept(voice, channel.chat.fetch)
    assert (kind, status) == ("voice", "stored")
    assert_wav(file)
    await channel.sender.close()
