"""Routing, load balance, rota, send-back, calendars and clocks of the assignment service (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import handlers, sla
from services.assignment.domain import Route, escalation_target, pick_handler, route
from shared import workcal
from shared.org import Routing, SlaPolicy, Staff, load_org
from shared.workcal import LOCAL_TZ, WorkingHours

TUE_10 = datetime(2026, 11, 24, 10, 0, tzinfo=LOCAL_TZ)  # an ordinary working Tuesday
TUE_23 = datetime(2026, 11, 24, 23, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def org():
    o = load_org("deploy/org_seed.yaml")
    # a day shift, a night on-call and a supervisor on call at night; quality staff for the region
    o.put_staff(Staff(id="s-lk-eng-1", name="王师傅", estate="e-lakeside", department="engineering",
                      shifts=["day"], skills=["lift"], supervisor_id="s-lk-eng-sup"))
    o.put_staff(Staff(id="s-lk-eng-2", name="李师傅", estate="e-lakeside", department="engineering", shifts=["day"]))
    o.put_staff(Staff(id="s-lk-eng-n", name="夜班张", estate="e-lakeside", department="engineering",
                      shifts=["night"], supervisor_id="s-lk-eng-sup"))
    o.put_staff(Staff(id="s-lk-eng-sup", name="吴志强", estate="e-lakeside", department="engineering",
                      role="supervisor", shifts=["day", "night"]))
    o.put_staff(Staff(id="s-rq-1", name="品质部钱", region="r-east", role="region_quality"))
    return o


def test_routing_subcategory_category_override_and_invalid(org):
    assert route(org, "e-lakeside", "service", "lift", True).department == "engineering"
    assert route(org, "e-lakeside", "fees", "service_fee", True).department == "finance"
    assert route(org, "e-lakeside", "service", "lift", False).department == "service_desk"
    _, e = org.estates["e-sunrise"]
    org.put_estate("g-hengan", "r-east", "华东区域",
                   e.model_copy(update={"routing": Routing(subcategory={"parking": "service_desk"})}))
    assert route(org, "e-sunrise", "service", "parking", True).department == "service_desk"
    assert route(org, "e-lakeside", "service", "parking", True).department == "security"  # group rule elsewhere
    with pytest.raises(LookupError):
        route(org, "e-nowhere", "service", "lift", True)


def test_send_back_excludes_the_department_that_returned_it(org):
    r = route(org, "e-lakeside", "service", "lift", True, exclude=("engineering",))
    assert r.department == "service_desk" and "sent back" in r.rule


def test_least_open_work_spreads_evenly_and_says_why(org):
    load: dict[str, int] = {}
    r = route(org, "e-lakeside", "service", "repair", True)
    picks = []
    for _ in range(10):
        p = pick_handler(org, "e-lakeside", r, load, TUE_10)
        load[p.person.id] = load.get(p.person.id, 0) + 1
        picks.append(p)
    assert load == {"s-lk-eng-1": 5, "s-lk-eng-2": 5}  # the night on-call and the off-duty one get none
    assert "candidates" in picks[0].reason and "least open work" in picks[0].reason


def test_skill_wins_among_those_on_shift(org):
    org.put_staff(org.person("s-lk-eng-2"))
    rules = org.group("g-hengan").routing.model_copy(update={"skills": {"lift": "lift"}})
    org.put_group(org.group("g-hengan").model_copy(update={"routing": rules}))
    r = route(org, "e-lakeside", "service", "lift", True)
    p = pick_handler(org, "e-lakeside", r, {"s-lk-eng-1": 3}, TUE_10)
    assert p.person.id == "s-lk-eng-1" and "skill lift: matched" in p.reason


def test_cap_makes_cases_wait_and_emergencies_ignore_it(org):
    r = route(org, "e-lakeside", "service", "repair", True)
    full = {"s-lk-eng-1": 8, "s-lk-eng-2": 8}
    waiting = pick_handler(org, "e-lakeside", r, full, TUE_10)
    assert waiting.person is None and "cap" in waiting.reason
    urgent = pick_handler(org, "e-lakeside", r, full, TUE_10, emergency=True)
    assert urgent.person is not None


def test_emergency_at_night_goes_to_the_night_on_call_and_their_supervisor(org):
    r = route(org, "e-lakeside", "emergency", "gas", True)
    p = pick_handler(org, "e-lakeside", r, {}, TUE_23, emergency=True)
    assert p.person.id == "s-lk-eng-n"
    assert p.notify == ("s-lk-eng-sup",) and p.supervisor_id == "s-lk-eng-sup"


def test_general_complaint_at_night_waits_for_the_day_shift_not_the_on_call(org):
    r = route(org, "e-lakeside", "service", "repair", True)
    p = pick_handler(org, "e-lakeside", r, {}, TUE_23)
    assert p.person.id in ("s-lk-eng-1", "s-lk-eng-2") and "next shift" in p.reason
    assert p.notify == ()


def test_nobody_in_the_department_falls_back_to_the_desk_then_the_manager(org):
    p = pick_handler(org, "e-sunrise", Route("greening", "subcategory greening"), {}, TUE_10)
    assert p.person.department == "service_desk"
    for s in org.staff_of_estate("e-sunrise"):
        if s.role != "estate_manager":
            org.remove_staff(s.id)
    p = pick_handler(org, "e-sunrise", Route("greening", "x"), {}, TUE_10)
    assert p.person.id == "s-sr-mgr"  # the desk's only person left is the estate manager


def test_escalation_ladder_targets(org):
    assert escalation_target(org, "e-lakeside", "supervisor", "s-lk-eng-1", TUE_10).id == "s-lk-eng-sup"
    assert escalation_target(org, "e-lakeside", "estate_manager", "s-lk-eng-1", TUE_10).id == "s-lk-mgr"
    assert escalation_target(org, "e-lakeside", "region_quality", "s-lk-eng-1", TUE_10).id == "s-rq-1"


# ---- calendars ------------------------------------------------------------------------------------------

def test_national_day_and_its_make_up_day():
    assert not workcal.is_workday(datetime(2026, 10, 5).date())  # a Monday inside the holiday
    assert workcal.is_workday(datetime(2026, 10, 10).date())  # a Saturday worked (调休)
    start = datetime(2026, 9, 30, 10, 0, tzinfo=LOCAL_TZ)
    # 5 working days: Oct 8, 9, 10 (Saturday, make-up), 12, 13
    assert workcal.add_working_days(start, 5) == datetime(2026, 10, 13, 10, 0, tzinfo=LOCAL_TZ)
    clock = sla.new_clock("resolve", "5wd", "working", "08:00-18:00", start)
    assert clock["due_at"] == datetime(2026, 10, 13, 10, 0, tzinfo=LOCAL_TZ)
    ack = sla.new_clock("acknowledge", "2h", "working", "08:00-18:00", start.replace(hour=17))
    assert ack["due_at"] == datetime(2026, 10, 8, 9, 0, tzinfo=LOCAL_TZ)  # 1 h on Sep 30, 1 h after the holiday
    urgent = sla.new_clock("resolve", "24h", "24x7", "08:00-18:00", datetime(2026, 10, 1, 10, tzinfo=LOCAL_TZ))
    assert urgent["due_at"] == datetime(2026, 10, 2, 10, 0, tzinfo=LOCAL_TZ)  # emergencies run 24×7
    major = sla.start_clocks(SlaPolicy().major, "08:00-18:00", datetime(2026, 10, 1, 10, tzinfo=LOCAL_TZ))
    assert major["resolve"]["due_at"] == datetime(2026, 10, 3, 10, 0, tzinfo=LOCAL_TZ)  # 2 days, holiday or not
    assert major["acknowledge"]["due_at"] == datetime(2026, 10, 1, 10, 30, tzinfo=LOCAL_TZ)


def test_an_admin_notice_covers_a_year_the_package_lacks():
    try:
        assert workcal.coverage(2027) in ("fallback", "package")
        workcal.set_notice(2027, ["2027-10-01", "2027-10-04", "2027-10-05", "2027-10-06", "2027-10-07"],
                           ["2027-10-09"])
        assert workcal.coverage(2027) == "notice"
        assert not workcal.is_workday(datetime(2027, 10, 4).date())
        assert workcal.is_workday(datetime(2027, 10, 9).date())  # a Saturday worked
        with pytest.raises(ValueError):
            workcal.set_notice(2027, ["2026-10-01"], [])
        with pytest.raises(ValueError):
            workcal.set_notice(2027, ["2027-10-09"], ["2027-10-09"])
    finally:
        workcal.clear_notices()


def test_working_hours_arithmetic_round_trips():
    hours = WorkingHours.parse("08:30-17:30")
    start = datetime(2026, 11, 27, 16, 0, tzinfo=LOCAL_TZ)  # Friday afternoon
    end = hours.add_seconds(start, 3 * 3600)
    assert end == datetime(2026, 11, 30, 10, 0, tzinfo=LOCAL_TZ)  # 1.5 h Friday, 1.5 h Monday
    assert hours.seconds_between(start, end) == 3 * 3600


# ---- clocks ---------------------------------------------------------------------------------------------

def test_pause_and_resume_move_the_deadline_by_the_pause():
    start = datetime(2026, 11, 24, 9, 0, tzinfo=LOCAL_TZ)
    c = sla.new_clock("first_response", "24h", "working", "08:00-18:00", start)
    paused = sla.pause(c, start + timedelta(hours=2))
    assert paused["due_at"] is None and paused["consumed"] == 7200
    assert sla.next_timer({"first_response": paused}, SlaPolicy()) is None  # no timer while paused
    resumed = sla.resume(paused, datetime(2026, 11, 25, 9, 0, tzinfo=LOCAL_TZ))
    # 22 working hours left from Wednesday 09:00 at 10 h/day: Wed 9 h, Thu 10 h, Fri 3 h → Fri 11:00
    assert resumed["due_at"] == datetime(2026, 11, 27, 11, 0, tzinfo=LOCAL_TZ)
    done = sla.stop(resumed, datetime(2026, 11, 26, 9, 0, tzinfo=LOCAL_TZ))
    assert done["met_at"] and done["breached"] is False


def _doc(org, start):
    clocks = handlers.new_clocks(org, "e-lakeside", handlers.Severity.emergency, start)
    return {"_id": "c1", "group_id": "g-hengan", "estate_id": "e-lakeside", "subcategory": "gas",
            "assignee": {"staff_id": "s-lk-eng-1", "name": "王师傅"}, "supervisor_id": "s-lk-eng-sup",
            "clocks": clocks}


def test_each_step_fires_once_in_order_up_the_ladder(org):
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    doc = _doc(org, start)
    seen: list[tuple[str, str, int]] = []
    for minutes in (3, 4, 5, 6, 8, 10, 11, 10 * 60):  # acknowledge: 5 min budget, warn 80 %, L1..L3
        d = handlers.fire(doc, org, start + timedelta(minutes=minutes))
        doc = {**doc, **d.changes}
        for e in d.events:
            p = e.payload
            seen.append((p.clock, type(p).__name__, getattr(p, "level", 0)))
    ack = [s for s in seen if s[0] == "acknowledge"]
    assert ack == [("acknowledge", "SlaWarning", 0), ("acknowledge", "ComplaintEscalated", 1),
                   ("acknowledge", "ComplaintEscalated", 2), ("acknowledge", "ComplaintEscalated", 3)]
    assert len(seen) == len(set(seen))  # nothing twice
    again = handlers.fire(doc, org, start + timedelta(hours=30))
    assert not [e for e in again.events if e.payload.clock == "acknowledge"]


def test_escalation_names_its_recipient_and_records_a_notice(org):
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    d = handlers.fire(_doc(org, start), org, start + timedelta(minutes=16))
    esc = [e.payload for e in d.events if type(e.payload).__name__ == "ComplaintEscalated"]
    levels = {(p.clock, p.level): p.to_staff_id for p in esc}
    assert levels[("acknowledge", 1)] == "s-lk-eng-sup" and levels[("acknowledge", 2)] == "s-lk-mgr"
    assert levels[("first_response", 1)] == "s-lk-eng-sup"
    assert all(p.notice.startswith("【督办】湖畔花园") for p in esc)
    assert d.changes["next_timer_at"] > start + timedelta(minutes=16)


def test_an_estate_without_people_makes_the_case_wait_instead_of_failing(org):
    for s in org.staff_of_estate("e-sunrise"):
        org.remove_staff(s.id)
    p = pick_handler(org, "e-sunrise", Route("engineering", "x"), {}, TUE_10, emergency=True)
    assert p.person is None and "waits until staff are added" in p.reason


def test_a_corrected_judgement_reclocks_and_reroutes(org):
    import uuid

    from shared.contracts import ComplaintTriaged, Envelope

    start = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 local
    clocks = handlers.new_clocks(org, "e-lakeside", handlers.Severity.general, start)
    clocks["acknowledge"] = sla.stop(clocks["acknowledge"], start + timedelta(minutes=3))
    doc = {"_id": "c1", "group_id": "g-hengan", "estate_id": "e-lakeside", "status": "assigned", "round": 1,
           "department": "service_desk", "severity": "general", "supervisor_id": "", "assigned_at": start,
           "assignee": {"staff_id": "s-lk-cs-1", "name": "林小姐"}, "clocks": clocks}

    def corrected(subcategory: str, category: str, severity: str) -> Envelope:
        t = ComplaintTriaged(category=category, subcategory=subcategory, severity=severity, valid=True,
                             responsibility="ours", confidence=1.0, corrected_by="qa-01")
        return Envelope[ComplaintTriaged](type="ComplaintTriaged", correlation_id=uuid.uuid4(), group_id="g-hengan",
                                          estate_id="e-lakeside", complaint_id="c1", payload=t,
                                          occurred_at=start + timedelta(minutes=10))

    same = handlers.reclassify(doc, corrected("noise", "neighbour", "major"), org, {})
    assert same.changes["assignee"]["staff_id"] == "s-lk-cs-1"  # same department: same person
    assert same.changes["clocks"]["resolve"]["due_at"] == start + timedelta(days=2)  # major: 2 days, 24×7
    assert same.changes["clocks"]["acknowledge"]["met_at"] == start + timedelta(minutes=3)  # met stays met
    moved = handlers.reclassify(doc, corrected("gas", "emergency", "emergency"), org, {})
    a = moved.events[0].payload
    assert a.kind == "reclassified" and a.assignee.department_id == "engineering" and a.severity == "emergency"
    assert moved.changes["clocks"]["resolve"]["due_at"] == start + timedelta(hours=24)
    assert handlers.reclassify({**doc, "status": "resolved"}, corrected("gas", "emergency", "emergency"), org,
                               {}).events == []
