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


def day(at: datetime) -> int:
    return int(at.timestamp() // 86400)


class RecentComplaints:
    """The service's memory for linking: one small document per complaint, read per estate."""

    def __init__(self, collection: AsyncCollection) -> None:
        self.collection = collection

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("group_id", 1), ("estate_id", 1), ("day", 1), ("at", 1)])
        await self.collection.create_index([("group_id", 1), ("estate_id", 1), ("unit", 1)])
        await self.collection.create_index([("group_id", 1), ("estate_id", 1), ("phone", 1)])

    async def load(self, group_id: str, estate_id: str, now: datetime, *, unit: str | None = None,
                   phone: str | None = None) -> History:
        """The estate's latest complaints of the incident window (48 h, by day), plus every one of the last
        30 days from the same unit or phone (a household's repeat may be older). Bounded whatever the volume,
        and every read is an equality on indexed fields (FerretDB v1 filters anything else in its own code
        over the whole collection)."""
        since = now - timedelta(days=REPEAT_DAYS)
        estate = {"group_id": group_id, "estate_id": estate_id}
        found: dict[str, dict] = {}
        for d in range(day(now - timedelta(minutes=INCIDENT_MINUTES)), day(now) + 1):
            for doc in await self.collection.find({**estate, "day": d}).sort("at", -1).limit(RECENT_LIMIT) \
                    .to_list(None):
                found[doc["_id"]] = doc
        if len(found) > RECENT_LIMIT:
            keep = sorted(found.values(), key=lambda doc: doc["at"], reverse=True)[:RECENT_LIMIT]
            found = {doc["_id"]: doc for doc in keep}
        for field, value in (("unit", unit), ("phone", phone)):
            if value:
                for doc in await self.collection.find({**estate, field: value}).sort("at", -1) \
                        .limit(RECENT_LIMIT).to_list(None):
                    if doc["at"] >= since:
                        found.setdefault(doc["_id"], doc)
        docs = found.values()
        chains = {d["_id"]: d.get("reports", 1) for d in docs}  # a chain's count is kept on its first report
        missing = sorted({d["root"] for d in docs} - chains.keys())
        if missing:
            chains |= {d["_id"]: d.get("reports", 1) for d in await self.collection.find(
                {"_id": {"$in": missing}}, {"reports": 1}).to_list(None)}
        items = [Seen(d["_id"], d["estate_id"], d.get("building"), d.get("unit"), d.get("phone"), d["subcategory"],
                      frozenset(d.get("grams", [])), d["root"], max(d.get("reports", 1), chains.get(d["root"], 1)),
                      d["minute"])
                 for d in sorted(docs, key=lambda d: d["minute"])]
        history = History(window=10_000, incident_window=INCIDENT_MINUTES, items=items)
        history.count = minute(now)
        return history

    async def save(self, group_id: str, seen: Seen, link: Link | None, at: datetime) -> None:
        doc = {"_id": seen.id, "group_id": group_id, "estate_id": seen.estate, "building": seen.building,
               "unit": seen.unit, "phone": seen.phone, "subcategory": seen.subcategory, "grams": sorted(seen.grams),
               "root": seen.root, "reports": seen.reports, "minute": seen.index, "at": at.astimezone(UTC),
               "day": day(at)}
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return
        if link is not None:  # one write on the chain's first report, not one per report (a busy incident)
            await self.collection.update_one({"_id": link.root}, {"$max": {"reports": link.reports}})
