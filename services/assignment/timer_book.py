"""Which cases have a timer falling due in each minute (`timer_slots`), kept with the case writes.

The timer loop reads the minutes since its last tick, every few seconds. Asking the cases for `timer_slot: s`
is an equality FerretDB v1 pushes down, but as JSON containment, which PostgreSQL's B-tree index on the field
cannot serve: every tick was a scan of every case the service has ever held (823 scans in one pipeline
benchmark run, growing with the archive). A slot document `{_id: "s<minute>", cases: [ids]}` is read by key
instead. An entry is added when a case's slot is set (and again on a redelivery); it is never removed: the
sweep reads the case and fires only a timer that is due, so an entry whose case has moved on costs one read.
Slot documents of minutes an hour past are deleted by key as the sweep moves on (any left by a restart, by
the hourly whole sweep).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


def slot_key(slot: int) -> str:
    return f"s{slot}"


class TimerBook:
    def __init__(self, collection: AsyncCollection) -> None:
        self.slots = collection
        self._forgotten: int | None = None  # minutes before this one are forgotten

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
        """Slot documents of the minutes from the last one forgotten up to `keep` minutes before `slot` go, by
        key (their timers fired or moved on; the whole sweep, at start and then hourly, finds any case left
        behind). The collection also holds every minute ahead that has a timer, so nothing here scans it."""
        upto = slot - keep
        start = max(self._forgotten, upto - 24 * 60) if self._forgotten is not None else upto - 10
        if start < upto:
            await self.slots.delete_many({"_id": {"$in": [slot_key(s) for s in range(start, upto)]}})
        self._forgotten = max(upto, self._forgotten or upto)

    async def forget_all_before(self, slot: int, keep: int = 60) -> None:
        """Every slot document older than that, by a scan of them all: with the whole sweep, hourly."""
        await self.slots.delete_many({"slot": {"$lt": slot - keep}})
