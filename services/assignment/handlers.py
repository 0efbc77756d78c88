"""Assignment handlers: assign a triaged case, resolve it on command, assign it again when reopened."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.assignment.domain import Pick, pick_handler, route, sla_due
from shared.aggregate import AggregateStore, Decision
from shared.contracts import (
    Assignee,
    ComplaintAssigned,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintTriaged,
    Envelope,
    ResolveComplaint,
    SlaDue,
)
from shared.org import OrgDirectory
from shared.terms import Severity


async def open_load(cases: AsyncCollection, estate_id: str) -> dict[str, int]:
    """Open cases per person in an estate, counted from the cases themselves (no counter to drift)."""
    rows = await (await cases.aggregate([
        {"$match": {"estate_id": estate_id, "status": "assigned"}},
        {"$group": {"_id": "$assignee.staff_id", "n": {"$sum": 1}}},
    ])).to_list(None)
    return {r["_id"]: r["n"] for r in rows}


def _assigned(event: Envelope[Any], pick: Pick, department: str, org: OrgDirectory, severity: Severity,
              round_no: int, start: datetime) -> ComplaintAssigned:
    p = pick.person
    return ComplaintAssigned(
        round=round_no, severity=severity, supervisor_id=pick.supervisor_id, reason=pick.reason,
        assignee=Assignee(staff_id=p.id, name=p.name, department_id=p.department,
                          department_name=org.department_name(p.department)),
        sla=SlaDue(**sla_due(severity, start)),
    )


def _assignment_fields(a: ComplaintAssigned) -> dict[str, Any]:
    return {"status": "assigned", "round": a.round, "severity": a.severity.value,
            "assignee": a.assignee.model_dump(), "sla": a.sla.model_dump(), "assigned_at": datetime.now(UTC)}


async def assign_triaged(event: Envelope[ComplaintTriaged], *, store: AggregateStore, org: OrgDirectory) -> None:
    t = event.payload
    load = await open_load(store.collection, event.estate_id)
    root = await store.get(t.duplicate_of) if t.duplicate_of else None
    if root is not None and (root.get("status") != "assigned" or root.get("estate_id") != event.estate_id):
        root = None  # the first report is done or elsewhere: this one is worked on its own

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is not None:
            return Decision()
        r = route(org, event.group_id, t.category.value, t.subcategory, t.valid)
        if root is not None:  # 并单: the person on the first report handles this one with it
            assigned = ComplaintAssigned(
                round=1, severity=t.severity, supervisor_id=root.get("supervisor_id", ""),
                assignee=Assignee(**root["assignee"]), sla=SlaDue(**sla_due(t.severity, event.occurred_at)),
                reason=f"并单 linked to the first report {root['_id']} ({t.link_kind}): handled once, by its handler")
        else:
            pick = pick_handler(org, event.estate_id, r, load)
            assigned = _assigned(event, pick, r.department, org, t.severity, 1, event.occurred_at)
        changes = {"group_id": event.group_id, "estate_id": event.estate_id, "category": t.category.value,
                   "subcategory": t.subcategory, "valid": t.valid, "department": r.department,
                   "linked_to": root["_id"] if root else None, **_assignment_fields(assigned)}
        return Decision(changes=changes, events=[event.child(assigned)])

    if await store.apply(event.complaint_id, str(event.event_id), decide) and root is not None:
        await store.apply(root["_id"], f"link:{event.complaint_id}",
                          lambda d: Decision(push={"linked": event.complaint_id}) if d else Decision())


async def resolve(command: Envelope[ResolveComplaint], *, store: AggregateStore) -> None:
    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None:
            return Decision()
        if doc.get("status") != "assigned":
            return Decision(push={"rejected_commands": {
                "command_id": str(command.event_id), "type": command.type, "reason": f"case is {doc.get('status')}",
                "at": datetime.now(UTC)}})
        resolved = ComplaintResolved(round=doc["round"], note=command.payload.note, by=command.payload.by)
        return Decision(changes={"status": "resolved", "resolved_at": datetime.now(UTC)},
                        push={"resolutions": resolved.model_dump()}, events=[command.child(resolved)])

    await store.apply(command.complaint_id, str(command.event_id), decide)
    root = await store.get(command.complaint_id)
    for linked in (root or {}).get("linked", []):
        await resolve_linked(command, linked, store=store)


def _correlation(complaint_id: str, command: Envelope[Any]) -> uuid.UUID:
    try:
        return uuid.UUID(complaint_id)  # intake gives every complaint a UUID, its correlation id
    except ValueError:
        return command.correlation_id


async def resolve_linked(command: Envelope[ResolveComplaint], complaint_id: str, *, store: AggregateStore) -> None:
    """A report linked to a first report is resolved with it; its own callback follows as usual."""
    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None or doc.get("status") != "assigned":
            return Decision()
        resolved = ComplaintResolved(round=doc["round"], by=command.payload.by,
                                     note=f"随首报 {command.complaint_id} 一并处理 resolved with the first report: "
                                          f"{command.payload.note}"[:5000])
        event = command.child(resolved, complaint_id=complaint_id, correlation_id=_correlation(complaint_id, command))
        return Decision(changes={"status": "resolved", "resolved_at": datetime.now(UTC)},
                        push={"resolutions": resolved.model_dump()}, events=[event])

    await store.apply(complaint_id, f"{command.event_id}:{complaint_id}", decide)


async def reassign_reopened(event: Envelope[ComplaintReopened], *, store: AggregateStore,
                            org: OrgDirectory) -> None:
    load = await open_load(store.collection, event.estate_id)

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None or doc.get("status") != "resolved" or doc.get("round", 0) >= event.payload.round:
            return Decision()
        r = route(org, event.group_id, doc["category"], doc["subcategory"], doc["valid"])
        pick = pick_handler(org, event.estate_id, r, load)
        assigned = _assigned(event, pick, r.department, org, Severity(doc["severity"]), event.payload.round,
                             event.occurred_at)
        return Decision(changes=_assignment_fields(assigned), events=[event.child(assigned)])

    await store.apply(event.complaint_id, str(event.event_id), decide)
