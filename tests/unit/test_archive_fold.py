"""The archive's record is the same whatever order the events arrive in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from services.archive.domain import fold

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
SLA = {"acknowledge_due": T0, "first_response_due": T0, "resolve_due": T0 + timedelta(days=5)}
ASSIGNEE = {"staff_id": "s1", "name": "王师傅", "department_id": "engineering", "department_name": "工程维修部"}


def ev(i: int, type_: str, **payload) -> dict:
    return {"event_id": f"e{i}", "type": type_, "at": T0 + timedelta(seconds=i), "payload": payload}


EVENTS = [
    ev(0, "ComplaintReceived", tracking_no="TS1", channel="online", received_at=T0, text="灯坏了", demand="",
       complainant={"name": "张三", "phone": "13812341234", "unit": "3栋1201"}, attachments=[], receiver="web"),
    ev(1, "ComplaintTriaged", category="service", subcategory="repair", severity="general", valid=True,
       responsibility="ours", responsible_party="property", confidence=0.8, reasons=[], needs_review=False),
    ev(2, "ComplaintAssigned", round=1, assignee=ASSIGNEE, sla=SLA, severity="general", reason="r"),
    ev(3, "ComplaintResolved", round=1, note="修好了", by="s1"),
    ev(4, "FollowUpRecorded", attempt=1, reached=True, satisfaction="satisfied", note="", by=""),
    ev(5, "ComplaintClosed", outcome="satisfied", satisfaction="satisfied"),
]


def test_a_full_life_folds_into_a_closed_record_with_an_ordered_timeline():
    r = fold(EVENTS)
    assert r["status"] == "closed"
    assert [t["type"] for t in r["timeline"]] == [e["type"] for e in EVENTS]
    assert r["complainant_masked"]["phone"] == "138****1234"
    assert r["next_due"] is None


def test_arrival_order_does_not_change_the_record():
    expected = fold(EVENTS[:4])
    for perm in itertools.permutations(EVENTS[:4]):
        assert fold(list(perm)) == expected


def test_an_assigned_case_is_due_at_its_nearest_open_deadline():
    r = fold(EVENTS[:3])
    assert r["status"] == "assigned" and r["next_due"] == SLA["acknowledge_due"]
    taken = [*EVENTS[:3], ev(10, "ProgressRecorded", step="acknowledge", by="s1", note="", late=False),
             ev(11, "ProgressRecorded", step="first_response", by="s1", note="到场", late=False)]
    assert fold(taken)["next_due"] == SLA["resolve_due"]


SUPERVISION = [
    ev(12, "ClocksPaused", by="s1", reason="业主周六才在家"),
    ev(13, "ClocksResumed", by="s1", paused_seconds=60.0,
       sla={**SLA, "resolve_due": T0 + timedelta(days=6)}),
    ev(14, "SlaWarning", clock="resolve", due_at=T0, to=["s1"]),
    ev(15, "ComplaintEscalated", clock="resolve", level=1, role="supervisor", to_staff_id="s9", to_name="吴主管",
       due_at=T0, overdue_seconds=1.0, notice="【督办】湖畔花园 …"),
]


def test_pause_moves_the_deadline_and_escalations_land_on_the_timeline():
    paused = fold([*EVENTS[:3], SUPERVISION[0]])
    assert paused["paused"] and paused["next_due"] is None  # no countdown while waiting on the complainant
    r = fold([*EVENTS[:3], *SUPERVISION])
    assert not r["paused"] and r["sla"]["resolve_due"] == T0 + timedelta(days=6)
    assert r["escalation_level"] == 1 and r["escalations"][0]["to_staff_id"] == "s9"
    assert [t["title"] for t in r["timeline"]][-1] == "督办 Escalated"
    assert r["timeline"][-1]["summary"].startswith("【督办】")
    for perm in itertools.permutations(SUPERVISION):
        assert fold([*EVENTS[:3], *perm]) == r


def test_a_waiting_case_then_a_send_back_and_reassignment():
    other = {**ASSIGNEE, "staff_id": "s2", "department_id": "service_desk", "department_name": "客服中心"}
    events = [*EVENTS[:2], ev(2, "ComplaintQueued", department="engineering", reason="everyone at their cap"),
              ev(3, "ComplaintAssigned", round=1, assignee=ASSIGNEE, sla=SLA, severity="general", reason="r",
                 kind="from_queue"),
              ev(4, "ComplaintSentBack", by="s1", reason="不是工程问题", from_department="engineering",
                 to_department="service_desk"),
              ev(5, "ComplaintAssigned", round=1, assignee=other, sla=SLA, severity="general", reason="r",
                 kind="send_back")]
    assert fold(events[:3])["status"] == "waiting"
    r = fold(events)
    assert r["status"] == "assigned" and r["assignee"]["staff_id"] == "s2"
    assert [a["kind"] for a in r["assignments"]] == ["from_queue", "send_back"]
    assert r["send_backs"][0]["reason"] == "不是工程问题"
