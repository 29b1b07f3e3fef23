"""Numbers and days as typed into the console's URLs and forms, read the one way every view reads
them: what is not one is refused (400) with a Chinese message, never left to fail deeper down.

- `whole_number("12") -> 12`: ASCII digits only, at most `MAX_ID`; None for anything else.
- `day(text, what) -> date`: 2026-11-01, between `FIRST_DAY` and `LAST_DAY`.
- `month(text) -> date`: 2026-11, its first day.
"""
from datetime import date

from aiohttp import web

# The largest id a database row can have (a signed 64-bit integer): a bigger one names nothing,
# and SQLite cannot even compare it.
MAX_ID = 2 ** 63 - 1
# The days a period may start or end on: outside them is a typo, and date arithmetic near the
# years 1 and 9999 overflows.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def whole_number(text: str, largest: int = MAX_ID) -> int | None:
    """`text` as a whole number written in ASCII digits, up to `largest`; None for anything
    else — "-3", "1.5", "²" and "１２" too, which `str.isdigit` would let through to `int`."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(largest)):
        return None
    number = int(text)
    return number if number <= largest else None


def day(text: str, what: str) -> date:
    """A day written 2026-11-01; HTTPBadRequest naming `what` (开始日期) when it is not one the
    console counts in."""
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{what}的格式应为 2026-11-01：{text[:20]}") from None
    if not FIRST_DAY <= value <= LAST_DAY:
        raise web.HTTPBadRequest(text=f"{what}应在 {FIRST_DAY} 到 {LAST_DAY} 之间：{text[:20]}")
    return value


def month(text: str) -> date:
    """The first day of a month written 2026-11; HTTPBadRequest otherwise."""
    try:
        first = date.fromisoformat(f"{text}-01")
    except ValueError:
        raise web.HTTPBadRequest(text=f"月份的格式应为 2026-11：{text[:20]}") from None
    if not FIRST_DAY <= first <= LAST_DAY:
        raise web.HTTPBadRequest(text=f"月份应在 {FIRST_DAY:%Y-%m} 到 {LAST_DAY:%Y-%m} 之间：{text[:20]}")
    return first
