"""Triage handler: classify a received complaint once and publish ComplaintTriaged."""

from __future__ import annotations

from typing import Any

from services.triage.domain import classify
from shared.aggregate import AggregateStore, Decision
from shared.contracts import ComplaintReceived, ComplaintTriaged, Envelope


async def triage_complaint(event: Envelope[ComplaintReceived], *, store: AggregateStore,
                           review_below: float) -> None:
    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is not None:  # already judged; an operator's correction is a later command
            return Decision()
        c = classify(event.payload.text, event.payload.demand, review_below)
        if event.payload.needs_review:  # the channel could not read it all: a person confirms
            c.needs_review = True
            c.reasons.append(f"channel asks for review: {event.payload.review_reason}")
        triaged = ComplaintTriaged(
            category=c.category, subcategory=c.subcategory, severity=c.severity, valid=c.valid,
            responsibility=c.responsibility, responsible_party=c.responsible_party, confidence=c.confidence,
            reasons=c.reasons, needs_review=c.needs_review,
        )
        changes = {"group_id": event.group_id, "estate_id": event.estate_id,
                   "classification": triaged.model_dump(mode="json")}
        return Decision(changes=changes, events=[event.child(triaged)])

    await store.apply(event.complaint_id, str(event.event_id), decide)
