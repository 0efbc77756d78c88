"""Working days in mainland China: public holidays and make-up working days (调休) from chinesecalendar.

The package covers the years the State Council has announced; for a later year we fall back to
Monday–Friday minus the fixed-date holidays and log it once, so deadlines never fail to compute.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (5, 3), (10, 1), (10, 2), (10, 3), (10, 4), (10, 5), (10, 6), (10, 7)}
log = logging.getLogger(__name__)


@cache
def _warn_uncovered(year: int) -> None:
    log.warning("no official holiday data for %s: using Mon-Fri minus fixed-date holidays", year)


def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _warn_uncovered(day.year)
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


def add_working_days(start: datetime, days: int) -> datetime:
    """The same local time of day, `days` working days later (a non-working start counts from the next one)."""
    local = start.astimezone(LOCAL_TZ)
    d = local.date()
    remaining = days
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
