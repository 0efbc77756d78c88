"""The archive's record is the same whatever order the events arrive in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from services.archive.domain import fold

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
SLA = {"acknowledge_due": T0, "first_response_due": T0, "resolve_due": T0 + timedelta(days=5)}
ASSIGNEE = {"staff_id": "s1", "name": "王师傅", "department_id": "engineering", "department_name": "工程维修部"}


def ev(i: int, kind: str, **payload) -> dict:
    return {"event_id": f"e{i}", "type": kind, "at": T0 + timedelta(seconds=i), "payload": payload}


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


def test_an_assigned_case_is_due_at_its_resolve_deadline():
    r = fold(EVENTS[:3])
    assert r["status"] == "assigned" and r["next_due"] == SLA["resolve_due"]
