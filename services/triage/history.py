"""Recent complaints per estate in MongoDB, for linking repeats and incidents across restarts and instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.triage.linking import History, Link, Seen

REPEAT_DAYS = 30
INCIDENT_MINUTES = 48 * 60
RECENT_LIMIT = 500  # an estate's latest complaints (incidents happen within hours); households are looked up apart


def minute(at: datetime) -> int:
    return int(at.timestamp() // 60)


class RecentComplaints:
    """The service's memory for linking: one small document per complaint, read per estate."""

    def __init__(self, collection: AsyncCollection) -> None:
        self.collection = collection

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("group_id", 1), ("estate_id", 1), ("at", 1)])
        await self.collection.create_index([("group_id", 1), ("estate_id", 1), ("unit", 1)])
        await self.collection.create_index([("group_id", 1), ("estate_id", 1), ("phone", 1)])

    async def load(self, group_id: str, estate_id: str, now: datetime, *, unit: str | None = None,
                   phone: str | None = None) -> History:
        """The estate's latest complaints of the last 30 days, plus every one of them from the same unit or
        phone (a household's repeat may be older than the latest few hundred). Bounded, whatever the volume."""
        since = now - timedelta(days=REPEAT_DAYS)
        base = {"group_id": group_id, "estate_id": estate_id, "at": {"$gte": since}}
        found = {d["_id"]: d for d in await self.collection.find(base).sort("at", -1).limit(RECENT_LIMIT)
                 .to_list(None)}
        household = [{k: v} for k, v in (("unit", unit), ("phone", phone)) if v]
        if household:
            for d in await self.collection.find({**base, "$or": household}).limit(RECENT_LIMIT).to_list(None):
                found.setdefault(d["_id"], d)
        docs = found.values()
        items = [Seen(d["_id"], d["estate_id"], d.get("building"), d.get("unit"), d.get("phone"), d["subcategory"],
                      frozenset(d.get("grams", [])), d["root"], d.get("reports", 1), d["minute"])
                 for d in sorted(docs, key=lambda d: d["minute"])]
        history = History(window=10_000, incident_window=INCIDENT_MINUTES, items=items)
        history.count = minute(now)
        return history

    async def save(self, group_id: str, seen: Seen, link: Link | None, at: datetime) -> None:
        doc = {"_id": seen.id, "group_id": group_id, "estate_id": seen.estate, "building": seen.building,
               "unit": seen.unit, "phone": seen.phone, "subcategory": seen.subcategory, "grams": sorted(seen.grams),
               "root": seen.root, "reports": seen.reports, "minute": seen.index, "at": at.astimezone(UTC)}
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return
        if link is not None:
            await self.collection.update_many({"root": link.root}, {"$set": {"reports": link.reports}})
