"""How the console writes things for people: Beijing time, Chinese names (also Jinja filters)."""
from datetime import datetime, timezone

from bot.clock import LOCAL_ZONE
from bot.privacy import mask_phone
from bot.taxonomy import CATEGORIES
from bot.tickets import LEVEL_ZH, SATISFACTION, STATUS_ZH


def local_datetime(moment: datetime | None) -> str:
    """A stored UTC time in Beijing time, 2026-11-20 10:00; empty for None."""
    if moment is None:
        return ""
    return f"{moment.replace(tzinfo=timezone.utc).astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M}"


def category_zh(category: str) -> str:
    return CATEGORIES[category].name_zh if category in CATEGORIES else category


FILTERS = {
    "local": local_datetime,
    "category_zh": category_zh,
    "status_zh": lambda status: STATUS_ZH.get(status, status),
    "level_zh": lambda level: LEVEL_ZH.get(level, level),
    "satisfaction_zh": lambda answer: SATISFACTION.get(answer, "未评价") if answer else "未评价",
    "mask_phone": mask_phone,
}
