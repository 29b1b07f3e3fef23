"""Time for the ticket rules: naive UTC in the database, China time for residents."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def local_text(moment: datetime) -> str:
    """A stored UTC time as residents read it: 11月24日 14:00."""
    local = moment.replace(tzinfo=timezone.utc).astimezone(LOCAL_ZONE)
    return f"{local.month}月{local.day}日 {local:%H:%M}"
