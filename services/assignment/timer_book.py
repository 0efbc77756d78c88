"""Which cases have a timer falling due in each minute (`timer_slots`), kept with the case writes.

The timer loop reads the minutes since its last tick, every few seconds. Asking the cases for `timer_slot: s`
is an equality FerretDB v1 pushes down, but as JSON containment, which PostgreSQL's B-tree index on the field
cannot serve: every tick was a scan of every case the service has ever held (823 scans in one pipeline
benchmark run, growing with the archive). A slot document `{_id: "s<minute>", cases: [ids]}` is read by key
instead. An entry is added when a case's slot is set (and again on a redelivery); it is never removed: the
sweep reads the case and fires only a timer that is due, so an entry whose case has moved on costs one read.
Slot documents of minutes long past are deleted by the sweep.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


def slot_key(slot: int) -> str:
    return f"s{slot}"


class TimerBook:
    def __init__(self, collection: AsyncCollection) -> None:
        self.slots = collection

    async def add(self, case_id: str, slot: int) -> None:
        await self.slots.update_one({"_id": slot_key(slot)},
                                    {"$addToSet": {"cases": case_id}, "$setOnInsert": {"slot": slot}}, upsert=True)

    async def sync(self, case_id: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        slot = after.get("timer_slot")
        if slot is not None and slot != (before or {}).get("timer_slot"):
            await self.add(case_id, slot)

    async def cases_in(self, slots: range) -> list[str]:
        docs = await self.slots.find({"_id": {"$in": [slot_key(s) for s in slots]}}).to_list(None)
        return sorted({cid for doc in docs for cid in doc.get("cases", [])})

    async def forget_before(self, slot: int, keep: int = 60) -> None:
        """Slot documents older than `keep` minutes before `slot` go (their timers fired or moved on; the whole
        sweep, at start and then hourly, finds any case left behind). The collection holds about `keep`
        documents, so this filter, which FerretDB does not push down, reads few."""
        await self.slots.delete_many({"slot": {"$lt": slot - keep}})
