"""The archive's query module: the only way other services read case records (always within a scope)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.archive.domain import phone_key
from shared.scope import Scope

DETAIL_HIDE = {"events": 0, "processed": 0, "outbox": 0, "version": 0, "due_sort": 0}
LIST_FIELDS = {"tracking_no": 1, "group_id": 1, "estate_id": 1, "status": 1, "category": 1, "subcategory": 1,
               "severity": 1, "channel": 1, "received_at": 1, "next_due": 1, "assignee": 1,
               "complainant_masked": 1, "round": 1, "needs_review": 1, "review_reason": 1}


def cases(db: AsyncDatabase):
    return db["cases"]


async def ensure_indexes(db: AsyncDatabase) -> None:
    await cases(db).create_index([("group_id", 1), ("estate_id", 1), ("status", 1), ("due_sort", 1)])
    await cases(db).create_index([("group_id", 1), ("due_sort", 1)])
    await cases(db).create_index([("tracking_no", 1)])
    await cases(db).create_index([("group_id", 1), ("phone_key", 1), ("received_at", -1)])


async def find_household(db: AsyncDatabase, scope: Scope, phone: str) -> dict[str, Any] | None:
    """The household a phone number belongs to, as the archive last saw it (name, unit, estate, case count)."""
    key = phone_key(phone)
    if len(key) < 7:
        return None
    flt = {**scope.mongo_filter(), "phone_key": key}
    latest = await cases(db).find(flt, {"complainant": 1, "estate_id": 1, "received_at": 1}).sort(
        [("received_at", -1)]).limit(1).to_list(None)
    if not latest:
        return None
    doc = latest[0]
    return {"estate_id": doc["estate_id"], "complainant": doc.get("complainant") or {},
            "cases": await cases(db).count_documents(flt)}


async def get_case(db: AsyncDatabase, scope: Scope, case_ref: str) -> dict[str, Any] | None:
    """One complete record by complaint id or tracking number; None when missing or outside the scope."""
    flt = {**scope.mongo_filter(), "$or": [{"_id": case_ref}, {"tracking_no": case_ref}]}
    doc = await cases(db).find_one(flt, DETAIL_HIDE)
    if doc is not None:
        doc["complaint_id"] = doc.pop("_id")
    return doc


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
    total = await cases(db).count_documents(flt)
    cursor = cases(db).find(flt, LIST_FIELDS).sort([("due_sort", 1), ("received_at", 1), ("_id", 1)])
    items = await cursor.skip((page - 1) * page_size).limit(page_size).to_list(None)
    for it in items:
        it["complaint_id"] = it.pop("_id")
        it["complainant"] = it.pop("complainant_masked", {})
    return {"items": items, "total": total, "page": page, "page_size": page_size}
