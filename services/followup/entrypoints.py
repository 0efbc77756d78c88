"""Kafka entry points of follow-up: which handler reacts to which message."""

from __future__ import annotations

from typing import Any

from services.followup import handlers
from shared.aggregate import AggregateStore
from shared.contracts import ComplaintResolved, Envelope, RecordCallback
from shared.messaging import subscribe
from shared.runtime import Runtime


def register(rt: Runtime, store: AggregateStore, max_attempts: int, hour: int) -> None:
    async def on_resolved(event: Envelope[Any]) -> None:
        if isinstance(event.payload, ComplaintResolved):
            await handlers.schedule_callback(event, store=store, max_attempts=max_attempts, hour=hour)

    async def on_command(event: Envelope[Any]) -> None:
        if isinstance(event.payload, RecordCallback):
            await handlers.record_callback(event, store=store, max_attempts=max_attempts)

    subscribe(rt.broker, rt.settings, rt.name, "complaint.resolved", on_resolved)
    subscribe(rt.broker, rt.settings, rt.name, "command.followup", on_command)
