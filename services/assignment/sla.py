"""SLA clocks (时限): budgets per severity, working or 24×7 time, pause/resume, warnings and the escalation ladder.

A clock is a plain dict kept on the case document, so its state survives any restart:
  mode        "24x7" | "working"
  hours       the estate's working hours, "08:00-18:00" (working clocks only)
  budget      seconds of (working or wall) time the clock allows
  consumed    seconds used before the current run
  running_since  when the current run began; None while paused or stopped
  started_at, due_at (None while paused), met_at, fired (step names already fired)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.org import ClockRule, SlaPolicy, parse_duration
from shared.workcal import WorkingHours, add_working_days

CLOCKS = ("acknowledge", "first_response", "resolve")
LEVEL = {"supervisor": 1, "estate_manager": 2, "region_quality": 3}


@dataclass(frozen=True)
class Step:
    name: str  # "warn" or "L1".."L3"
    at: float  # fraction of the budget
    to: str  # "handler" for the warning, else the escalation role


def steps(policy: SlaPolicy) -> list[Step]:
    ladder = [Step(f"L{LEVEL[s.to]}", s.at, s.to) for s in sorted(policy.escalation, key=lambda s: s.at)]
    return sorted([Step("warn", policy.warn_at, "handler"), *ladder], key=lambda s: s.at)


def _budget(text: str, mode: str, hours: WorkingHours, start: datetime) -> float:
    amount, working_days = parse_duration(text)
    if not working_days:
        return amount
    if mode == "working":
        return amount * hours.day_seconds
    return (add_working_days(start, amount) - start).total_seconds()


def new_clock(name: str, duration: str, mode: str, hours_text: str, start: datetime) -> dict[str, Any]:
    hours = WorkingHours.parse(hours_text)
    clock = {"name": name, "mode": mode, "hours": hours_text, "budget": _budget(duration, mode, hours, start),
             "duration": duration, "consumed": 0.0, "running_since": start, "started_at": start, "met_at": None,
             "fired": []}
    clock["due_at"] = instant(clock, 1.0)
    return clock


def start_clocks(rule: ClockRule, hours_text: str, start: datetime) -> dict[str, dict[str, Any]]:
    return {name: new_clock(name, getattr(rule, name), rule.mode, hours_text, start) for name in CLOCKS}


def _elapsed(clock: dict[str, Any], a: datetime, b: datetime) -> float:
    if clock["mode"] == "working":
        return WorkingHours.parse(clock["hours"]).seconds_between(a, b)
    return max(0.0, (b - a).total_seconds())


def instant(clock: dict[str, Any], fraction: float) -> datetime | None:
    """When `fraction` of the budget will have been used; None while the clock is not running."""
    since = clock.get("running_since")
    if since is None:
        return None
    remaining = fraction * clock["budget"] - clock["consumed"]
    if clock["mode"] == "working":
        return WorkingHours.parse(clock["hours"]).add_seconds(since, remaining)
    return since + timedelta(seconds=remaining)


def used(clock: dict[str, Any], now: datetime) -> float:
    """Seconds of the budget used so far."""
    since = clock.get("running_since")
    return clock["consumed"] + (_elapsed(clock, since, now) if since is not None else 0.0)


def pause(clock: dict[str, Any], at: datetime) -> dict[str, Any]:
    if clock.get("running_since") is None:
        return clock
    return {**clock, "consumed": used(clock, at), "running_since": None, "due_at": None}


def resume(clock: dict[str, Any], at: datetime) -> dict[str, Any]:
    if clock.get("running_since") is not None or clock.get("met_at") is not None:
        return clock
    c = {**clock, "running_since": at}
    c["due_at"] = instant(c, 1.0)
    return c


def stop(clock: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The clock's obligation is met (acknowledged, on site, resolved, called back)."""
    if clock.get("met_at") is not None:
        return clock
    late = used(clock, at) > clock["budget"]
    return {**clock, "consumed": used(clock, at), "running_since": None, "met_at": at, "breached": late}


def due_steps(clock: dict[str, Any], policy: SlaPolicy, now: datetime) -> list[Step]:
    """Steps of a running clock whose time has come and that have not fired."""
    if clock.get("running_since") is None:
        return []
    out = []
    for s in steps(policy):
        when = instant(clock, s.at)
        if s.name not in clock["fired"] and when is not None and when <= now:
            out.append(s)
    return out


def next_timer(clocks: dict[str, dict[str, Any]], policy: SlaPolicy) -> datetime | None:
    """The earliest unfired step of any running clock: the case's single timer, indexed in MongoDB."""
    best: datetime | None = None
    for clock in clocks.values():
        if clock.get("running_since") is None:
            continue
        for s in steps(policy):
            if s.name in clock["fired"]:
                continue
            when = instant(clock, s.at)
            if when is not None and (best is None or when < best):
                best = when
            break  # steps fire in order; the first unfired one is this clock's next
    return best
