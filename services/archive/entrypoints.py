"""Entry points of the archive: every lifecycle topic is filed; communications and history imports too;
scheduled jobs (retention, unsettled rollups)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from services.archive import counterparts, queries, retention
from services.archive.handlers import Settler, file_events, import_history, ms, settle
from shared.aggregate import AggregateStore
from shared.contracts import CommunicationRecorded, Envelope, HistoryImported
from shared.lease import periodic
from shared.messaging import subscribe, subscribe_cases
from shared.runtime import Runtime

log = logging.getLogger(__name__)
FILED_TOPICS = ("complaint.received", "complaint.triaged", "complaint.assigned", "complaint.resolved",
                "complaint.followup", "complaint.sla", "complaint.notice")


def register(rt: Runtime, store: AggregateStore, settler: Settler | None = None) -> None:
    db = rt.db

    async def on_events(events: list[Envelope[Any]]) -> None:
        await file_events(events, store=store, settler=settler)

    async def on_communication(event: Envelope[Any]) -> None:
        if isinstance(event.payload, CommunicationRecorded):
            p = event.payload.model_dump(mode="python")
            p["at"] = ms(p["at"])
            doc = {"_id": p["communication_id"], "group_id": event.group_id, "estate_id": event.estate_id, **p}
            await queries.communications(db).replace_one({"_id": doc["_id"]}, doc, upsert=True)
            file_id = await counterparts.file_communication(db, event.group_id, event.estate_id, p)
            await queries.communications(db).update_one({"_id": doc["_id"]}, {"$set": {"file_id": file_id}})
            if p.get("complaint_id"):  # on the case record too: the complete record holds its communications
                # a new version, so that a filing which read the record before writes it again (AggregateStore);
                # once: a redelivery matches nothing
                await store.collection.update_one(
                    {"_id": p["complaint_id"], "group_id": event.group_id,
                     "communication_ids": {"$ne": p["communication_id"]}},
                    {"$addToSet": {"communication_ids": p["communication_id"]}, "$inc": {"version": 1}})

    async def on_import(event: Envelope[Any]) -> None:
        if isinstance(event.payload, HistoryImported):
            await import_history(event, store=store, settler=settler)

    # one consumer for every filed topic, in batches: a case's events that arrived together are one write
    subscribe_cases(rt.broker, rt.settings, rt.name, FILED_TOPICS, on_events)
    subscribe(rt.broker, rt.settings, rt.name, "communication.recorded", on_communication)
    subscribe(rt.broker, rt.settings, rt.name, "archive.import", on_import)


def retention_loop(rt: Runtime, days: int, action: str, every_hours: float):
    async def step() -> bool:
        done = await retention.sweep(rt.db, days=days, action=action)
        if any(done.values()):
            log.info("retention: %s", done)
        return any(done.values())  # a batch done: the next one at once

    return periodic("retention sweep", step, every_hours * 3600)


def rollup_loop(store: AggregateStore, every: float):
    """A delta left unsettled by a crash (between the case write and its settling, ADR 22) is settled here,
    500 records at a time in one go. The sweep asks for `rollup_due: true` (pushed down to the database, so it
    reads only the unsettled records); its first run also asks for records of the version before the flag, by
    `rollup_pending` (a whole scan)."""
    def job() -> Awaitable[None]:  # each take of the lease starts afresh, with the whole first run
        flt: dict = {"rollup_pending": {"$ne": None}}

        async def step() -> None:
            nonlocal flt
            rows = await store.collection.find(
                flt, {"version": 1, "rollup_pending": 1, "rollup_gen": 1}).limit(500).to_list(None)
            await settle(store, rows)
            if len(rows) < 500:
                flt = {"rollup_due": True}

        return periodic("rollup sweep", step, every)()

    return job
