"""随手拍 in real Chromium: the secretary opens a ticket and sees the resident's photo (decoded by the
browser, not a broken image), opens it full size with a click, and finds the voice player; the
console runs as `make run` starts it, on an SQLite file with the sample site."""
import os

import pytest

from bot.db import make_engine
from bot.migrate import upgrade
from console_browser import chromium_page, log_in, running_console, screenshot
from console_site import PASSWORD, build_site
from media_site import kept_file


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("console_media_browser")
    previous = os.environ.get("MEDIA_DIR")
    os.environ["MEDIA_DIR"] = str(work / "media")  # the console started below reads it too
    engine = make_engine(f"sqlite:///{work / 'console.db'}")
    upgrade(engine)
    built = build_site(engine)
    sender = f"wecom:group{built.compound_ids['金御城']}:alice"
    tokens = {kind: kept_file(engine, kind, built.tickets["heating"], sender) for kind in ("image", "voice")}
    yield built, work, tokens
    engine.dispose()
    if previous is None:
        del os.environ["MEDIA_DIR"]
    else:
        os.environ["MEDIA_DIR"] = previous


@pytest.fixture(scope="module")
def console_url(site):
    built, work, _ = site
    with running_console(str(built.engine.url), "http://127.0.0.1:9", work) as url:
        yield url


def test_the_secretary_sees_the_photo_opens_it_full_size_and_finds_the_voice(site, console_url):
    built, _, tokens = site
    with chromium_page() as page:
        log_in(page, console_url, "zhang", PASSWORD)
        page.goto(f"{console_url}/tickets/{built.tickets['heating']}")
        thumb = page.locator("#media img.media-thumb")
        thumb.wait_for()
        page.wait_for_function("document.querySelector('#media img.media-thumb').complete")
        assert thumb.evaluate("img => img.naturalWidth") == 320  # the browser decoded the thumbnail
        assert page.locator(f"#media audio[src='/media/{tokens['voice']}']").count() == 1
        screenshot(page, "console_ticket_media")
        with page.expect_popup() as opened:
            thumb.click()
        full = opened.value
        full.wait_for_load_state()
        assert full.url.endswith(f"/media/{tokens['image']}")
        assert full.evaluate("document.images[0].naturalWidth") == 640  # the photo at its own size
        full.close()


def test_a_browser_not_logged_in_is_sent_to_the_login_page_not_the_photo(site, console_url):
    _, _, tokens = site
    with chromium_page() as page:
        answer = page.goto(f"{console_url}/media/{tokens['image']}")
        assert "/login" in page.url and answer.headers.get("content-type", "").startswith("text/html")
