"""Callback outcomes: only 不满意 reopens; the last failed attempt closes as unreachable."""

from __future__ import annotations

import pytest

from services.followup.domain import callback_outcome
from shared.terms import Satisfaction


@pytest.mark.parametrize("level", ["very_satisfied", "satisfied", "fairly_satisfied", "neutral"])
def test_a_reached_complainant_who_is_not_unsatisfied_closes_the_case(level):
    assert callback_outcome(True, Satisfaction(level), 1, 3).kind == "close"


def test_unsatisfied_reopens():
    assert callback_outcome(True, Satisfaction.unsatisfied, 1, 3).kind == "reopen"


def test_not_reached_keeps_trying_until_the_last_attempt_then_closes_unreachable():
    assert callback_outcome(False, None, 2, 3).kind == "retry"
    last = callback_outcome(False, None, 3, 3)
    assert (last.kind, last.close_reason) == ("close", "unreachable")
