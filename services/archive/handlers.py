"""Archive handlers: file every event on its case, reseal the record, refresh views, rollups and customer files.

The record, its hash chain, its search terms and its pending rollup delta are one write (load-decide-save);
the views derived from it (queue entry, ledger head, rollup document, customer files) are brought up to date
right after, idempotently, so a redelivery after a crash converges.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from services.archive import counterparts, queries, rollups
from services.archive.domain import chain_problems, fold, link, loaded_events, phone_key, sealed, stored_events
from services.archive.search import terms
from shared.aggregate import UNREAD, AggregateStore, Decision
from shared.contracts import BadMessage, ComplaintReceived, Envelope, HistoryImported, parse_obj
from shared.grouped import GroupedWriter, Write
from shared.outbox import GEN

log = logging.getLogger(__name__)
CHAIN_VERSION = 2  # per-event hashes in filing order; records filed before are chained once at start
# the markers a record is written on condition of, besides its version: the outbox and the rollup deltas are
# cleared by writes that only remove fields, conditional on these, and leave the version as it is (ADR 18, 19)
CASE_GUARDS = (GEN, "rollup_gen")


def ms(value: datetime) -> datetime:
    """MongoDB keeps milliseconds: hash and compare what it will give back."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def entry_of(event: Envelope[Any]) -> dict[str, Any]:
    return {"event_id": str(event.event_id), "type": event.type, "at": ms(event.occurred_at),
            "payload": _parse_dates(event.payload.model_dump(mode="json"))}


def record_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The derived part of the record, sealed with its hash chain, with its search terms."""
    record = sealed(fold(events), events)
    c = record.get("complainant") or {}
    record["terms"] = terms(record.get("text", ""), record.get("demand", ""), c.get("unit", ""),
                            record.get("tracking_no", ""), " ".join(r["note"] for r in record["resolutions"]))
    return record


def record_problems(doc: dict[str, Any]) -> list[str]:
    """The stored record against its events: the filing chain, then the timeline entry by entry."""
    events = loaded_events(doc.get("events", []))
    problems = chain_problems(events)
    expected = record_of(events)
    stored = doc.get("timeline", [])
    if len(stored) != len(expected["timeline"]):
        problems.append(f"timeline has {len(stored)} entries, its events make {len(expected['timeline'])}")
    for i, (a, b) in enumerate(zip(stored, expected["timeline"], strict=False)):
        if a != b:
            fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            problems.append(f"entry {i + 1} ({b.get('title', '')}) differs from its event: {', '.join(fields)}")
            break
    if doc.get("chain_head") != expected["chain_head"]:
        problems.append("the record's chain head does not match its events")
    return problems


async def file_event(event: Envelope[Any], *, store: AggregateStore) -> None:
    await file_events([event], store=store)


async def file_events(events: list[Envelope[Any]], *, store: AggregateStore, settler: Settler | None = None) -> None:
    """File events of one case (a batch's, as they arrived) in one write of its record, then its views once.
    Each event is filed once, whatever was filed before or arrives twice in the batch. Its rollup deltas are
    counted by `settler` a moment later, with other cases' (without one: at once)."""
    if settler is None:
        await _file_events(events, store, None)
    else:
        async with settler.filing_of(events[0].complaint_id):
            await _file_events(events, store, settler)


async def _file_events(events: list[Envelope[Any]], store: AggregateStore, settler: Settler | None) -> None:
    first = events[0]
    case_id = first.complaint_id
    if any(e.complaint_id != case_id for e in events):
        raise ValueError("events of several cases filed together")
    for event in events:
        if isinstance(event.payload, ComplaintReceived):  # before the record shows: a caller is known from then
            await remember_household(store.collection.database, event)
    by_id = {str(e.event_id): e for e in events}

    after: dict[str, Any] = {}  # the record as this filing leaves it (its changes are whole top-level fields)
    before: dict[str, Any] = {}  # its page keys before this filing

    def decide(doc: dict[str, Any] | None, fresh: list[str]) -> Decision:
        before["keys"] = queries.key_entry({**doc, "_id": case_id}) if doc else None
        before["entry"] = queries.queue_entry(doc) if doc else None
        events = loaded_events((doc or {}).get("events", []))
        for event_id in fresh:
            entry = entry_of(by_id[event_id])
            events.append({**entry, "hash": link(events[-1].get("hash", "") if events else "", entry)})
        record = record_of(events)
        changes = {"group_id": first.group_id, "estate_id": first.estate_id, "events": stored_events(events),
                   "updated_at": datetime.now(UTC), "chain_version": CHAIN_VERSION, **record}
        changes.update(_rollup_changes(doc, {**changes, "_id": case_id}, events))
        found = record_problems(doc) if doc and doc.get("chain_version") == CHAIN_VERSION else []
        if found:
            alerts = [*doc.get("integrity_alerts", []), {"at": datetime.now(UTC), "problems": found}]
            changes["integrity_alerts"] = alerts
        after.clear()
        after.update({**(doc or {}), **changes, "_id": case_id, "version": (doc or {}).get("version", 0) + 1})
        return Decision(changes=changes)

    # with the complaint as received, usually the case's first filing: written without reading first (an
    # insert); a redelivery's, or one after a later event filed first, finds the record there and reads it
    received = any(isinstance(e.payload, ComplaintReceived) for e in events)
    filed = await store.apply_many(case_id, list(by_id), decide, known=None if received else UNREAD)
    # The views are derived from the record, so rewriting them on a redelivery converges after a crash.
    await refresh_views(store, case_id, filing=received, record=after if filed else None,
                        before=before if filed else None, settler=settler)


def _rollup_changes(doc: dict[str, Any] | None, record: dict[str, Any], events: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    """The change of this case's rollup contribution, queued on the case in the same write as the record."""
    new = rollups.contribution(record, events)
    rid = rollups.rollup_id(record)
    kept = (doc or {}).get("contrib_id")
    if rid is None or (kept is not None and not rollups.same_day(kept, rid)):
        return {}
    rid = kept or rid  # a case stays in the document it was first counted in (one filed before the parts too)
    d = rollups.delta((doc or {}).get("contrib") or {}, new)
    if not d:
        return {}
    # 72 random bits: a rollup document keeps its last 1,000 markers, each in FerretDB v1 with a type entry,
    # so a marker's length is paid on every read and write of the day's rollup (a 32-digit hex was 60 % of it)
    item = {"rollup_id": rid, "marker": secrets.token_urlsafe(9), "delta": _nest(d)}
    # `rollup_due`: the sweep's filter; an equality FerretDB v1 can push down (it cannot push `$ne: null`)
    # `rollup_gen`: the last delta queued, which the clearing write is conditional on (one statement on FerretDB)
    return {"contrib": new, "contrib_id": rid, "rollup_pending": [*((doc or {}).get("rollup_pending") or []), item],
            "rollup_due": True, "rollup_gen": item["marker"]}


def _nest(flat: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in flat.items():
        head, _, tail = k.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = v
        else:
            out[head] = v
    return out


async def refresh_views(store: AggregateStore, complaint_id: str, filing: bool = False,
                        record: dict[str, Any] | None = None, before: dict[str, Any] | None = None,
                        settler: Settler | None = None) -> None:
    """Queue entry (and its page keys), ledger head and rollups after every change; the customer file when the
    complainant is new.

    `record`: the record as just written (saves reading it back), else it is read. `before`: the page keys
    ("keys") and the list entry ("entry") the record had before this filing; what this filing left unchanged
    is not written again (a notice sent changes neither: nothing new for the operators' live feed). A filing
    whose views were not written (a crash) is redelivered and rewrites them all (no `before`)."""
    before = before or {}
    if record is None:
        record = await store.get(complaint_id)
    if record is None:
        return
    db = store.collection.database
    views: list[tuple[Any, Write]] = []
    entry = queries.queue_entry(record)
    if entry != before.get("entry"):
        views.append((queries.queue(db), Write({"_id": record["_id"]},
                                               {**entry, **queries.change_stamp(datetime.now(UTC))}, upsert=True)))
    keys = queries.key_entry(record)
    if keys != before.get("keys"):
        views.append((queries.queue_keys(db), Write({"_id": record["_id"]}, keys, upsert=True)))
    ledger = {"_id": record["_id"], "head": record.get("chain_head", ""), "entries": len(record.get("timeline", [])),
              "group_id": record["group_id"], "updated_at": datetime.now(UTC)}
    if record.get("anonymised_at"):
        ledger["anonymised_at"] = record["anonymised_at"]
    views.append((queries.ledger(db), Write({"_id": record["_id"]}, ledger, upsert=True)))  # ADR 18
    if settler is not None:  # with the views of the other cases being filed (ADR 23)
        await asyncio.gather(*(settler.writer(coll).write(op) for coll, op in views))
    else:
        for coll, op in views:
            await op.alone(coll)
    if record.get("rollup_pending"):
        if settler is not None:
            settler.add(record)
        else:
            await settle(store, [record])
    for alert in record.get("integrity_alerts", []):  # kept apart too: rewriting the record cannot hide it
        await queries.integrity_alerts(db).update_one(
            {"_id": f"{record['_id']}:{alert['at'].isoformat()}"},
            {"$set": {"complaint_id": record["_id"], "group_id": record.get("group_id"),
                      "problems": alert["problems"], "at": alert["at"]}}, upsert=True)
    if filing:
        await counterparts.file_case(db, record)


async def settle(store: AggregateStore, records: list[dict[str, Any]]) -> None:
    """Count the deltas queued on `records` (each at most once: its marker), then clear them from each record,
    in one command each (ADR 22). A clearing is conditional on the last delta queued (`rollup_gen`), not the
    record's version: the write only removes fields, so FerretDB makes it one statement without reading the
    record (ADR 18), and a filing that read the record before it writes at the version it read. If that filing
    queues a delta, it queues the cleared ones again, and they are skipped where they were counted (their markers
    are there). A record queued before `rollup_gen`: by its version, as then."""
    records = [r for r in records if r.get("rollup_pending")]
    if not records:
        return
    await rollups.apply_many(store.collection.database, [item for r in records for item in r["rollup_pending"]])
    gone = {"rollup_pending": "", "rollup_due": "", "rollup_gen": ""}
    await store.collection.bulk_write([
        UpdateOne({"_id": r["_id"], "rollup_gen": r["rollup_gen"]}, {"$unset": gone}) if r.get("rollup_gen") else
        UpdateOne({"_id": r["_id"], "version": r["version"]}, {"$unset": gone, "$inc": {"version": 1}})
        for r in records], ordered=False)


class Settler:
    """Rollup deltas queued on case records by their filings, counted together every `every` seconds: one write
    per rollup document and one command clearing every record, where each filing made two writes (ADR 22). A
    case filed again before then is settled once, as its latest filing left it (its record holds every delta
    not yet cleared). A case is not cleared while it is being filed, nor filed while it is being cleared: the
    clearing would change the record between the filing's read and its write, which then reads and writes
    again. What a crash leaves in memory is on the records, flagged: the sweep settles it (`rollup_loop`).
    It also holds the process's grouped writers of the views (`writer`, ADR 23): it is what a filing shares
    with the other filings of the process."""

    def __init__(self, store: AggregateStore, every: float) -> None:
        self.store, self.every = store, every
        self.due: dict[str, dict[str, Any]] = {}
        self.writers: dict[str, GroupedWriter] = {}
        self.filing: dict[str, int] = {}  # cases being filed now (how many filings of each)
        self.settling: set[str] = set()
        self.settled = asyncio.Event()
        self.settled.set()

    @contextlib.asynccontextmanager
    async def filing_of(self, case_id: str) -> AsyncIterator[None]:
        while case_id in self.settling:
            await self.settled.wait()
        self.filing[case_id] = self.filing.get(case_id, 0) + 1
        try:
            yield
        finally:
            self.filing[case_id] -= 1
            if not self.filing[case_id]:
                del self.filing[case_id]

    def writer(self, collection: Any) -> GroupedWriter:
        """The views' writes of the cases being filed together, one bulk command per collection (ADR 23)."""
        if collection.name not in self.writers:
            self.writers[collection.name] = GroupedWriter(collection)
        return self.writers[collection.name]

    def add(self, record: dict[str, Any]) -> None:
        self.due[record["_id"]] = {k: record.get(k) for k in ("_id", "version", "rollup_pending", "rollup_gen")}

    async def flush(self) -> None:
        """Settle what is due, except cases being filed now (the next time: their filing leaves them due)."""
        due = {k: v for k, v in self.due.items() if k not in self.filing}
        for k in due:
            del self.due[k]
        self.settling, self.settled = set(due), asyncio.Event()
        try:
            await settle(self.store, list(due.values()))
        except BaseException:
            for k, v in due.items():  # tried again next time, unless a later filing of the case replaced it
                self.due.setdefault(k, v)
            raise
        finally:
            self.settling = set()
            self.settled.set()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self.flush_logged()

    async def flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - the database away: kept, and tried again
            log.warning("rollup settling failed (%s: %s); retrying", type(exc).__name__, exc)


async def remember_household(db: Any, event: Envelope[ComplaintReceived]) -> None:
    """Caller look-up by phone (phone intake): the newest complaint's name, unit and estate."""
    key = phone_key(event.payload.complainant.phone)
    if len(key) < 7:
        return
    received = event.payload.received_at
    try:
        await queries.households(db).update_one(
            {"_id": f"{event.group_id}:{key}", "$or": [{"received_at": {"$lte": received}},
                                                       {"received_at": {"$exists": False}}]},
            {"$set": {"estate_id": event.estate_id, "complainant": event.payload.complainant.model_dump(),
                      "received_at": received}, "$addToSet": {"case_ids": event.complaint_id}},
            upsert=True)
    except DuplicateKeyError:  # a newer complaint is already on file: only add this case to the household
        await queries.households(db).update_one({"_id": f"{event.group_id}:{key}"},
                                                {"$addToSet": {"case_ids": event.complaint_id}})


async def import_history(event: Envelope[HistoryImported], *, store: AggregateStore,
                         settler: Settler | None = None) -> None:
    """Past cases from a previous system: each contained event is filed as if it had arrived (idempotent),
    a case's events in one write."""
    cases: dict[str, list[Envelope[Any]]] = {}
    for raw in event.payload.events:
        try:
            inner = parse_obj(raw)
        except BadMessage as exc:
            raise BadMessage(f"imported event {raw.get('event_id')!r}: {exc}") from exc
        if (inner.group_id, inner.estate_id) != (event.group_id, event.estate_id):
            raise BadMessage(f"imported event {inner.event_id} belongs to another group or estate")
        cases.setdefault(inner.complaint_id, []).append(inner)
    for events in cases.values():
        await file_events(events, store=store, settler=settler)


def _parse_dates(payload: dict[str, Any]) -> dict[str, Any]:
    """Keep due times and timestamps as real dates so they sort and filter in MongoDB."""
    out: dict[str, Any] = {}
    for k, v in payload.items():
        if isinstance(v, dict):
            out[k] = _parse_dates(v)
        elif isinstance(v, str) and (k.endswith("_at") or k.endswith("_due")):
            try:
                parsed = datetime.fromisoformat(v)
                out[k] = ms(parsed.astimezone(UTC)) if parsed.tzinfo else ms(parsed)
            except ValueError:
                out[k] = v
        else:
            out[k] = v
    return out



async def chain_legacy_records(store: AggregateStore) -> int:
    """Records filed before per-event hashes get their chain now: tamper evidence runs from this moment on."""
    from services.archive.retention import rechained

    done = 0
    db = store.collection.database
    async for row in store.collection.find({"chain_version": {"$ne": CHAIN_VERSION}}, {"_id": 1}):
        doc = await store.get(row["_id"])
        if doc is None or doc.get("chain_version") == CHAIN_VERSION:
            continue
        events = rechained(loaded_events(doc.get("events", [])))
        record = record_of(events)
        r = await store.collection.update_one({"_id": doc["_id"], "version": doc["version"]}, {
            "$set": {"events": stored_events(events), **record, "chain_version": CHAIN_VERSION,
                     "chained_at": datetime.now(UTC)},
            "$inc": {"version": 1}})
        if r.matched_count:
            await queries.ledger(db).update_one({"_id": doc["_id"]}, {"$set": {
                "head": record["chain_head"], "group_id": doc.get("group_id"), "updated_at": datetime.now(UTC)}},
                upsert=True)
            done += 1
    return done
