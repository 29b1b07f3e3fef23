"""随手拍 in the console: a ticket's photos and voice on its page, in the 转人工 transcript and counted
in the CSV export; each file served only to logged-in staff whose scope holds it, by a token no
one can guess — on SQLite and PostgreSQL."""
import csv
import io

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import handoff
from bot.clock import utc_now
from bot.conversations import Resident
from bot.models import Compound, Handoff, TicketMedia
from console_site import client_as, site  # noqa: F401 - fixtures
from media_samples import gps_of
from media_site import kept_file


@pytest.fixture(autouse=True)
def media_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))


@pytest.fixture
def files(site):
    """A photo and a voice message on 金御城's heating ticket."""
    heating = site.tickets["heating"]
    sender = f"wecom:group{site.compound_ids['金御城']}:alice"
    return {"photo": kept_file(site.engine, "image", heating, sender),
            "voice": kept_file(site.engine, "voice", heating, sender)}


async def test_the_ticket_page_shows_the_photo_as_a_thumbnail_and_plays_the_voice(client_as, site, files):
    client = await client_as("zhang")
    html = await (await client.get(f"/tickets/{site.tickets['heating']}")).text()
    assert "照片和语音（2）" in html
    assert f'href="/media/{files["photo"]}"' in html and f'src="/media/{files["photo"]}/thumb"' in html
    assert f'<audio class="media-voice" controls preload="none" src="/media/{files["voice"]}">' in html
    photo = await client.get(f"/media/{files['photo']}")
    assert photo.status == 200 and photo.headers["Content-Type"] == "image/jpeg"
    assert gps_of(await photo.read()) == {}
    assert "private" in photo.headers["Cache-Control"] and photo.headers["X-Content-Type-Options"] == "nosniff"
    thumb = await client.get(f"/media/{files['photo']}/thumb")
    assert thumb.status == 200 and len(await thumb.read()) < len(await photo.read())
    voice = await client.get(f"/media/{files['voice']}")
    assert voice.headers["Content-Type"] == "audio/wav" and (await voice.read())[:4] == b"RIFF"


@pytest.mark.parametrize("user, status", [("admin", 200), ("guangming", 200), ("zhang", 200), ("hexie", 403)])
async def test_a_file_is_served_only_within_the_users_scope(client_as, files, user, status):
    client = await client_as(user)
    assert (await client.get(f"/media/{files['photo']}")).status == status
    assert (await client.get(f"/media/{files['photo']}/thumb")).status == status


async def test_nobody_logged_out_reaches_a_file_and_no_url_can_be_guessed(client_as, files):
    anonymous = await client_as(None)
    answer = await anonymous.get(f"/media/{files['photo']}", allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"].startswith("/login")
    client = await client_as("admin")
    for guess in ("/media/1", f"/media/{files['photo'][:-1]}x", "/media/" + "A" * 43, "/media/2/thumb"):
        assert (await client.get(guess)).status == 404, guess


async def test_a_file_past_its_retention_is_gone(client_as, site, files):
    with Session(site.engine, future=True) as session, session.begin():
        session.scalars(select(TicketMedia).where(TicketMedia.token == files["photo"])).one().status = "deleted"
    client = await client_as("admin")
    assert (await client.get(f"/media/{files['photo']}")).status == 404


async def test_the_csv_export_counts_the_photos_and_voice(client_as, site, files):
    client = await client_as("admin")
    rows = list(csv.reader(io.StringIO((await (await client.get("/tickets/export.csv")).read()).decode("utf-8-sig"))))
    column = rows[0].index("照片和语音")
    counts = {row[0]: row[column] for row in rows[1:]}
    assert counts[str(site.tickets["heating"])] == "照片1张、语音1条"
    assert counts[str(site.tickets["gas"])] == ""


async def test_the_handoff_transcript_shows_a_photo_where_it_was_sent(client_as, site):
    resident = Resident("wecom", "wrOgQhDgAAJinYuCheng01", "wang", "王阿姨")
    with Session(site.engine, future=True) as session, session.begin():
        compound = session.scalars(select(Compound).where(Compound.name == "金御城")).one()
        handoff.start(session, resident, "asked", compound, "我要找人工", utc_now())
    token = kept_file(site.engine, "image", None, resident.sender_id)  # on no ticket: the conversation's compound
    with Session(site.engine, future=True) as session:
        handoff_id = session.scalars(select(Handoff.id)).one()
    for user, status in (("zhang", 200), ("hexie", 403)):
        client = await client_as(user)
        fragment = await client.get(f"/handoff/{handoff_id}/transcript")
        assert fragment.status == status
        if status == 200:
            assert f'src="/media/{token}/thumb"' in await fragment.text()
        assert (await client.get(f"/media/{token}")).status == status
