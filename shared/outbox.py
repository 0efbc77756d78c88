"""Outbox without multi-document transactions.

The events a state change must publish are written in the same document update as the change, under
`outbox.<event_id>`. The relay publishes them right after the write and removes each once Kafka has it;
a sweeper re-publishes whatever a crash or an outage left behind. Consumers dedupe, so a re-publish is harmless,
but with several instances of a service only the holder of the collection's lease sweeps (shared.lease): an
instance whose own publish failed pokes the holder rather than sweeping too.

Every write that adds entries also sets `outbox_due: true` (`outbox_entries`, `outbox_doc`), and the sweeper asks
for that flag: an equality FerretDB v1 pushes down to PostgreSQL, where `outbox: {$exists, $ne: {}}` made it
read and decode every document of the collection per sweep (the archive's whole case records: a third of the
database's time in the pipeline benchmark). The sweeper clears the flag of a document whose outbox it finds
empty, on condition that it still is. A whole-collection sweep still runs at start and every
`outbox_full_sweep_seconds`, for documents written before the flag or by a writer that does not set it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo.asynchronous.collection import AsyncCollection

from shared import metrics
from shared.contracts import Envelope, encode, topic_of
from shared.lease import Lease, run_leased
from shared.messaging import TRANSIENT_ERRORS, publish
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


DUE = "outbox_due"
GEN = "outbox_gen"  # the last entry the last write added: whoever publishes it has published all (see flush)


def outbox_entries(settings: ServiceSettings, envelopes: list[Envelope[Any]]) -> dict[str, Any]:
    """`$set` fields that put these envelopes in a document's outbox (and flag it for the sweeper)."""
    now = datetime.now(UTC)
    fields = {}
    for seq, env in enumerate(envelopes):
        fields[f"outbox.{env.event_id}"] = {
            "topic": settings.topic(topic_of(type(env.payload))),
            "key": env.complaint_id,
            "type": env.type,
            "value": encode(env).decode(),
            "created_at": now,
            "seq": seq,
        }
    if fields:
        fields[DUE] = True
        fields[GEN] = str(envelopes[-1].event_id)
    return fields


def as_map(fields: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`outbox_entries`' entries as a document's `outbox` field holds them."""
    return {k.split(".", 1)[1]: v for k, v in fields.items() if k not in (DUE, GEN)}


def outbox_map(settings: ServiceSettings, envelopes: list[Envelope[Any]]) -> dict[str, dict[str, Any]]:
    """The same entries as a document's `outbox` field."""
    return as_map(outbox_entries(settings, envelopes))


def outbox_doc(settings: ServiceSettings, envelopes: list[Envelope[Any]]) -> dict[str, Any]:
    """The fields of a document inserted whole with these envelopes in its outbox: `outbox` and the flag."""
    return as_doc(outbox_entries(settings, envelopes))


def as_doc(fields: dict[str, Any]) -> dict[str, Any]:
    """`outbox_entries`' fields as a document inserted whole holds them: `outbox`, the flag and the last entry."""
    return {"outbox": as_map(fields), **{k: v for k, v in fields.items() if k in (DUE, GEN)}}


class OutboxRelay:
    """Publishes a collection's outbox entries and removes each one once sent."""

    def __init__(self, collection: AsyncCollection, broker: KafkaBroker, settings: ServiceSettings,
                 lease: Lease | None = None) -> None:
        self.collection = collection
        self.broker = broker
        self.settings = settings
        self.lease = lease  # None: this process is the only sweeper (tests, tools)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # a publish failed: sweep at the busy pace

    async def flush(self, doc_id: Any, outbox: dict[str, dict[str, Any]] | None = None) -> int:
        """Publish one document's pending entries in order, then remove them in one write; return how many went
        out.

        The flag goes in the same write when the last entry published is the document's `outbox_gen`, the last
        one its last write added: that write saw every entry before it (the aggregate store writes at the version
        it read; other writers insert the document whole), so none is left. Otherwise (a write came after) only
        these entries go, and the flag stays for that writer and the sweeper. A crash before the write publishes
        them again: consumers dedupe."""
        if outbox is None:
            doc = await self.collection.find_one({"_id": doc_id}, {"outbox": 1})
            outbox = (doc or {}).get("outbox") or {}
        ordered = sorted(outbox, key=lambda k: (outbox[k]["created_at"], outbox[k]["seq"]))
        for event_id in ordered:
            entry = outbox[event_id]
            await publish(self.broker, entry["topic"], entry["value"].encode(), key=entry["key"],
                          headers={"type": entry["type"]})
            metrics.OUTBOX_PUBLISHED.labels(self.collection.name).inc()
        if ordered:
            sent = {f"outbox.{event_id}": "" for event_id in ordered}
            done = await self.collection.update_one({"_id": doc_id, GEN: ordered[-1]},
                                                    {"$unset": {**sent, DUE: "", GEN: ""}})
            if not done.matched_count:
                await self.collection.update_one({"_id": doc_id}, {"$unset": sent})
        return len(ordered)

    async def try_flush(self, doc_id: Any, outbox: dict[str, dict[str, Any]] | None = None) -> None:
        """Flush now if we can; if Kafka or MongoDB is down the sweeper will do it later."""
        try:
            await self.flush(doc_id, outbox)
        except TRANSIENT_ERRORS as exc:
            log.warning("outbox publish deferred for %s: %s", doc_id, exc)
            await self._wake_sweeper()
        except Exception as exc:  # noqa: BLE001 - the state is saved; never fail the caller over a publish
            log.warning("outbox publish deferred for %s: %s: %s", doc_id, type(exc).__name__, exc)
            await self._wake_sweeper()

    async def _wake_sweeper(self) -> None:
        self._wake.set()
        if self.lease is not None and not self.lease.held:
            await self.lease.poke()  # the sweeper runs on another instance: it looks at its next renewal

    async def sweep_once(self, whole: bool = False) -> int:
        """Publish entries older than the minimum age (younger ones are their writers' to publish), of the
        flagged documents, or with `whole` of every document with entries."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.outbox_min_age_seconds)
        sent = 0
        flt = {"outbox": {"$exists": True, "$ne": {}}} if whole else {DUE: True}
        async for doc in self.collection.find(flt, {"outbox": 1}):
            outbox = doc.get("outbox") or {}
            due = {k: v for k, v in outbox.items() if v["created_at"] <= cutoff}
            if due:
                sent += await self.flush(doc["_id"], due)
            if len(due) == len(outbox) and not whole:  # nothing left: unflagged unless an entry came meanwhile
                await self.collection.update_one({"_id": doc["_id"], DUE: True, "outbox": {}},
                                                 {"$unset": {DUE: "", GEN: ""}})
        return sent

    async def run(self) -> None:
        """Sweep at once on start (a crash may have left entries), then every `outbox_sweep_seconds` while
        publishing fails or sweeps find work, otherwise every `outbox_idle_sweep_seconds`: the relay publishes
        right after each write, so an idle sweep finds nothing, and on FerretDB v1 it reads every document."""
        loop = asyncio.get_running_loop()
        # after a start or a failed publish, keep the busy pace until the entries left young then are old
        # enough to take over
        warm_for = self.settings.outbox_min_age_seconds + 2 * self.settings.outbox_sweep_seconds
        warm_until = loop.time() + warm_for
        busy = True
        whole_at = loop.time()  # a whole sweep at once, then now and then
        while True:
            if self._wake.is_set():
                warm_until = max(warm_until, loop.time() + warm_for)
            self._wake.clear()
            try:
                whole = loop.time() >= whole_at
                n = await self.sweep_once(whole)
                if whole:
                    whole_at = loop.time() + self.settings.outbox_full_sweep_seconds
                if n:
                    log.info("outbox sweeper re-published %d message(s) from %s", n, self.collection.name)
                # entries still young are their writers' to publish (a failure wakes us): under load there
                # always are some, and sweeping for them would read the whole collection every few seconds
                busy = bool(n) or loop.time() < warm_until
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep sweeping through outages
                log.warning("outbox sweep failed on %s: %s", self.collection.name, exc)
                busy = True
            if busy:
                await asyncio.sleep(self.settings.outbox_sweep_seconds)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.outbox_idle_sweep_seconds)

    def start(self) -> None:
        job = self.run() if self.lease is None else run_leased(self.lease, self.run, on_wake=self._wake.set)
        self._task = asyncio.create_task(job, name=f"outbox:{self.collection.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
