"""Follow-up handlers: schedule the callback on resolution; record callbacks; close or reopen."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from services.followup.domain import callback_outcome
from shared.aggregate import AggregateStore, Decision
from shared.contracts import (
    ComplaintClosed,
    ComplaintReopened,
    ComplaintResolved,
    Envelope,
    FollowUpRecorded,
    RecordCallback,
)
from shared.workcal import next_working_day_at


def _apply_callback(doc: dict[str, Any], command: Envelope[RecordCallback], max_attempts: int,
                    d: Decision) -> None:
    """Record one attempt against the current round; mutates `doc` so parked commands chain correctly."""
    c = command.payload
    attempt = len(doc.get("attempts", [])) + 1
    recorded = FollowUpRecorded(attempt=attempt, reached=c.reached, satisfaction=c.satisfaction, note=c.note,
                                by=c.by)
    d.events.append(command.child(recorded))
    doc["attempts"] = [*doc.get("attempts", []), recorded.model_dump(mode="json")]
    outcome = callback_outcome(c.reached, c.satisfaction, attempt, max_attempts)
    if outcome.kind == "reopen":
        reason = c.note or "回访不满意 complainant unsatisfied"
        d.events.append(command.child(ComplaintReopened(round=doc["round"] + 1, reason=reason)))
        doc["status"] = "reopened"
    elif outcome.kind == "close":
        d.events.append(command.child(ComplaintClosed(outcome=outcome.close_reason, satisfaction=c.satisfaction)))
        doc["status"] = "closed"


async def schedule_callback(event: Envelope[ComplaintResolved], *, store: AggregateStore, max_attempts: int,
                            hour: int) -> None:
    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is not None and doc.get("round", 0) >= event.payload.round and doc.get("status") != "waiting":
            return Decision()
        state = {"group_id": event.group_id, "estate_id": event.estate_id, "round": event.payload.round,
                 "status": "callback_due", "attempts": [],
                 "due_at": next_working_day_at(event.occurred_at, time(hour)), "parked": []}
        d = Decision()
        for raw in (doc or {}).get("parked", []):  # callbacks recorded before we saw the resolution
            if state["status"] == "callback_due":
                _apply_callback(state, Envelope[RecordCallback].model_validate(raw), max_attempts, d)
        d.changes = state
        return d

    await store.apply(event.complaint_id, str(event.event_id), decide)


async def record_callback(command: Envelope[RecordCallback], *, store: AggregateStore, max_attempts: int) -> None:
    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None or doc.get("status") in ("waiting", "reopened"):
            # The (next) resolution is on its way on another topic: park the callback until it arrives.
            base = {"group_id": command.group_id, "estate_id": command.estate_id, "status": "waiting"}
            return Decision(changes=base if doc is None else {},
                            push={"parked": command.model_dump(mode="json")})
        if doc.get("status") != "callback_due":
            return Decision(push={"rejected_commands": {"command_id": str(command.event_id),
                                                        "reason": f"case is {doc.get('status')}",
                                                        "at": datetime.now(UTC)}})
        state = {k: doc[k] for k in ("round", "status", "attempts")}
        d = Decision()
        _apply_callback(state, command, max_attempts, d)
        d.changes = {"status": state["status"], "attempts": state["attempts"]}
        return d

    await store.apply(command.complaint_id, str(command.event_id), decide)
