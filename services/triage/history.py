"""Recent complaints per estate in MongoDB, for linking repeats and incidents across restarts and instances."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.triage.linking import History, Link, Seen
from shared.lease import periodic

log = logging.getLogger(__name__)

REPEAT_DAYS = 30
INCIDENT_MINUTES = 48 * 60
RECENT_LIMIT = 500  # an estate's latest complaints (incidents happen within hours); households are looked up apart
READ_BATCH = 16  # journal keys asked for in one read (each an index probe: most reads find one or two new)
GAP_SECONDS = 30.0  # a number taken by a writer that never wrote its entry (it crashed) is given up after this
CACHED_ESTATES = 2_000  # estates whose incident window this process keeps (least recently used go first)
HOUSEHOLD_KEPT = 20  # a household's latest complaints kept for its repeats
JOURNAL_DAYS = 5  # journal entries of complaints older than this (by their day) are pruned
FAR_BEHIND = 4 * READ_BATCH  # a window this many entries behind is read afresh from the estate's days


def household_key(group_id: str, estate_id: str, name: str, value: str) -> str:
    """A unit's or phone's key: hashed, so the key holds no phone number or address in the clear."""
    return f"{group_id}|{estate_id}|" + hashlib.sha256(f"{name}:{value}".encode()).hexdigest()[:24]


def stored_grams(value: str | list[str] | None) -> frozenset[str]:
    """A complaint's bigrams as kept: one space-separated string (a bigram holds no whitespace). A list of
    strings (versions before) costs FerretDB v1 a type entry per item on every read and write of the
    households' and journal's documents, about 40 % of their size."""
    if isinstance(value, str):
        return _split_grams(value)
    return frozenset(value or ())


@lru_cache(maxsize=8192)
def _split_grams(value: str) -> frozenset[str]:
    """Each load rebuilds the estate's window (up to RECENT_LIMIT complaints) from the same kept strings: split
    once (py-spy: 7 % of the triage's time in a busy estate's window was this split)."""
    return frozenset(value.split())


def minute(at: datetime) -> int:
    return int(at.timestamp() // 60)


def day(at: datetime) -> int:
    return int(at.timestamp() // 86400)


@dataclass
class _Window:
    """One estate's incident window as this process last read it: the complaints by id, and how far into the
    estate's journal it has read (every number up to `upto` is read or given up; `gaps` above it wait)."""

    since_day: int
    upto: int
    docs: dict[str, dict] = field(default_factory=dict)
    gaps: dict[int, float] = field(default_factory=dict)  # journal number -> when first found missing


class RecentComplaints:
    """The service's memory for linking: one small document per complaint (`collection`), and per estate a
    numbered journal of the same documents (`<collection>_journal`: a counter `group|estate` and entries
    `group|estate|n`). The incident window is kept in the process and brought up to date by reading only the
    journal entries numbered after the last read, by key: FerretDB v1 serves `_id` lookups from its index but
    decodes every other matching row, so reading an estate's whole day per complaint cost the square of its
    daily volume. Another instance's complaints arrive through the journal like this one's own. A household's
    latest complaints (by unit, by phone) are kept together too (`<collection>_households`, hashed keys), for
    its repeats over the month: read by key, where asking the complaints for the unit was a scan of them all."""

    def __init__(self, collection: AsyncCollection) -> None:
        self.collection = collection
        self.journal = collection.database[f"{collection.name}_journal"]
        self.households = collection.database[f"{collection.name}_households"]
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("group_id", 1), ("estate_id", 1), ("day", 1), ("at", 1)])
        if await self.households.find_one({}, {"_id": 1}) is None and \
                await self.collection.find_one({}, {"_id": 1}) is not None:
            # first start of this version: the households are built from the month the memory holds
            since = datetime.now(UTC) - timedelta(days=REPEAT_DAYS)
            async for doc in self.collection.find({}).sort("at", 1):
                if doc["at"] >= since:
                    await self._remember_household(doc)

    async def _remember_household(self, doc: dict) -> None:
        for name in ("unit", "phone"):
            if doc.get(name):
                await self.households.update_one(
                    {"_id": household_key(doc["group_id"], doc["estate_id"], name, doc[name])},
                    {"$push": {"items": {"$each": [doc], "$slice": -HOUSEHOLD_KEPT}}, "$max": {"day": doc["day"]}},
                    upsert=True)

    async def prune(self, now: datetime) -> dict[str, int]:
        """Forget what linking no longer looks at: complaints and households quiet for more than the repeat
        month, journal entries of complaints older than JOURNAL_DAYS. These filters are ranges FerretDB v1 does
        not push down, so this runs seldom (`prune_loop`); it keeps every other read's tables small."""
        today = day(now)
        month = today - REPEAT_DAYS - 1
        return {
            "recent": (await self.collection.delete_many({"day": {"$lt": month}})).deleted_count,
            "households": (await self.households.delete_many({"day": {"$lt": month}})).deleted_count,
            "journal": (await self.journal.delete_many({"doc.day": {"$lt": today - JOURNAL_DAYS}})).deleted_count,
        }

    async def load(self, group_id: str, estate_id: str, now: datetime, *, unit: str | None = None,
                   phone: str | None = None) -> History:
        """The estate's latest complaints of the incident window (48 h, by day), plus every one of the last
        30 days from the same unit or phone (a household's repeat may be older). Bounded whatever the volume,
        and every read is by key or an equality on indexed fields."""
        since = now - timedelta(days=REPEAT_DAYS)
        first_day = day(now - timedelta(minutes=INCIDENT_MINUTES))
        found = {i: doc for i, doc in (await self._window(group_id, estate_id, first_day)).items()
                 if first_day <= doc["day"] <= day(now)}
        if len(found) > RECENT_LIMIT:
            keep = sorted(found.values(), key=lambda doc: doc["at"], reverse=True)[:RECENT_LIMIT]
            found = {doc["_id"]: doc for doc in keep}
        keys = [household_key(group_id, estate_id, name, value) for name, value in (("unit", unit), ("phone", phone))
                if value]
        if keys:
            for entry in await self.households.find({"_id": {"$in": keys}}).to_list(None):
                for doc in entry.get("items", []):
                    if doc["at"] >= since:
                        found.setdefault(doc["_id"], doc)
        docs = found.values()
        chains: dict[str, int] = {}
        for d in docs:  # a chain's count: its latest report carries it, its first report is raised to it
            chains[d["root"]] = max(chains.get(d["root"], 1), d.get("reports", 1))
        missing = sorted({d["root"] for d in docs} - found.keys())
        if missing:
            for d in await self.collection.find({"_id": {"$in": missing}}, {"reports": 1}).to_list(None):
                chains[d["_id"]] = max(chains.get(d["_id"], 1), d.get("reports", 1))
        items = [Seen(d["_id"], d["estate_id"], d.get("building"), d.get("unit"), d.get("phone"), d["subcategory"],
                      stored_grams(d.get("grams")), d["root"], max(d.get("reports", 1), chains.get(d["root"], 1)),
                      d["minute"])
                 for d in sorted(docs, key=lambda d: d["minute"])]
        history = History(window=10_000, incident_window=INCIDENT_MINUTES, items=items)
        history.count = minute(now)
        return history

    async def _window(self, group_id: str, estate_id: str, first_day: int) -> dict[str, dict]:
        """The estate's complaints from `first_day` on, as this process knows them after reading what is new."""
        key = (group_id, estate_id)
        window = self._windows.get(key)
        if window is not None and first_day >= window.since_day and not await self._catch_up(group_id, estate_id,
                                                                                               window):
            window = None  # far behind (an estate quiet for long, entries pruned): its days are read afresh
        if window is None or first_day < window.since_day:
            # First sight of the estate (or an older complaint than the window holds): read its days whole,
            # after noting how far the journal went, so nothing written meanwhile is missed.
            upto = await self._counter(group_id, estate_id)
            window = _Window(since_day=first_day, upto=upto)
            for doc in await self._days(group_id, estate_id, first_day):
                window.docs[doc["_id"]] = doc
            if key in self._windows and first_day < self._windows[key].since_day:
                return window.docs  # an old complaint's window is not kept: the current one stays
        elif first_day > window.since_day:  # brought up to date above; days out of the window are let go
            window.since_day = first_day
            window.docs = {i: d for i, d in window.docs.items() if d["day"] >= first_day}
        if len(window.docs) > 2 * RECENT_LIMIT:
            keep = sorted(window.docs.values(), key=lambda doc: doc["at"], reverse=True)[:RECENT_LIMIT]
            window.docs = {doc["_id"]: doc for doc in keep}
        self._windows[key] = window
        self._windows.move_to_end(key)
        while len(self._windows) > CACHED_ESTATES:
            self._windows.popitem(last=False)
        return window.docs

    async def _days(self, group_id: str, estate_id: str, first_day: int) -> list[dict]:
        docs: list[dict] = []
        for d in range(first_day, first_day + INCIDENT_MINUTES // 1440 + 2):
            docs += await self.collection.find({"group_id": group_id, "estate_id": estate_id, "day": d}) \
                .sort("at", -1).limit(RECENT_LIMIT).to_list(None)
        return docs

    async def _counter(self, group_id: str, estate_id: str) -> int:
        doc = await self.journal.find_one({"_id": f"{group_id}|{estate_id}"})
        return doc["n"] if doc else 0

    async def _catch_up(self, group_id: str, estate_id: str, window: _Window) -> bool:
        """Read the journal entries numbered after `upto` (and the gaps still waited for), by key, in one read
        when few are new: the counter is asked for in the same read. False, having read nothing, when more
        than FAR_BEHIND are new: reading the estate's days is cheaper then, and no pruned entry is waited for."""
        prefix = f"{group_id}|{estate_id}"
        wanted = sorted(window.gaps) + list(range(window.upto + 1, window.upto + 1 + READ_BATCH))
        newest: int | None = None
        while True:
            got = {d["_id"]: d for d in await self.journal.find(
                {"_id": {"$in": [prefix] + [f"{prefix}|{n}" for n in wanted]}}).to_list(None)}
            if newest is None:
                newest = got[prefix]["n"] if prefix in got else 0
                if newest - window.upto > FAR_BEHIND:
                    return False
            clock = time.monotonic()
            for n in wanted:
                entry = got.get(f"{prefix}|{n}")
                if entry is not None:
                    window.gaps.pop(n, None)
                    doc = entry["doc"]
                    if doc["day"] >= window.since_day:
                        window.docs[doc["_id"]] = doc
                elif n <= newest and clock - window.gaps.setdefault(n, clock) > GAP_SECONDS:
                    del window.gaps[n]  # taken but never written (its writer stopped): given up
            window.upto = max(window.upto, min(newest, wanted[-1]))
            if window.upto >= newest:
                return True
            wanted = list(range(window.upto + 1, window.upto + 1 + READ_BATCH))

    async def save(self, group_id: str, seen: Seen, link: Link | None, at: datetime) -> None:
        doc = {"_id": seen.id, "group_id": group_id, "estate_id": seen.estate, "building": seen.building,
               "unit": seen.unit, "phone": seen.phone, "subcategory": seen.subcategory,
               "grams": " ".join(sorted(seen.grams)),
               "root": seen.root, "reports": seen.reports, "minute": seen.index, "at": at.astimezone(UTC),
               "day": day(at)}
        prefix = f"{group_id}|{seen.estate}"
        counter = await self.journal.find_one_and_update({"_id": prefix}, {"$inc": {"n": 1}}, upsert=True,
                                                         return_document=ReturnDocument.AFTER)
        doc["seq"] = counter["n"]
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:  # saved before: journaled too, unless that try stopped in between
            kept = await self.collection.find_one({"_id": seen.id})
            if kept is None or "seq" not in kept or await self.journal.find_one(
                    {"_id": f"{prefix}|{kept['seq']}"}, {"_id": 1}):
                return  # the number just taken stays a gap that readers give up after GAP_SECONDS
            doc = kept
        with contextlib.suppress(DuplicateKeyError):  # another instance repaired it first
            await self.journal.insert_one({"_id": f"{prefix}|{doc['seq']}", "doc": doc})
        await self._remember_household(doc)  # (again after a stop in between: read once, by id)
        if link is not None:  # one write on the chain's first report, not one per report (a busy incident)
            await self.collection.update_one({"_id": link.root}, {"$max": {"reports": link.reports}})



def prune_loop(recent: RecentComplaints, every_hours: float):
    """Prune the linking memory at start and every `every_hours` (on the one instance holding the lease)."""
    async def step() -> None:
        done = await recent.prune(datetime.now(UTC))
        if any(done.values()):
            log.info("linking memory pruned: %s", done)

    return periodic("pruning the linking memory", step, every_hours * 3600)
