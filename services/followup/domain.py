"""Callback rules: when to call back, and what an attempt's result does to the case."""

from __future__ import annotations

from dataclasses import dataclass

from shared.terms import Satisfaction

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
