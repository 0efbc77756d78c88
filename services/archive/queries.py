"""The archive's query module: the only way other services read case records (always within a scope).

Reads go to small documents: the slim `queue` view for lists (a page chosen among `queue_keys`, smaller
still: ADR 14) and `households` for caller look-ups; the full record (`cases`) is only read by id. FerretDB
decodes, sorts and pages in Go every document a query matches, so big documents must stay off the list path
(ADR 0004, 12, 14).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.archive.domain import phone_key
from services.archive.search import query_terms, recent_weeks, week_term
from shared.scope import Scope

log = logging.getLogger(__name__)
DETAIL_HIDE = {"events": 0, "processed": 0, "outbox": 0, "version": 0, "due_sort": 0, "terms": 0, "contrib": 0,
               "contrib_id": 0, "rollup_pending": 0, "rollup_due": 0,
               "rollup_gen": 0}
LIST_FIELDS = ("tracking_no", "group_id", "estate_id", "status", "category", "subcategory", "severity", "channel",
               "received_at", "next_due", "due_sort", "assignee", "complainant_masked", "round", "needs_review",
               "review_reason", "escalation_level", "paused", "phone_key", "terms", "callback")
LIST_HIDE = {"due_sort": 0, "terms": 0, "phone_key": 0, "changed_at": 0, "changed_slot": 0}
# What a queue page filters and sorts on, kept apart as a small document per case (`queue_keys`): a page is
# chosen there and only its rows are read from `queue`. FerretDB v1 sorts and pages in Go after decoding every
# matching document whole, so a region's page cost ~0.25 ms per KB of each open case's list entry (ADR 14).
KEY_FIELDS = ("group_id", "estate_id", "status", "category", "channel", "needs_review", "received_at", "due_sort")
_READY: set[tuple[str, str]] = set()  # (database, view) whose backfill is complete
_ASKED: dict[tuple[str, str], float] = {}  # (database, view) -> when it was last asked (monotonic)
SEARCH_ORDER = [("received_at", -1), ("_id", 1)]  # search results: newest first
SEARCH_WEEKS = 8  # a search reads week by week this far back; fewer matches than a page: all at once
CHANGE_SLOT_SECONDS = 10


def change_slot(at: datetime) -> int:
    """Which 10-second slot a change falls in: the live feed reads a slot by equality, which every
    MongoDB-wire server can filter on (FerretDB v1 does ranges in its own code over the whole collection)."""
    return int(at.timestamp()) // CHANGE_SLOT_SECONDS


def change_stamp(at: datetime) -> dict[str, Any]:
    return {"changed_at": at, "changed_slot": change_slot(at)}


def cases(db: AsyncDatabase):
    return db["cases"]


def queue(db: AsyncDatabase):
    return db["queue"]


def queue_keys(db: AsyncDatabase):
    return db["queue_keys"]


def households(db: AsyncDatabase):
    return db["households"]


def ledger(db: AsyncDatabase):
    """Each case's chain head, kept apart from the record so that rewriting a record alone is detected."""
    return db["ledger"]


def integrity_alerts(db: AsyncDatabase):
    """Differences between a stored record and its events found when filing (kept: the refold repairs them)."""
    return db["integrity_alerts"]


def communications(db: AsyncDatabase):
    return db["communications"]


async def ensure_indexes(db: AsyncDatabase) -> None:
    await cases(db).create_index([("tracking_no", 1)])
    await queue(db).create_index([("group_id", 1), ("estate_id", 1), ("status", 1), ("due_sort", 1)])
    await queue(db).create_index([("group_id", 1), ("due_sort", 1)])
    await queue(db).create_index([("terms", 1)])
    await queue(db).create_index([("phone_key", 1)])
    await queue(db).create_index([("changed_slot", 1), ("changed_at", 1)])  # the operator API's live feed
    await queue(db).create_index([("group_id", 1), ("status", 1), ("callback.due_at", 1)])
    await queue_keys(db).create_index([("group_id", 1), ("estate_id", 1), ("status", 1), ("due_sort", 1)])
    await queue_keys(db).create_index([("group_id", 1), ("due_sort", 1)])
    await queue_keys(db).create_index([("estate_status", 1)])
    await db["rollups"].create_index([("group_id", 1), ("day", 1)])
    await communications(db).create_index([("group_id", 1), ("at", -1)])
    await db["counterparts"].create_index([("group_id", 1), ("type", 1)])


def queue_entry(record: dict[str, Any]) -> dict[str, Any]:
    """The slim list view of a case record; its search terms with the week it was received in."""
    entry = {k: record[k] for k in LIST_FIELDS if k in record}
    if isinstance(record.get("received_at"), datetime):
        entry["terms"] = [*entry.get("terms", []), week_term(record["received_at"])]
    return entry


def key_entry(record: dict[str, Any]) -> dict[str, Any]:
    """What a queue page is chosen by: the filter and sort fields of the list view, and `estate_status`
    (`<estate>|<status>`), one indexed value for the commonest page: some estates' cases in one status."""
    keys = {"_id": record["_id"], **{k: record[k] for k in KEY_FIELDS if k in record}}
    keys["estate_status"] = f"{record.get('estate_id')}|{record.get('status')}"
    return keys


def _keys_filter(flt: dict[str, Any]) -> dict[str, Any]:
    """The page filter for `queue_keys`: estates and a status as `estate_status` values. On FerretDB each
    estate's cases in that status are one index lookup, instead of every case of the estates (closed ones
    too, a posting list growing with the archive) intersected with every case in the status."""
    estates, status = flt.get("estate_id"), flt.get("status")
    if estates is None or not isinstance(status, str):
        return flt
    ids = estates["$in"] if isinstance(estates, dict) else [estates]
    out = {k: v for k, v in flt.items() if k not in ("estate_id", "status")}
    out["estate_status"] = {"$in": [f"{e}|{status}" for e in ids]}
    return out


async def backfill_queue_keys(db: AsyncDatabase, batch: int = 2000) -> int:
    """The archive at start: `queue_keys` for the cases listed before it existed, once; then pages use it.
    Entries are inserted, never replaced, so one a filing wrote meanwhile (newer) is kept."""
    async def write(rows: list[dict[str, Any]]) -> int:
        return await _insert_new(queue_keys(db), [key_entry(row) for row in rows])

    return await _backfill(db, "queue_keys", {k: 1 for k in KEY_FIELDS}, write, batch)


async def backfill_search_weeks(db: AsyncDatabase, batch: int = 2000) -> int:
    """The archive at start: the week term on list entries written before it existed, once; then searches go
    week by week. Added (`$addToSet`) by key, a batch's cases of one week in one update."""
    async def write(rows: list[dict[str, Any]]) -> int:
        weeks: dict[str, list[Any]] = {}
        for row in rows:
            if isinstance(row.get("received_at"), datetime):
                weeks.setdefault(week_term(row["received_at"]), []).append(row["_id"])
        done = 0
        for week, ids in weeks.items():
            done += (await queue(db).update_many({"_id": {"$in": ids}},
                                                 {"$addToSet": {"terms": week}})).modified_count
        return done

    return await _backfill(db, "search_weeks", {"received_at": 1}, write, batch)


async def _backfill(db: AsyncDatabase, view: str, fields: dict[str, int],
                    write: Callable[[list[dict[str, Any]]], Awaitable[int]], batch: int) -> int:
    """Once per database: every list entry (these fields) through `write`, a batch at a time; then the view is
    marked ready. Returns how many entries were written."""
    if await db["views_meta"].find_one({"_id": view}) is not None:
        return 0
    done, rows = 0, []
    async for row in queue(db).find({}, fields):
        rows.append(row)
        if len(rows) >= batch:
            done += await write(rows)
            rows = []
    if rows:
        done += await write(rows)
    await _mark_ready(db, view, done)
    if done:
        log.info("%s backfilled for %d listed cases", view, done)
    return done


async def _mark_ready(db: AsyncDatabase, view: str, done: int) -> None:
    await db["views_meta"].update_one({"_id": view}, {"$set": {"ready": True, "at": datetime.now(UTC),
                                                               "backfilled": done}}, upsert=True)
    _READY.add((db.name, view))


async def _insert_new(coll: Any, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    try:
        return len((await coll.insert_many(rows, ordered=False)).inserted_ids)
    except BulkWriteError as exc:  # the ones a filing wrote first
        return exc.details.get("nInserted", 0)


async def count(coll: Any, flt: dict[str, Any]) -> int:
    """How many documents match: the `count` command, which FerretDB answers with PostgreSQL's count when every
    condition is pushed down (docs/adr/0015); `count_documents` is an aggregation FerretDB runs by decoding each."""
    return int((await coll.database.command("count", coll.name, query=flt))["n"])


async def keys_ready(db: AsyncDatabase) -> bool:
    """Whether pages can be chosen from `queue_keys`."""
    return await _ready(db, "queue_keys")


async def weeks_ready(db: AsyncDatabase) -> bool:
    """Whether every list entry carries its week term (searches go week by week)."""
    return await _ready(db, "search_weeks")


async def _ready(db: AsyncDatabase, view: str) -> bool:
    """Whether a view's backfill is complete (asked again at most once a minute until it is)."""
    key = (db.name, view)
    if key in _READY:
        return True
    if time.monotonic() - _ASKED.get(key, -math.inf) < 60:
        return False
    _ASKED[key] = time.monotonic()
    if await db["views_meta"].find_one({"_id": view, "ready": True}, {"_id": 1}) is None:
        return False
    _READY.add(key)
    return True


async def get_case(db: AsyncDatabase, scope: Scope, case_ref: str) -> dict[str, Any] | None:
    """One complete record by complaint id or tracking number; None when missing or outside the scope."""
    doc = await cases(db).find_one({"_id": case_ref, **scope.mongo_filter()}, DETAIL_HIDE)
    if doc is None and case_ref.startswith("TS"):
        doc = await cases(db).find_one({"tracking_no": case_ref, **scope.mongo_filter()}, DETAIL_HIDE)
    if doc is not None:
        doc["complaint_id"] = doc.pop("_id")
        ids = doc.pop("communication_ids", [])
        rows = await communications(db).find({"_id": {"$in": ids}}).to_list(None) if ids else []
        doc["communications"] = sorted((_masked_communication(c) for c in rows), key=lambda c: c["at"])
    return doc


async def find_household(db: AsyncDatabase, scope: Scope, phone: str) -> dict[str, Any] | None:
    """The household a phone number belongs to, as the archive last saw it (name, unit, estate, case count)."""
    key = phone_key(phone)
    if len(key) < 7:
        return None
    doc = await households(db).find_one({"_id": f"{scope.group_id}:{key}"})
    if doc is None or not scope.allows(scope.group_id, doc["estate_id"]):
        return None
    return {"estate_id": doc["estate_id"], "complainant": doc.get("complainant") or {},
            "cases": len(doc.get("case_ids", []))}


async def list_cases(db: AsyncDatabase, scope: Scope, *, estate_id: str | None = None, status: str | None = None,
                     needs_review: bool | None = None, channel: str | None = None, page: int = 1,
                     page_size: int = 20, category: str | None = None, q: str | None = None,
                     received_from: datetime | None = None, received_to: datetime | None = None,
                     complainant: str | None = None, via_keys: bool | None = None) -> dict[str, Any]:
    """The queue and the archive search: nearest deadline first, personal data masked.

    `q` is Chinese keywords (segmented, every word needed): a search lists newest first, and its `total` is
    exact only when `total_exact` (otherwise: at least that many, see `_search`). `complainant` is a phone
    number; dates bound the time the complaint was received. `via_keys` (benchmarks): False chooses the page
    from the list view itself, as before `queue_keys`; by default the keys are used once they are complete.
    """
    flt: dict[str, Any] = scope.mongo_filter()
    if category is not None:
        flt["category"] = category
    if received_from is not None or received_to is not None:
        flt["received_at"] = {k: v for k, v in (("$gte", received_from), ("$lt", received_to)) if v is not None}
    if complainant:
        key = phone_key(complainant)
        flt["phone_key"] = key if len(key) >= 7 else "-"
    if q:
        words = query_terms(q)
        if words:
            # each word, or (segmented differently) all of its characters; equalities only, so that the patched
            # FerretDB counts and pages a search in PostgreSQL (docs/adr/0015)
            flt["$and"] = [{"$or": [{"terms": w}, {"$and": [{"terms": c} for c in dict.fromkeys(w)]}]}
                           if len(w) > 1 else {"terms": w} for w in words]
            # every match holds the longest word or its first character: a top-level condition the terms index
            # serves on every server (FerretDB v1 itself pushes `$in` down, never `$and`/`$or`)
            longest = max(words, key=len)
            flt["terms"] = {"$in": list(dict.fromkeys([longest, longest[0]]))}
    if estate_id is not None:
        if not scope.allows(scope.group_id, estate_id):
            return {"items": [], "total": 0, "page": page, "page_size": page_size}
        flt["estate_id"] = estate_id
    if status is not None:
        flt["status"] = status
    if needs_review is not None:
        flt["needs_review"] = needs_review
    if channel is not None:
        flt["channel"] = channel
    order = [("due_sort", 1), ("received_at", 1), ("_id", 1)]
    exact = True
    if "$and" in flt:  # words to search for
        items, total, exact = await _search(db, flt, page, page_size, received_to)
    # the page is chosen among small documents, then only its rows are read
    elif not q and not complainant and via_keys is not False and await keys_ready(db):
        # the total and the page's ids from the small key documents (on FerretDB both are answered by PostgreSQL
        # when every condition is an equality or `$in`: docs/adr/0015), then only the page's rows
        kf = _keys_filter(flt)
        total = await count(queue_keys(db), kf)
        rows = await queue_keys(db).find(kf, {"_id": 1}).sort(order).skip((page - 1) * page_size).limit(
            page_size).to_list(None)
        ids = [r["_id"] for r in rows]
        found = {d["_id"]: d for d in await queue(db).find({"_id": {"$in": ids}}, LIST_HIDE).to_list(None)}
        items = [found[i] for i in ids if i in found]  # (one purged meanwhile is left out)
    else:
        total = await count(queue(db), flt)
        cursor = queue(db).find(flt, LIST_HIDE).sort(order)
        items = await cursor.skip((page - 1) * page_size).limit(page_size).to_list(None)
    for it in items:
        it["complaint_id"] = it.pop("_id")
        it["complainant"] = it.pop("complainant_masked", {})
    return {"items": items, "total": total, "total_exact": exact, "page": page, "page_size": page_size}


async def _search(db: AsyncDatabase, flt: dict[str, Any], page: int, page_size: int, until: datetime | None
                  ) -> tuple[list[dict[str, Any]], int, bool]:
    """A search's page, newest first: the words within one week at a time (each list entry carries the week
    it was received in), from the latest back, until the page is full. Its cost follows the matches of the
    weeks read, not of the whole archive, which for common words grows with every day kept: the total is then
    a lower bound (older weeks not counted). Words with fewer matches than a page over SEARCH_WEEKS weeks are
    rare, and all of their matches are read at once, counted exactly."""
    skip, items, total = (page - 1) * page_size, [], 0
    if await weeks_ready(db):
        for week in recent_weeks(until or datetime.now(UTC), SEARCH_WEEKS):
            wf = {**flt, "$and": [*flt["$and"], {"terms": week}]}
            n = await count(queue(db), wf)
            if n and total + n > skip:
                items += await queue(db).find(wf, LIST_HIDE).sort(SEARCH_ORDER).skip(max(0, skip - total)).limit(
                    page_size - len(items)).to_list(None)
            total += n
            if len(items) >= page_size:
                return items, total, False
    total = await count(queue(db), flt)
    items = await queue(db).find(flt, LIST_HIDE).sort(SEARCH_ORDER).skip(skip).limit(page_size).to_list(None)
    return items, total, True


async def callbacks_due(db: AsyncDatabase, scope: Scope, *, owner: str | None = None,
                        due_before: datetime | None = None, estate_id: str | None = None,
                        limit: int = 200) -> list[dict[str, Any]]:
    """The callback list (回访任务): resolved cases waiting for their callback, earliest first."""
    flt: dict[str, Any] = {**scope.mongo_filter(), "status": "resolved", "callback": {"$ne": None}}
    if estate_id is not None:
        if not scope.allows(scope.group_id, estate_id):
            return []
        flt["estate_id"] = estate_id
    if owner is not None:
        flt["callback.owner"] = owner
    if due_before is not None:
        flt["callback.due_at"] = {"$lte": due_before}
    rows = await queue(db).find(flt, LIST_HIDE).sort([("callback.due_at", 1), ("_id", 1)]).limit(limit).to_list(None)
    for it in rows:
        it["complaint_id"] = it.pop("_id")
        it["complainant"] = it.pop("complainant_masked", {})
    return rows


def _masked_file(doc: dict[str, Any]) -> dict[str, Any]:
    from shared.masking import mask_name, mask_phone, mask_unit

    return {"file_id": doc["_id"], "type": doc.get("type"), "roles": doc.get("roles", []),
            "estate_ids": doc.get("estate_ids", []), "names": [mask_name(n) for n in doc.get("names", [])],
            "phones": [mask_phone(p) for p in doc.get("phones", [])],
            "units": [mask_unit(u) for u in doc.get("units", [])], "cases": len(doc.get("case_ids", [])),
            "communications": len(doc.get("communication_ids", [])), "updated_at": doc.get("updated_at")}


def _file_in_scope(scope: Scope, doc: dict[str, Any] | None) -> bool:
    if doc is None or doc.get("group_id") != scope.group_id:
        return False
    estates = [e for e in doc.get("estate_ids", []) if e]
    return scope.estate_ids is None or not estates or any(e in scope.estate_ids for e in estates)


async def list_files(db: AsyncDatabase, scope: Scope, *, kind: str | None = None, estate_id: str | None = None,
                     limit: int = 100) -> list[dict[str, Any]]:
    """Customer files (客户档案) grouped by counterpart type, personal data masked."""
    flt: dict[str, Any] = {"group_id": scope.group_id}
    if kind:
        flt["type"] = kind
    if estate_id:
        flt["estate_ids"] = estate_id
    rows = await db["counterparts"].find(flt).sort("updated_at", -1).limit(limit).to_list(None)
    return [_masked_file(d) for d in rows if _file_in_scope(scope, d)]


async def get_file(db: AsyncDatabase, scope: Scope, file_id: str) -> dict[str, Any] | None:
    """One customer file with its complaints (slim) and its communications, newest first."""
    doc = await db["counterparts"].find_one({"_id": file_id})
    if not _file_in_scope(scope, doc):
        return None
    assert doc is not None
    case_rows = await queue(db).find({"_id": {"$in": doc.get("case_ids", [])}, **scope.mongo_filter()},
                                     LIST_HIDE).to_list(None)
    for it in case_rows:
        it["complaint_id"] = it.pop("_id")
        it["complainant"] = it.pop("complainant_masked", {})
    case_rows.sort(key=lambda c: c.get("received_at") or datetime.min, reverse=True)
    comms = await communications(db).find({"_id": {"$in": doc.get("communication_ids", [])},
                                           "group_id": scope.group_id}).to_list(None)
    comms.sort(key=lambda c: c.get("at") or datetime.min, reverse=True)
    return {**_masked_file(doc), "complaints": case_rows,
            "communications": [_masked_communication(c) for c in comms]}


def _masked_communication(c: dict[str, Any]) -> dict[str, Any]:
    from shared.masking import mask_phone, mask_unit

    out = {k: v for k, v in c.items() if k not in ("outbox", "_id")}
    out["phone"] = mask_phone(c.get("phone", ""))
    out["unit"] = mask_unit(c.get("unit", ""))
    return out


async def lookup_household(db: AsyncDatabase, scope: Scope, *, phone: str = "", unit: str = "",
                           estate_id: str = "") -> dict[str, Any] | None:
    """At intake: the caller's household file by phone or by unit, with history and open cases."""
    from services.archive.counterparts import household_keys

    wanted = household_keys(scope.group_id, estate_id, phone, unit)
    if not wanted:
        return None
    found = await db["counterpart_keys"].find({"_id": {"$in": wanted}}).to_list(None)
    if not found:
        return None
    f = await get_file(db, scope, min(k["file_id"] for k in found))
    if f is None:
        return None
    open_cases = [c for c in f["complaints"] if c.get("status") not in ("closed", "resolved")]
    return {**f, "open_cases": len(open_cases), "repeat": len(f["complaints"]) >= 1}


async def list_communications(db: AsyncDatabase, scope: Scope, *, estate_id: str | None = None,
                              kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    flt: dict[str, Any] = scope.mongo_filter()
    if estate_id:
        if not scope.allows(scope.group_id, estate_id):
            return []
        flt["estate_id"] = estate_id
    if kind:
        flt["counterpart_type"] = kind
    rows = await communications(db).find(flt).sort("at", -1).limit(limit).to_list(None)
    return [_masked_communication(c) for c in rows]
