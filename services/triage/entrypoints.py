"""Kafka entry points of triage: which handler reacts to which message."""

from __future__ import annotations

from typing import Any

from services.triage.classifier import Triager
from services.triage.handlers import correct_classification, triage_complaint
from services.triage.history import RecentComplaints
from shared.aggregate import AggregateStore
from shared.contracts import ComplaintReceived, CorrectClassification, Envelope
from shared.messaging import subscribe
from shared.runtime import Runtime


def register(rt: Runtime, store: AggregateStore, triager: Triager, recent: RecentComplaints) -> None:
    async def on_received(event: Envelope[Any]) -> None:
        if isinstance(event.payload, ComplaintReceived):
            await triage_complaint(event, store=store, triager=triager, recent=recent)

    async def on_command(event: Envelope[Any]) -> None:
        if isinstance(event.payload, CorrectClassification):
            await correct_classification(event, store=store, corrections=rt.db["corrections"])

    subscribe(rt.broker, rt.settings, rt.name, "complaint.received", on_received)
    subscribe(rt.broker, rt.settings, rt.name, "command.triage", on_command)
