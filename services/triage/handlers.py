"""Triage handler: judge a received complaint once, link repeats and incidents, publish ComplaintTriaged."""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.triage import extract
from services.triage.classifier import Judgement, Triager
from services.triage.history import RecentComplaints
from shared.aggregate import AggregateStore, Decision
from shared.contracts import ComplaintReceived, ComplaintTriaged, CorrectClassification, Envelope
from shared.terms import SUBCATEGORY_OF


def triaged_event(j: Judgement, channel_review: str = "") -> ComplaintTriaged:
    reasons = list(j.reasons)
    if j.link is not None:
        reasons.append(f"{j.link.kind}: {j.link.why}; first report {j.link.root}")
    if channel_review:
        reasons.append(f"channel asks for review: {channel_review}")
    return ComplaintTriaged(
        category=j.category, subcategory=j.subcategory, severity=j.severity, valid=j.valid,
        responsibility=j.responsibility, responsible_party=j.responsible_party, confidence=j.confidence,
        reasons=reasons, needs_review=j.needs_review or bool(channel_review), estate_hint=j.estate_hint,
        unit_hint=j.unit_hint, phone_hint=j.phone_hint, demand=j.demand,
        duplicate_of=j.link.root if j.link else None, link_kind=j.link.kind if j.link else "",
        reports=j.link.reports if j.link else 1,
    )


async def triage_complaint(event: Envelope[ComplaintReceived], *, store: AggregateStore, triager: Triager,
                           recent: RecentComplaints) -> None:
    p = event.payload
    text = f"{p.text}\n{p.demand}" if p.demand else p.text
    history = await recent.load(event.group_id, event.estate_id, p.received_at, unit=extract.unit_hint(text),
                                phone=extract.phone_hint(text))
    j = triager.judge(text, history, complaint_id=event.complaint_id, known_estate=event.estate_id)
    if not j.unit_hint and p.complainant.unit:  # the channel may know the unit the text does not say
        j.unit_hint = p.complainant.unit
    triaged = triaged_event(j, p.review_reason if p.needs_review else "")

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is not None:
            return Decision()
        return Decision(changes={"group_id": event.group_id, "estate_id": event.estate_id,
                                 "channel": p.channel.value, "text": text,
                                 "classification": triaged.model_dump(mode="json")},
                        events=[event.child(triaged)])

    # A case's first message: written without reading first (an insert). A redelivery's insert finds the case
    # there, which is then read and left as it is; only a redelivery pays for judging again.
    if await store.apply(event.complaint_id, str(event.event_id), decide, known=None) and j.seen is not None:
        await recent.save(event.group_id, j.seen, j.link, p.received_at)


async def correct_classification(command: Envelope[CorrectClassification], *, store: AggregateStore,
                                 corrections: AsyncCollection) -> None:
    """An operator's correction replaces the judgement, is published, and is kept as a training example."""
    c = command.payload

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None or "classification" not in doc:
            return Decision()
        old = ComplaintTriaged.model_validate(doc["classification"])
        category = SUBCATEGORY_OF[c.subcategory]
        valid_party = old.responsible_party if not c.valid and old.responsible_party != "property" else (
            "property" if c.valid else "government")
        responsibility = "not_ours" if not c.valid else ("assist" if category in ("emergency", "neighbour") else "ours")
        corrected = old.model_copy(update={
            "category": category, "subcategory": c.subcategory, "severity": c.severity, "valid": c.valid,
            "responsibility": responsibility, "responsible_party": valid_party, "confidence": 1.0,
            "needs_review": False, "corrected_by": c.by,
            "reasons": [*old.reasons, f"corrected by {c.by}: {old.subcategory}/{old.severity.value} → "
                                      f"{c.subcategory}/{c.severity.value}" + (f" ({c.note})" if c.note else "")],
        })
        corrected = ComplaintTriaged.model_validate(corrected.model_dump())
        return Decision(changes={"classification": corrected.model_dump(mode="json")},
                        push={"corrections": {**c.model_dump(mode="json"), "command_id": str(command.event_id)}},
                        events=[command.child(corrected)])

    if await store.apply(command.complaint_id, str(command.event_id), decide):
        doc = await store.get(command.complaint_id)
        with contextlib.suppress(DuplicateKeyError):  # the same command again: already kept
            await corrections.insert_one({
                "_id": str(command.event_id), "complaint_id": command.complaint_id, "group_id": command.group_id,
                "channel": doc.get("channel", ""), "text": doc.get("text", ""),
                "category": SUBCATEGORY_OF[c.subcategory], "subcategory": c.subcategory,
                "severity": c.severity.value, "valid": c.valid, "by": c.by, "note": c.note, "at": command.occurred_at})
