"""Follow-up handlers: callback tasks for whoever received the complaint; attempts; close or reopen; notices.

One document per case (`callbacks`) remembers the complainant's contact (from ComplaintReceived), the
callback round and its attempts, and the points at which the complainant is to be told something. The
notices themselves are documents of their own (`notices`), sent and retried by `services.followup.notices`.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from services.followup.domain import callback_outcome, callback_owner, next_attempt_at
from shared.aggregate import UNREAD, AggregateStore, Decision
from shared.contracts import (
    CallbackScheduled,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintReceived,
    ComplaintReopened,
    ComplaintResolved,
    Envelope,
    FollowUpRecorded,
    RecordCallback,
)
from shared.workcal import next_working_day_at


async def _applied(store: AggregateStore, case_id: str, message_id: str, decide: Any, known: Any = UNREAD
                   ) -> dict[str, Any] | None:
    """Apply, and return the case as left (written, or as read on a redelivery): what its notices are made
    from, without reading it back. `known`: as in `AggregateStore.apply`."""
    after: dict[str, Any] = {}
    await store.apply(case_id, message_id, decide, known=known, into=after)
    return after or None


def _point(point: str, round_no: int, **extra: str) -> dict[str, Any]:
    return {"point": point, "round": round_no, **extra}


def _apply_callback(doc: dict[str, Any], command: Envelope[RecordCallback], max_attempts: int, hour: int,
                    d: Decision) -> None:
    """Record one attempt against the current round; mutates `doc` so parked commands chain correctly."""
    c = command.payload
    attempt = len(doc.get("attempts", [])) + 1
    recorded = FollowUpRecorded(attempt=attempt, reached=c.reached, satisfaction=c.satisfaction, note=c.note,
                                by=c.by)
    d.events.append(command.child(recorded))
    doc["attempts"] = [*doc.get("attempts", []), {**recorded.model_dump(mode="json"),
                                                  "at": command.occurred_at.isoformat()}]
    outcome = callback_outcome(c.reached, c.satisfaction, attempt, max_attempts)
    if outcome.kind == "reopen":
        reason = c.note or "回访不满意 complainant unsatisfied"
        d.events.append(command.child(ComplaintReopened(round=doc["round"] + 1, reason=reason)))
        doc["status"] = "reopened"
        doc["due_at"] = None
    elif outcome.kind == "close":
        d.events.append(command.child(ComplaintClosed(outcome=outcome.close_reason, satisfaction=c.satisfaction)))
        doc["status"] = "closed"
        doc["due_at"] = None
        doc["points"] = [*doc.get("points", []), _point("closed", doc["round"], outcome=outcome.close_reason)]
    else:  # not reached: the next attempt, later today or the next working day
        due = next_attempt_at(command.occurred_at, attempt + 1, hour)
        doc["due_at"] = due
        d.events.append(command.child(CallbackScheduled(round=doc["round"], attempt=attempt + 1, due_at=due,
                                                        owner=doc.get("owner", ""))))


async def remember_contact(event: Envelope[ComplaintReceived], *, store: AggregateStore) -> dict[str, Any] | None:
    """Who to tell and who owns the replies: kept from the complaint as received."""
    p = event.payload

    def decide(doc: dict[str, Any] | None) -> Decision:
        contact = {"tracking_no": p.tracking_no, "channel": p.channel.value, "receiver": p.receiver,
                   "phone": p.complainant.phone, "email": p.complainant.email}
        changes: dict[str, Any] = {"group_id": event.group_id, "estate_id": event.estate_id, "contact": contact,
                                   "owner": callback_owner(p.channel.value, p.receiver)}
        if doc is None:
            changes.update(status="open", round=0, attempts=[], parked=[])
        return Decision(changes=changes, push={"points": _point("received", 1)})

    # usually the case's first message: written without reading first (an insert); when the assignment's came
    # first, or on a redelivery, the insert finds the case there and it is read
    return await _applied(store, event.complaint_id, str(event.event_id), decide, known=None)


async def note_assigned(event: Envelope[ComplaintAssigned], *, store: AggregateStore) -> dict[str, Any] | None:
    """The complainant is told who handles it, once per round (not at every reassignment)."""
    a = event.payload
    if a.kind not in ("initial", "reopen", "linked", "from_queue"):
        return await store.get(event.complaint_id)

    def decide(doc: dict[str, Any] | None) -> Decision:
        if any(p["point"] == "assigned" and p["round"] == a.round for p in (doc or {}).get("points", [])):
            return Decision()
        base = {} if doc is not None else {"group_id": event.group_id, "estate_id": event.estate_id,
                                           "status": "open", "round": 0, "attempts": [], "parked": []}
        return Decision(changes=base, push={"points": _point("assigned", a.round, assignee=a.assignee.name,
                                                             department=a.assignee.department_name)})

    return await _applied(store, event.complaint_id, str(event.event_id), decide)


async def schedule_callback(event: Envelope[ComplaintResolved], *, store: AggregateStore, max_attempts: int,
                            hour: int) -> dict[str, Any] | None:
    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is not None and doc.get("round", 0) >= event.payload.round and doc.get("status") != "waiting":
            return Decision()
        due = next_working_day_at(event.occurred_at, time(hour))
        state = {"group_id": event.group_id, "estate_id": event.estate_id, "round": event.payload.round,
                 "status": "callback_due", "attempts": [], "due_at": due, "parked": [],
                 "owner": (doc or {}).get("owner", ""),
                 "points": [*(doc or {}).get("points", []), _point("resolved", event.payload.round)]}
        d = Decision(events=[event.child(CallbackScheduled(round=event.payload.round, attempt=1, due_at=due,
                                                           owner=state["owner"]))])
        for raw in (doc or {}).get("parked", []):  # callbacks recorded before we saw the resolution
            if state["status"] == "callback_due":
                _apply_callback(state, Envelope[RecordCallback].model_validate(raw), max_attempts, hour, d)
        d.changes = state
        return d

    return await _applied(store, event.complaint_id, str(event.event_id), decide)


async def record_callback(command: Envelope[RecordCallback], *, store: AggregateStore, max_attempts: int,
                          hour: int) -> dict[str, Any] | None:
    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None or doc.get("status") in ("waiting", "reopened", "open"):
            # The (next) resolution is on its way on another topic: park the callback until it arrives.
            if doc is None:
                changes = {"group_id": command.group_id, "estate_id": command.estate_id, "status": "waiting"}
            else:
                changes = {"status": "waiting"} if doc.get("status") == "open" else {}
            return Decision(changes=changes, push={"parked": command.model_dump(mode="json")})
        if doc.get("status") != "callback_due":
            return Decision(push={"rejected_commands": {"command_id": str(command.event_id),
                                                        "reason": f"case is {doc.get('status')}",
                                                        "at": datetime.now(UTC)}})
        state = {k: doc.get(k) for k in ("round", "status", "attempts", "owner", "points", "due_at")}
        d = Decision()
        _apply_callback(state, command, max_attempts, hour, d)
        d.changes = {k: state[k] for k in ("status", "attempts", "due_at", "points")}
        return d

    return await _applied(store, command.complaint_id, str(command.event_id), decide)
