"""Callback rules: when to call back, and what an attempt's result does to the case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from shared.terms import Satisfaction
from shared.workcal import LOCAL_TZ, is_workday, next_working_day_at

SATISFIED = {Satisfaction.very_satisfied, Satisfaction.satisfied, Satisfaction.fairly_satisfied,
             Satisfaction.neutral}


@dataclass(frozen=True)
class Outcome:
    """What one callback attempt leads to: keep trying, close, or reopen."""

    kind: str  # "retry" | "close" | "reopen"
    close_reason: str = ""


def callback_outcome(reached: bool, satisfaction: Satisfaction | None, attempt: int, max_attempts: int) -> Outcome:
    """Only 不满意 reopens; a complainant not reached after the last attempt closes the case as unreachable."""
    if reached:
        if satisfaction is Satisfaction.unsatisfied:
            return Outcome("reopen")
        return Outcome("close", "satisfied")
    if attempt >= max_attempts:
        return Outcome("close", "unreachable")
    return Outcome("retry")


# 满意率: the three satisfied levels over everyone reached (一般 and 不满意 are not satisfied)
RATED_SATISFIED = {Satisfaction.very_satisfied, Satisfaction.satisfied, Satisfaction.fairly_satisfied}

# channels where a person took the complaint, who then owns the callback and the replies (谁受理、谁回复)
OPERATOR_CHANNELS = {"phone", "visit", "proxy", "staff_relay"}


def callback_owner(channel: str, receiver: str) -> str:
    return receiver if channel in OPERATOR_CHANNELS and receiver else ""


def next_attempt_at(failed_at: datetime, attempt: int, hour: int, retry_hour: int = 16) -> datetime:
    """Attempt 2 later the same working day if there is time (else the next morning); attempt 3 the next working
    day: three attempts over two days (DOMAIN.md)."""
    local = failed_at.astimezone(LOCAL_TZ)
    if attempt == 2 and is_workday(local.date()) and local.time() < time(retry_hour):
        later = datetime.combine(local.date(), time(retry_hour), tzinfo=LOCAL_TZ)
        if later - local >= timedelta(hours=2):
            return later.astimezone(failed_at.tzinfo)
    return next_working_day_at(failed_at, time(hour))
