"""Routing, picking the on-duty handler with the least open work, and SLA due times per DOMAIN.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.assignment.domain import pick_handler, route, sla_due
from shared.org import load_org
from shared.terms import Severity

ORG = load_org("deploy/org_seed.yaml")


def test_subcategory_rule_wins_over_category():
    assert route(ORG, "g-hengan", "service", "lift", True).department == "engineering"
    assert route(ORG, "g-hengan", "fees", "service_fee", True).department == "finance"


def test_invalid_complaints_go_to_the_desk_that_explains_and_forwards():
    assert route(ORG, "g-hengan", "service", "repair", False).department == "service_desk"


def test_the_least_loaded_on_duty_handler_is_picked_and_off_duty_staff_never():
    r = route(ORG, "g-hengan", "service", "repair", True)
    pick = pick_handler(ORG, "e-lakeside", r, {"s-lk-eng-1": 3, "s-lk-eng-2": 1})
    assert pick.person.id == "s-lk-eng-2"
    assert pick.supervisor_id == "s-lk-eng-sup"
    assert "s-lk-eng-3" not in pick.reason  # 赵师傅 is off duty
    assert "s-lk-eng-1=3" in pick.reason


def test_a_department_with_nobody_on_duty_falls_back_to_the_service_desk():
    r = route(ORG, "g-hengan", "service", "greening", True)  # Sunrise Court has no greening staff
    pick = pick_handler(ORG, "e-sunrise", r, {})
    assert pick.person.department == "service_desk"


def test_emergency_clocks_run_in_minutes_around_the_clock():
    start = datetime(2026, 10, 3, 2, 0, tzinfo=UTC)  # National Day holiday, at night
    due = sla_due(Severity.emergency, start)
    assert due["acknowledge_due"] - start == timedelta(minutes=5)
    assert due["first_response_due"] - start == timedelta(minutes=15)
    assert due["resolve_due"] - start == timedelta(hours=24)


def test_general_complaints_resolve_in_five_working_days_skipping_holidays():
    start = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 local, the day before National Day
    due = sla_due(Severity.general, start)["resolve_due"]
    # Oct 1-7 are holidays, Sat Oct 10 is a make-up working day: 8, 9, 10, 12, 13 → the 13th
    assert due == datetime(2026, 10, 13, 2, 0, tzinfo=UTC)


def test_major_complaints_resolve_within_two_days():
    start = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert sla_due(Severity.major, start)["resolve_due"] - start == timedelta(days=2)
