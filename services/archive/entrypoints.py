"""Kafka entry points of the archive: every lifecycle topic is filed."""

from __future__ import annotations

from typing import Any

from services.archive.handlers import file_event
from shared.aggregate import AggregateStore
from shared.contracts import Envelope
from shared.messaging import subscribe
from shared.runtime import Runtime

FILED_TOPICS = ("complaint.received", "complaint.triaged", "complaint.assigned", "complaint.resolved",
                "complaint.followup", "complaint.sla")


def register(rt: Runtime, store: AggregateStore) -> None:
    async def on_event(event: Envelope[Any]) -> None:
        await file_event(event, store=store)

    for topic in FILED_TOPICS:
        subscribe(rt.broker, rt.settings, rt.name, topic, on_event)
