"""Kafka entry points of assignment: which handler reacts to which message."""

from __future__ import annotations

from typing import Any

from services.assignment import handlers
from shared.aggregate import AggregateStore
from shared.contracts import ComplaintReopened, ComplaintTriaged, Envelope, ResolveComplaint
from shared.messaging import subscribe
from shared.org import OrgDirectory
from shared.runtime import Runtime


def register(rt: Runtime, store: AggregateStore, org: OrgDirectory) -> None:
    async def on_triaged(event: Envelope[Any]) -> None:
        if isinstance(event.payload, ComplaintTriaged):
            await handlers.assign_triaged(event, store=store, org=org)

    async def on_followup(event: Envelope[Any]) -> None:
        if isinstance(event.payload, ComplaintReopened):
            await handlers.reassign_reopened(event, store=store, org=org)

    async def on_command(event: Envelope[Any]) -> None:
        if isinstance(event.payload, ResolveComplaint):
            await handlers.resolve(event, store=store)

    subscribe(rt.broker, rt.settings, rt.name, "complaint.triaged", on_triaged)
    subscribe(rt.broker, rt.settings, rt.name, "complaint.followup", on_followup)
    subscribe(rt.broker, rt.settings, rt.name, "command.assignment", on_command)
