"""The archive's query module: the only way other services read case records (always within a scope).

Reads go to small documents: the slim `queue` view for lists and `households` for caller look-ups; the
full record (`cases`) is only read by id. On FerretDB a query that is not an `_id` or simple equality
match reads every document of the collection, so big records must stay off the list path (ADR 0004).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.archive.domain import phone_key
from shared.scope import Scope

DETAIL_HIDE = {"events": 0, "processed": 0, "outbox": 0, "version": 0, "due_sort": 0}
LIST_FIELDS = ("tracking_no", "group_id", "estate_id", "status", "category", "subcategory", "severity", "channel",
               "received_at", "next_due", "due_sort", "assignee", "complainant_masked", "round", "needs_review",
               "review_reason", "escalation_level", "paused")


def cases(db: AsyncDatabase):
    return db["cases"]


def queue(db: AsyncDatabase):
    return db["queue"]


def households(db: AsyncDatabase):
    return db["households"]


async def ensure_indexes(db: AsyncDatabase) -> None:
    await cases(db).create_index([("tracking_no", 1)])
    await queue(db).create_index([("group_id", 1), ("estate_id", 1), ("status", 1), ("due_sort", 1)])
    await queue(db).create_index([("group_id", 1), ("due_sort", 1)])


def queue_entry(record: dict[str, Any]) -> dict[str, Any]:
    """The slim list view of a case record."""
    return {k: record[k] for k in LIST_FIELDS if k in record}


async def get_case(db: AsyncDatabase, scope: Scope, case_ref: str) -> dict[str, Any] | None:
    """One complete record by complaint id or tracking number; None when missing or outside the scope."""
    doc = await cases(db).find_one({"_id": case_ref, **scope.mongo_filter()}, DETAIL_HIDE)
    if doc is None and case_ref.startswith("TS"):
        doc = await cases(db).find_one({"tracking_no": case_ref, **scope.mongo_filter()}, DETAIL_HIDE)
    if doc is not None:
        doc["complaint_id"] = doc.pop("_id")
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
                     page_size: int = 20) -> dict[str, Any]:
    """The queue: nearest deadline first, personal data masked."""
    flt: dict[str, Any] = scope.mongo_filter()
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
    total = await queue(db).count_documents(flt)
    cursor = queue(db).find(flt, {"due_sort": 0}).sort([("due_sort", 1), ("received_at", 1), ("_id", 1)])
    items = await cursor.skip((page - 1) * page_size).limit(page_size).to_list(None)
    for it in items:
        it["complaint_id"] = it.pop("_id")
        it["complainant"] = it.pop("complainant_masked", {})
    return {"items": items, "total": total, "page": page, "page_size": page_size}
