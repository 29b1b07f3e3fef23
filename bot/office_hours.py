"""Office hours (办公时间) as a community writes them in the org directory, e.g.
"周一至周五 9:00-17:00" or "周一至周五 8:30-12:00,14:00-17:30；周六 9:00-12:00" — and what they
mean for a resident waiting for a person: open now, or when the office opens next.

Days: 周一 … 周日 (星期一 …, 周天), a range 周一至周五 (至/到/-/~), a list 周一、周三, or 每天.
Times: H:MM-H:MM (到/至/~/－ also), several separated by commas. Rules separated by ；/;.
Public holidays are not known: a weekday holiday counts as open.
"""
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from bot import settings
from bot.clock import LOCAL_ZONE

DAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_DAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_DAY = r"(?:周|星期|礼拜)([一二三四五六日天七])"
_RANGE_SEPARATORS = "至到~～\\-－—"
_DAY_RANGE = re.compile(rf"^{_DAY}[{_RANGE_SEPARATORS}]{_DAY}$")
_DAY_ONE = re.compile(rf"^{_DAY}$")
_TIME_RANGE = re.compile(rf"^(\d{{1,2}})[:：](\d{{2}})\s*[{_RANGE_SEPARATORS}]\s*(\d{{1,2}})[:：](\d{{2}})$")


class OfficeHoursError(ValueError):
    """Office hours that cannot be read; the message says what was expected."""


@dataclass(frozen=True)
class Period:
    start: time
    end: time


@dataclass(frozen=True)
class OfficeHours:
    """The opening periods of each weekday (0 = Monday), as written in `text`."""
    text: str
    days: tuple[tuple[Period, ...], ...]

    def is_open(self, moment: datetime) -> bool:
        """Whether the office is open at `moment` (naive UTC, as stored)."""
        local = _local(moment)
        return any(p.start <= local.time() < p.end for p in self.days[local.weekday()])

    def next_opening(self, moment: datetime) -> datetime:
        """The local time the office next opens after `moment` (naive UTC)."""
        local = _local(moment)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            for period in self.days[day.weekday()]:
                opening = datetime.combine(day, period.start, LOCAL_ZONE)
                if opening > local:
                    return opening
        raise OfficeHoursError(f"'{self.text}' 没有办公时间")  # parse() never lets this happen


def _local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc).astimezone(LOCAL_ZONE)


def _days(text: str) -> list[int]:
    if text in ("每天", "每日"):
        return list(range(7))
    days: list[int] = []
    for part in re.split(r"[、,，/]", text):
        if match := _DAY_RANGE.match(part):
            first, last = _DAYS[match[1]], _DAYS[match[2]]
            if last < first:
                raise OfficeHoursError(f"'{part}'：日期先后颠倒了")
            days += range(first, last + 1)
        elif match := _DAY_ONE.match(part):
            days.append(_DAYS[match[1]])
        else:
            raise OfficeHoursError(f"'{part}' 不是星期几（应如 周一至周五、周六、每天）")
    return days


def _period(text: str) -> Period:
    match = _TIME_RANGE.match(text.strip())
    if not match:
        raise OfficeHoursError(f"'{text}' 不是时间段（应如 9:00-17:00）")
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    if max(start_h, end_h) > 23 or max(start_m, end_m) > 59 or (start_h, start_m) >= (end_h, end_m):
        raise OfficeHoursError(f"'{text}' 不是一天之内的时间段（应如 9:00-17:00）")
    return Period(time(start_h, start_m), time(end_h, end_m))


def parse(text: str) -> OfficeHours:
    """Read office hours; OfficeHoursError when they cannot be read or never open."""
    days: list[list[Period]] = [[] for _ in range(7)]
    for rule in (part.strip() for part in re.split(r"[；;]", text or "")):
        if not rule:
            continue
        match = re.match(r"^(\D+?)\s*(\d.*)$", rule)
        if not match:
            raise OfficeHoursError(f"'{rule}'：应先写星期再写时间，如 周一至周五 9:00-17:00")
        when, periods = match.groups()
        for day in _days(when.strip()):
            days[day] += [_period(p) for p in re.split(r"[,，、]", periods) if p.strip()]
    if not any(days):
        raise OfficeHoursError(f"'{text}'：没有办公时间（应如 周一至周五 9:00-17:00）")
    return OfficeHours(text, tuple(tuple(sorted(d, key=lambda p: p.start)) for d in days))


def default_hours() -> OfficeHours:
    """The site's office hours for a community the directory gives none (`settings.office_hours`)."""
    return parse(settings.office_hours())


def when_text(opening: datetime, moment: datetime) -> str:
    """How a resident hears an opening time: 今天14:00, 明天8:30, 周一8:30."""
    days = (opening.date() - _local(moment).date()).days
    day = {0: "今天", 1: "明天"}.get(days, DAY_NAMES[opening.weekday()])
    return f"{day}{opening.hour}:{opening.minute:02d}"
