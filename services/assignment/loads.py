"""Open cases per handler, kept as one small document per assigned case (`loads`), beside the case documents.

Counting from the cases themselves (an aggregation over every open case of the estate) made each assignment
decode every open case document on FerretDB v1, whole (timelines, clocks, history): the benchmark's cost per
complaint grew with every case left open. A `loads` document is `{_id: complaint id, estate_id, staff_id}`,
written when a case becomes assigned or changes hands and removed when it leaves `assigned`; counting an
estate's reads only these. It is a fact per case, not a counter, so it cannot drift by double counting: the
write follows the case write in the same handler, a crash in between is redelivered (the offset is committed
after the handler) and a redelivery re-syncs from the stored case; the collection is rebuilt from the cases
when it is missing (first start of this version).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.aggregate import AggregateStore, Decide, Decision
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings


def holder(case: dict[str, Any] | None) -> str | None:
    """The handler a case counts against, or None when it is not open with someone."""
    if not case or case.get("status") != "assigned":
        return None
    return (case.get("assignee") or {}).get("staff_id")


class LoadBook:
    def __init__(self, db: AsyncDatabase) -> None:
        self.loads: AsyncCollection = db["loads"]
        self.cases: AsyncCollection = db["cases"]

    async def ensure(self) -> None:
        await self.loads.create_index([("estate_id", 1), ("staff_id", 1)])
        if await self.loads.find_one({}, {"_id": 1}) is None and \
                await self.cases.find_one({"status": "assigned"}, {"_id": 1}) is not None:
            async for case in self.cases.find({"status": "assigned"}, {"estate_id": 1, "status": 1, "assignee": 1}):
                await self.sync(case["_id"], case)

    async def sync(self, case_id: str, case: dict[str, Any]) -> None:
        staff = holder(case)
        if staff is None:
            await self.loads.delete_one({"_id": case_id})
        else:
            await self.loads.replace_one({"_id": case_id}, {"_id": case_id, "estate_id": case["estate_id"],
                                                            "staff_id": staff}, upsert=True)

    async def counts(self, estate_id: str) -> dict[str, int]:
        out: dict[str, int] = {}
        async for row in self.loads.find({"estate_id": estate_id}, {"staff_id": 1}):
            out[row["staff_id"]] = out.get(row["staff_id"], 0) + 1
        return out


class CaseStore(AggregateStore):
    """The assignment service's case store: every applied change that moves a case's holder updates `loads`."""

    def __init__(self, collection: AsyncCollection, relay: OutboxRelay, settings: ServiceSettings,
                 book: LoadBook) -> None:
        super().__init__(collection, relay, settings)
        self.book = book

    async def apply(self, doc_id: str, message_id: str, decide: Decide, attempts: int = 20) -> bool:
        seen: dict[str, Any] = {}

        def watched(doc: dict[str, Any] | None) -> Decision:
            decision = decide(doc)
            seen["before"], seen["decision"] = doc, decision
            return decision

        applied = await super().apply(doc_id, message_id, watched, attempts)
        if applied:
            before = seen["before"]
            after = {**(before or {}), **seen["decision"].changes}
            if holder(before) != holder(after):
                await self.book.sync(doc_id, after)
        elif (case := await self.get(doc_id)) is not None:  # a redelivery: the first try may have died before
            await self.book.sync(doc_id, case)
        return applied
