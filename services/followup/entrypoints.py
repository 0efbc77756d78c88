"""Kafka entry points of follow-up, and the notice sweep."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.followup import handlers
from services.followup.notices import NoticeDesk
from shared.aggregate import AggregateStore
from shared.contracts import ComplaintAssigned, ComplaintReceived, ComplaintResolved, Envelope, RecordCallback
from shared.messaging import subscribe
from shared.runtime import Runtime

log = logging.getLogger(__name__)


def register(rt: Runtime, store: AggregateStore, desk: NoticeDesk, max_attempts: int, hour: int) -> None:
    # each handler returns the case as it left it: its notices are made from that
    async def on_received(event: Envelope[Any]) -> None:
        if isinstance(event.payload, ComplaintReceived):
            await desk.ensure(await handlers.remember_contact(event, store=store))

    async def on_assigned(event: Envelope[Any]) -> None:
        if isinstance(event.payload, ComplaintAssigned):
            await desk.ensure(await handlers.note_assigned(event, store=store))

    async def on_resolved(event: Envelope[Any]) -> None:
        if isinstance(event.payload, ComplaintResolved):
            await desk.ensure(await handlers.schedule_callback(event, store=store, max_attempts=max_attempts,
                                                              hour=hour))

    async def on_command(event: Envelope[Any]) -> None:
        if isinstance(event.payload, RecordCallback):
            await desk.ensure(await handlers.record_callback(event, store=store, max_attempts=max_attempts,
                                                            hour=hour))

    subscribe(rt.broker, rt.settings, rt.name, "complaint.received", on_received)
    subscribe(rt.broker, rt.settings, rt.name, "complaint.assigned", on_assigned)
    subscribe(rt.broker, rt.settings, rt.name, "complaint.resolved", on_resolved)
    subscribe(rt.broker, rt.settings, rt.name, "command.followup", on_command)


def notice_loop(desk: NoticeDesk, every: float):
    async def run() -> None:
        while True:
            try:
                if await desk.send_due():
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - notices never stop the service; the next sweep retries
                log.warning("notice sweep failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(every)

    return run
