"""随手拍 on the Rasa server: media taken in with a message, and the loop that downloads them.

A connector says what a message carries in `Incoming.media`: one dict per file, its `kind`
(image, voice, video, file) and whatever its platform needs to hand the file over (a media id,
a URL, an `mxc://` URI …). It gives its `GroupChat` a `fetch(ref) -> bytes` that downloads one,
with `download` or `media_get`. The core notes the files when the message comes in (`note`,
`bot.media.received`) and answers at once; the download happens beside the conversation, never
in its way (`fetch_due`, from the delivery loop and right after a message), retried with the
outbox's backoff when the platform fails, and given up after `bot.media.MAX_ATTEMPTS`.

For a new channel (the Official Account's `media/get` is WeCom's): put
`{"kind": "image", "media_id": MediaId}` in `Incoming.media`, and give its `GroupChat` a
`fetch` that returns `await media_get(api_base, access_token, ref["media_id"], ref["kind"])`.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from sqlalchemy.orm import Session

from bot import media
from bot.clock import utc_now
from bot.db import OUTAGES, shared_engine
from bot.media_files import MAX_BYTES, Refused, prepare, save
from connectors.inbound import MalformedMessage

log = logging.getLogger(__name__)

Fetch = Callable[[dict], Awaitable[bytes]]  # one file's bytes from its platform handle
TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
MAX_REF = 2048  # characters of one handle's value: a signed CDN URL fits


class MediaUnavailable(Exception):
    """The platform did not hand the file over now; the fetch loop tries again later."""


def checked_refs(refs: object) -> tuple[dict, ...]:
    """`Incoming.media` as the core keeps it: flat dicts of short strings, each with a known kind."""
    if refs is None:
        return ()
    if not isinstance(refs, (list, tuple)) or len(refs) > 2 * media.MAX_PER_MESSAGE:
        raise MalformedMessage("media is not a short list")
    for ref in refs:
        if (not isinstance(ref, dict) or ref.get("kind") not in media.KINDS
                or not all(isinstance(v, str) and len(v) <= MAX_REF for v in ref.values())):
            raise MalformedMessage("a media handle is not a dict of short strings with a known kind")
    return tuple(dict(ref) for ref in refs)


def note(incoming, addressed: bool, with_text: bool) -> str | None:
    """Note the files of an `Incoming`; what the resident hears (`bot.media.received`)."""
    with Session(shared_engine(), future=True) as session, session.begin():
        return media.received(session, incoming.resident, incoming.event_id, list(incoming.media), addressed,
                              with_text, utc_now())


# --- downloading -----------------------------------------------------------------------------------

async def download(url: str, kind: str, method: str = "GET", **request) -> bytes:
    """The body at `url`, read up to the largest file of `kind` (`Refused` beyond: not retried)."""
    if not url.startswith(("https://", "http://")):
        raise Refused("文件地址无效，未保存")
    limit = MAX_BYTES[kind]
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.request(method, url, **request) as answer:
            if answer.status != 200:
                raise MediaUnavailable(f"HTTP {answer.status}")
            if (answer.content_length or 0) > limit:
                raise Refused("文件太大，未保存")
            body = bytearray()
            async for chunk in answer.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > limit:
                    raise Refused("文件太大，未保存")
            return bytes(body)
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise MediaUnavailable(error.__class__.__name__) from None


async def media_get(api_base: str, access_token: str, media_id: str, kind: str) -> bytes:
    """A file by its media id from Tencent's `cgi-bin/media/get` (WeCom, the Official Account):
    the file itself, or a JSON error (an expired id, a wrong token) that is tried again later."""
    body = await download(f"{api_base}/cgi-bin/media/get", kind, params={"access_token": access_token,
                                                                          "media_id": media_id})
    if body[:1] == b"{" and b'"errcode"' in body[:200]:
        raise MediaUnavailable(f"media/get refused: {body[:120].decode('utf-8', 'replace')}")
    return body


# --- the loop --------------------------------------------------------------------------------------

def _claim(platform: str) -> list[tuple[int, str, dict]]:
    with Session(shared_engine(), future=True) as session, session.begin():
        return media.claim_due(session, platform, utc_now())


def _keep(media_id: int, kind: str, data: bytes) -> None:
    """Check, re-encode and store one download, and record it; over the total quota it is refused."""
    try:
        prepared = prepare(kind, data)
    except Refused as refused:
        _record(media.not_kept, media_id, refused.reason)
        log.warning("media %s refused: %s", media_id, refused.reason)
        return
    with Session(shared_engine(), future=True) as session, session.begin():
        if not media.room_for(session, len(prepared.body)):
            log.error("media %s refused: MEDIA_TOTAL_MB is used up", media_id)
            media.not_kept(session, media_id, "存储空间已满，未保存")
            return
    file_name, thumb_name = save(prepared)
    with Session(shared_engine(), future=True) as session, session.begin():
        media.kept(session, media_id, file_name, thumb_name, prepared.content_type, len(prepared.body))


def _record(step, media_id: int, *args) -> None:
    with Session(shared_engine(), future=True) as session, session.begin():
        step(session, media_id, *args)


async def fetch_due(platform: str, fetch: Fetch | None) -> int:
    """Download what is due on `platform`; returns how many files were taken care of."""
    if fetch is None:
        return 0
    done = 0
    while claimed := await asyncio.to_thread(_claim, platform):
        for media_id, kind, ref in claimed:
            try:
                data = await fetch(ref)
                await asyncio.to_thread(_keep, media_id, kind, data)
            except Refused as refused:
                await asyncio.to_thread(_record, media.not_kept, media_id, refused.reason)
            except OUTAGES:
                raise  # the database is away: the lease runs out and the row is taken again
            except Exception as error:  # noqa: BLE001 - any platform failure: tried again later
                log.warning("%s: media %s not downloaded (%s)", platform, media_id, error.__class__.__name__)
                await asyncio.to_thread(_record, media.try_again, media_id,
                                        f"{error.__class__.__name__}: {error}", utc_now())
            done += 1
    return done


async def fetch_forever(platform: str, fetch: Fetch | None, every: float) -> None:
    """The fetch loop beside the delivery loop: a download the platform refused is retried here."""
    while fetch is not None:
        try:
            await fetch_due(platform, fetch)
        except Exception:  # noqa: BLE001 - the database may be restarting: next beat
            log.exception("%s: media beat failed", platform)
        await asyncio.sleep(every)
