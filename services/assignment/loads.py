"""Open cases per handler, kept as one small document per estate (`open_book`), beside the case documents.

Counting from the cases themselves (an aggregation over every open case of the estate) made each assignment
decode every open case document on FerretDB v1, whole (timelines, clocks, history): the benchmark's cost per
complaint grew with every case left open. Then one `loads` document per assigned case: each assignment still
read one row per open case of its estate (a third of every row the database returned in the pipeline benchmark,
FerretDB decoding each). Now an estate's open cases are one document, `{_id: estate id, open: {c<hash of case
id>: staff id}, waiting: {c<hash>: "<queued at>|<case id>"}}`: counting reads one row by key. Each entry is a
fact per case, set when a case becomes assigned or changes hands and unset when it leaves `assigned`, so it
cannot drift by double counting: the write follows the case write in the same handler, a crash in between is
redelivered (the offset is committed after the handler) and a redelivery re-syncs from the stored case; the
collection is rebuilt from the cases when it is missing (first start of this version; the per-case `loads`
collection of an older version is no longer read).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.assignment.timer_book import TimerBook
from shared.aggregate import UNREAD, AggregateStore, Decide, Decision
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings


def holder(case: dict[str, Any] | None) -> str | None:
    """The handler a case counts against, or None when it is not open with someone."""
    if not case or case.get("status") != "assigned":
        return None
    return (case.get("assignee") or {}).get("staff_id")


def entry(case_id: str) -> str:
    """A case's field in its estate's maps: `c` and 12 base32 characters of its id's SHA-1 (60 bits: two open
    cases of one estate share a field with odds below 1e-11 at 10,000 open cases). Short and safe in a field path
    whatever the id holds; the id itself stays in the waiting entry's value. FerretDB v1 keeps every field name
    twice (its type schema and the value), so the name's length is most of an entry's cost."""
    return "c" + base64.b32encode(hashlib.sha1(case_id.encode()).digest()).decode()[:12].lower()


def waiting_value(case_id: str, since: Any) -> str:
    """`<when queued, UTC ISO>|<case id>`: one string (no nested document to describe), sorting as the queue."""
    at = since.astimezone(UTC).isoformat(timespec="milliseconds") if isinstance(since, datetime) else str(since)
    return f"{at}|{case_id}"


def queued(case: dict[str, Any] | None) -> Any:
    """When a case joined its estate's queue of cases waiting for someone with room, or None."""
    if not case or case.get("status") != "waiting":
        return None
    return case.get("queued_at") or case.get("updated_at") or ""


class LoadBook:
    """Per estate, one document: `open` (case -> handler) and `waiting` (case -> when it was queued|case id).

    `open_book` replaced `open_loads` (long field names, a nested document per waiting case: 108 KB for 600
    open cases, read at every assignment and rewritten at every change); it is built from the cases at the first
    start and the old collection dropped."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.loads: AsyncCollection = db["open_book"]
        self.cases: AsyncCollection = db["cases"]
        self.legacy: AsyncCollection = db["open_loads"]

    async def ensure(self) -> None:
        if await self.loads.find_one({}, {"_id": 1}) is not None:
            return
        await self.legacy.drop()
        for status in ("assigned", "waiting"):
            if await self.cases.find_one({"status": status}, {"_id": 1}) is not None:
                async for case in self.cases.find({"status": status},
                                                  {"estate_id": 1, "status": 1, "assignee": 1, "queued_at": 1}):
                    await self.sync(case["_id"], case)

    async def sync(self, case_id: str, case: dict[str, Any]) -> None:
        estate, staff, since = case.get("estate_id"), holder(case), queued(case)
        if not estate:
            return
        key = entry(case_id)
        put: dict[str, Any] = {}
        drop: dict[str, str] = {}
        if staff is None:
            drop[f"open.{key}"] = ""
        else:
            put[f"open.{key}"] = staff
        if since is None:
            drop[f"waiting.{key}"] = ""
        else:
            put[f"waiting.{key}"] = waiting_value(case_id, since)
        await self.loads.update_one({"_id": estate}, {**({"$set": put} if put else {}),
                                                      **({"$unset": drop} if drop else {})}, upsert=bool(put))

    async def counts(self, estate_id: str) -> dict[str, int]:
        doc = await self.loads.find_one({"_id": estate_id})
        return dict(Counter((doc or {}).get("open", {}).values()))

    async def waiting(self, estate_id: str, limit: int) -> list[str]:
        """The estate's waiting cases, oldest first (none: no read of the cases at all)."""
        doc = await self.loads.find_one({"_id": estate_id}, {"waiting": 1})
        rows = sorted(w.partition("|")[::2] for w in (doc or {}).get("waiting", {}).values())
        return [case_id for _, case_id in rows[:limit]]


class CaseStore(AggregateStore):
    """The assignment service's case store: every applied change that moves a case's holder, or puts it in or
    takes it out of the queue, updates its estate's `open_book`, and one that sets a timer's minute adds the
    case to that minute's `timer_slots`."""

    def __init__(self, collection: AsyncCollection, relay: OutboxRelay, settings: ServiceSettings,
                 book: LoadBook, timers: TimerBook) -> None:
        super().__init__(collection, relay, settings)
        self.book = book
        self.timers = timers

    async def apply(self, doc_id: str, message_id: str, decide: Decide, attempts: int = 20, *,
                    known: Any = UNREAD, into: dict[str, Any] | None = None) -> bool:
        seen: dict[str, Any] = {}
        now: dict[str, Any] = {} if into is None else into

        def watched(doc: dict[str, Any] | None) -> Decision:
            decision = decide(doc)
            seen["before"], seen["decision"] = doc, decision
            return decision

        applied = await super().apply(doc_id, message_id, watched, attempts, known=known, into=now)
        if applied:
            before = seen["before"]
            after = {**(before or {}), **seen["decision"].changes}
            if holder(before) != holder(after) or queued(before) != queued(after):
                await self.book.sync(doc_id, after)
            await self.timers.sync(doc_id, before, after)
        elif now:  # a redelivery (the case as read): the first try may have died before
            await self.book.sync(doc_id, now)
            await self.timers.sync(doc_id, None, now)
        return applied
