"""Working days and working time in mainland China: public holidays and make-up working days (调休).

Sources, in order: the State Council's yearly notice as entered by an admin (`set_notice`, published as a
directory change so every service has it), then the `chinesecalendar` package, then — for a year neither
covers — Monday–Friday minus the fixed-date holidays, logged once so the gap is visible.

Clocks run either 24×7 (emergencies) or in working time: the estate's service-desk hours on working days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (5, 3), (10, 1), (10, 2), (10, 3), (10, 4), (10, 5), (10, 6), (10, 7)}
log = logging.getLogger(__name__)

_notices: dict[int, tuple[frozenset[date], frozenset[date]]] = {}  # year -> (holidays, make-up workdays)


@cache
def _warn_uncovered(year: int) -> None:
    log.warning("no official holiday data for %s: using Mon-Fri minus fixed-date holidays; "
                "enter the State Council notice (PUT /internal/directory/calendar/%s)", year, year)


def set_notice(year: int, holidays: list[str | date], workdays: list[str | date]) -> None:
    """The State Council's notice for a year: its holidays and its make-up working days."""
    def days(items: list[str | date]) -> frozenset[date]:
        out = {d if isinstance(d, date) else date.fromisoformat(d) for d in items}
        wrong = sorted(str(d) for d in out if d.year != year)
        if wrong:
            raise ValueError(f"dates outside {year}: {', '.join(wrong)}")
        return frozenset(out)

    hol, work = days(holidays), days(workdays)
    if hol & work:
        raise ValueError(f"both holiday and working day: {', '.join(sorted(map(str, hol & work)))}")
    _notices[year] = (hol, work)
    _is_workday.cache_clear()


def clear_notices() -> None:
    _notices.clear()
    _is_workday.cache_clear()


def coverage(year: int) -> str:
    """'notice' (entered by an admin), 'package' (chinesecalendar) or 'fallback'."""
    if year in _notices:
        return "notice"
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
        return "package"
    except NotImplementedError:
        return "fallback"


def is_workday(day: date) -> bool:
    return _is_workday(day)


@cache
def _is_workday(day: date) -> bool:
    notice = _notices.get(day.year)
    if notice is not None:
        holidays, workdays = notice
        if day in holidays:
            return False
        if day in workdays:
            return True
        return day.weekday() < 5
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _warn_uncovered(day.year)
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


def add_working_days(start: datetime, days: int | float) -> datetime:
    """The same local time of day, `days` working days later (a non-working start counts from the next one)."""
    local = start.astimezone(LOCAL_TZ)
    d = local.date()
    remaining = int(days)
    while remaining > 0:
        d += timedelta(days=1)
        if is_workday(d):
            remaining -= 1
    return datetime.combine(d, local.timetz()).astimezone(start.tzinfo)


def next_working_day_at(start: datetime, at: time) -> datetime:
    """The next working day after `start`'s local date, at local time `at` (e.g. the callback the day after)."""
    d = start.astimezone(LOCAL_TZ).date() + timedelta(days=1)
    while not is_workday(d):
        d += timedelta(days=1)
    return datetime.combine(d, at, tzinfo=LOCAL_TZ).astimezone(start.tzinfo)


@dataclass(frozen=True)
class WorkingHours:
    """An estate's service-desk hours on working days, local time."""

    open: time
    close: time

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        a, _, b = text.partition("-")
        return cls(time.fromisoformat(a), time.fromisoformat(b))

    @property
    def day_seconds(self) -> float:
        return (datetime.combine(date.min, self.close) - datetime.combine(date.min, self.open)).total_seconds()

    def _window(self, d: date) -> tuple[datetime, datetime] | None:
        if not is_workday(d):
            return None
        return (datetime.combine(d, self.open, tzinfo=LOCAL_TZ), datetime.combine(d, self.close, tzinfo=LOCAL_TZ))

    def seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds in [a, b)."""
        if b <= a:
            return 0.0
        total = 0.0
        d, last = a.astimezone(LOCAL_TZ).date(), b.astimezone(LOCAL_TZ).date()
        while d <= last:
            w = self._window(d)
            if w is not None:
                lo, hi = max(w[0], a), min(w[1], b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            d += timedelta(days=1)
        return total

    def add_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant when `seconds` of working time have passed after `start`."""
        remaining = max(0.0, seconds)
        d = start.astimezone(LOCAL_TZ).date()
        for _ in range(3700):  # ten years of days: a budget never needs more
            w = self._window(d)
            if w is not None:
                lo = max(w[0], start)
                if w[1] > lo:
                    available = (w[1] - lo).total_seconds()
                    if remaining <= available and (remaining > 0 or lo < w[1]):
                        return (lo + timedelta(seconds=remaining)).astimezone(start.tzinfo)
                    remaining -= available
            d += timedelta(days=1)
        raise ValueError("working-time budget does not end within ten years")
