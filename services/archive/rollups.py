"""Rollups for periodic analysis (总结评价), kept up to date incrementally.

Each case contributes counters to one rollup document: its group, estate and the local day it was received
(a cohort: a month's report describes the complaints received in that month, however long they took), and one
of SHARDS parts of that day, chosen by the case id. When a case changes, the difference between its new and its
previous contribution is `$inc`-ed into that document, guarded by a marker so that a retry after a crash never
counts twice. The analysis sums every document of a day, whatever the part.

Why parts: a document keeps its last MARKERS_KEPT markers, and FerretDB v1 reads and rewrites a document whole
on every update: a busy estate's day (a burst of calls about a burst pipe) made each of its complaints' rollup
updates read and write thousands of markers. Split in SHARDS, each part has a SHARDS-th of them (docs/adr/0018).

Times are kept as histograms, so percentiles are estimates within a bucket (linear interpolation).
"""

from __future__ import annotations

import contextlib
import re
import zlib
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from shared.workcal import LOCAL_TZ

RESPOND_EDGES = [5, 15, 30, 60, 120, 240, 480, 1440, 2880, 7200, 14400]  # minutes
RESOLVE_EDGES = [1, 2, 4, 8, 24, 48, 72, 120, 168, 336, 720]  # hours
SATISFIED = ("very_satisfied", "satisfied", "fairly_satisfied")  # 满意率 counts these three
MARKERS_KEPT = 1000  # per part: SHARDS × this of an estate's day (was 5,000 in one document)
SHARDS = 8  # parts of an estate's day; a day with fewer cases than this has fewer documents
_BUILDING = re.compile(r"(\d{1,3})\s*(?:栋|幢|号楼|座)")


def rollups(db: AsyncDatabase):
    return db["rollups"]


def building_of(record: dict[str, Any]) -> str:
    for text in ((record.get("complainant") or {}).get("unit", ""), record.get("unit_hint") or "",
                 record.get("text", "")):
        m = _BUILDING.search(text or "")
        if m:
            return f"{int(m.group(1))}栋"
    return ""


def _bucket(value: float, edges: list[int]) -> str:
    for i, edge in enumerate(edges):
        if value <= edge:
            return f"b{i}"
    return f"b{len(edges)}"


def _first(events: list[dict[str, Any]], kind: str, **match: Any) -> dict[str, Any] | None:
    return next((e for e in events if e["type"] == kind and all(e["payload"].get(k) == v
                                                                   for k, v in match.items())), None)


def rollup_id(record: dict[str, Any]) -> str | None:
    """`group:estate:day:part`; the part is fixed by the case id (crc32, the same in every process)."""
    received = record.get("received_at")
    if not isinstance(received, datetime) or not record.get("estate_id"):
        return None
    part = zlib.crc32(str(record.get("_id", "")).encode()) % SHARDS
    return f"{record['group_id']}:{record['estate_id']}:{received.astimezone(LOCAL_TZ).date().isoformat()}:{part}"


def same_day(a: str, b: str) -> bool:
    """Two rollup ids of one estate's day (a record filed before the parts holds the day's id without one)."""
    return a.split(":")[:3] == b.split(":")[:3]


def contribution(record: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The counters this case adds to its rollup document (nested: {'category': {'service': 1}, ...})."""
    if rollup_id(record) is None:
        return {}
    c: dict[str, Any] = {"received": 1, "channel": {record.get("channel", "unknown"): 1}}
    if record.get("category"):
        c["category"] = {record["category"]: 1}
        c["subcategory"] = {record["subcategory"]: 1}
        c["severity"] = {record["severity"]: 1}
        c["emergency"] = int(record["severity"] == "emergency")
        c["repeat"] = int(record.get("link_kind") == "repeat")
    building = building_of(record)
    if building:
        c["building"] = {building: 1}
    received: datetime = record["received_at"]
    assigned = _first(events, "ComplaintAssigned")
    resolved = _first(events, "ComplaintResolved")
    responded = [e["at"] for e in (_first(events, "ProgressRecorded", step="acknowledge"),
                                   _first(events, "ProgressRecorded", step="first_response"), resolved) if e]
    if responded:
        c["respond"] = {_bucket((min(responded) - received).total_seconds() / 60, RESPOND_EDGES): 1}
    if resolved:
        c["resolved"] = 1
        c["resolve"] = {_bucket((resolved["at"] - received).total_seconds() / 3600, RESOLVE_EDGES): 1}
        due = ((assigned or {}).get("payload", {}).get("sla") or {}).get("resolve_due")
        if isinstance(due, datetime):
            c["sla_met" if resolved["at"] <= due else "sla_breached"] = 1
    if any(e["type"] == "ComplaintReopened" for e in events):
        c["reopened"] = 1
    reached = [e for e in events if e["type"] == "FollowUpRecorded" and e["payload"].get("reached")]
    if reached:
        level = reached[-1]["payload"].get("satisfaction")
        c["surveyed"] = 1
        c["satisfaction"] = {level: 1}
        c["satisfied"] = int(level in SATISFIED)
    if record.get("status") == "closed":
        c["closed"] = 1
        c["unreachable"] = int(record.get("outcome") == "unreachable")
    return {k: v for k, v in c.items() if v}


def flatten(nested: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in nested.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def delta(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, float]:
    a, b = flatten(old or {}), flatten(new)
    return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b) if b.get(k, 0) != a.get(k, 0)}


async def apply_pending(db: AsyncDatabase, pending: dict[str, Any]) -> None:
    """Add one stored delta to its rollup document, once: its marker is remembered there."""
    if not flatten(pending["delta"]):
        return
    with contextlib.suppress(DuplicateKeyError):  # the marker is there: already counted
        await rollups(db).update_one(*_counting([pending]), upsert=True)


def _counting(items: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filter and update adding `items` (deltas of one rollup document) to it, all or none: the filter
    matches only while none of their markers is there, and the update remembers them all."""
    doc_id = items[0]["rollup_id"]
    group_id, estate_id, day = doc_id.split(":")[:3]
    inc: dict[str, float] = {}
    for item in items:
        for k, v in flatten(item["delta"]).items():
            inc[k] = inc.get(k, 0) + v
    markers = [item["marker"] for item in items]
    update: dict[str, Any] = {"$set": {"group_id": group_id, "estate_id": estate_id, "day": day, "month": day[:7]},
                              "$push": {"applied": {"$each": markers, "$slice": -MARKERS_KEPT}}}
    if any(inc.values()):  # deltas that cancel out still leave their markers (one of them may be counted)
        update["$inc"] = {k: v for k, v in inc.items() if v}
    return {"_id": doc_id, "applied": ({"$ne": markers[0]} if len(markers) == 1 else {"$nin": markers})}, update


async def apply_many(db: AsyncDatabase, pending: list[dict[str, Any]]) -> int:
    """Add many stored deltas to their rollup documents, each once, in one command: the deltas of one document
    summed into one update, all or none. A document that already holds one of its deltas' markers (a retry after
    a crash) refuses its sum (the upsert meets its own `_id`); then every delta is added one by one, each
    skipped where counted. One by one for all, not only the refused: FerretDB v1 stops an unordered command at
    its first error and names the wrong statement (ADR 22). The command is sent as such (not `bulk_write`,
    which cannot read FerretDB's answer to an error). Returns how many rollup documents were written."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in {i["marker"]: i for i in pending if flatten(i["delta"])}.values():  # each marker once
        groups.setdefault(item["rollup_id"], []).append(item)
    if not groups:
        return 0
    updates = [{"q": q, "u": u, "upsert": True} for q, u in map(_counting, groups.values())]
    reply = await db.command({"update": rollups(db).name, "updates": updates, "ordered": True})
    errors = reply.get("writeErrors") or []
    if any(e.get("code") != 11000 for e in errors):
        raise OperationFailure(f"rollups not counted: {errors}", details=reply)
    if errors:
        for items in groups.values():
            for item in items:
                await apply_pending(db, item)
    return len(groups)


def percentile(hist: dict[str, float], edges: list[int], q: float) -> float | None:
    total = sum(hist.values())
    if total <= 0:
        return None
    target, seen = q * total, 0.0
    for i in range(len(edges) + 1):
        n = hist.get(f"b{i}", 0)
        if n and seen + n >= target:
            lo = edges[i - 1] if i > 0 else 0
            hi = edges[i] if i < len(edges) else edges[-1] * 2
            return round(lo + (hi - lo) * (target - seen) / n, 1)
        seen += n
    return float(edges[-1])
