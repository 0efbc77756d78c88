"""Archive handler: file every lifecycle event on its case, recompute the record, refresh its views."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.archive import queries
from services.archive.domain import fold, phone_key
from shared.aggregate import AggregateStore, Decision
from shared.contracts import ComplaintReceived, Envelope


async def file_event(event: Envelope[Any], *, store: AggregateStore) -> None:
    entry = {"event_id": str(event.event_id), "type": event.type, "at": event.occurred_at,
             "payload": _parse_dates(event.payload.model_dump(mode="json"))}

    def decide(doc: dict[str, Any] | None) -> Decision:
        events = [*(doc or {}).get("events", []), entry]
        changes = {"group_id": event.group_id, "estate_id": event.estate_id, "events": events,
                   "updated_at": datetime.now(UTC), **fold(events)}
        return Decision(changes=changes)

    await store.apply(event.complaint_id, str(event.event_id), decide)
    # The views are derived from the record, so rewriting them on a redelivery converges after a crash.
    record = await store.get(event.complaint_id)
    if record is not None:
        db = store.collection.database
        await queries.queue(db).replace_one({"_id": record["_id"]}, queries.queue_entry(record), upsert=True)
        if isinstance(event.payload, ComplaintReceived):
            await remember_household(db, event)


async def remember_household(db: Any, event: Envelope[ComplaintReceived]) -> None:
    """One file per household (一户一档), keyed by phone: the newest complaint's name, unit and estate."""
    key = phone_key(event.payload.complainant.phone)
    if len(key) < 7:
        return
    received = event.payload.received_at
    try:
        await queries.households(db).update_one(
            {"_id": f"{event.group_id}:{key}", "$or": [{"received_at": {"$lte": received}},
                                                       {"received_at": {"$exists": False}}]},
            {"$set": {"estate_id": event.estate_id, "complainant": event.payload.complainant.model_dump(),
                      "received_at": received}, "$addToSet": {"case_ids": event.complaint_id}},
            upsert=True)
    except DuplicateKeyError:  # a newer complaint is already on file: only add this case to the household
        await queries.households(db).update_one({"_id": f"{event.group_id}:{key}"},
                                                {"$addToSet": {"case_ids": event.complaint_id}})


def _parse_dates(payload: dict[str, Any]) -> dict[str, Any]:
    """Keep due times and timestamps as real dates so they sort and filter in MongoDB."""
    out: dict[str, Any] = {}
    for k, v in payload.items():
        if isinstance(v, dict):
            out[k] = _parse_dates(v)
        elif isinstance(v, str) and (k.endswith("_at") or k.endswith("_due")):
            try:
                out[k] = datetime.fromisoformat(v)
            except ValueError:
                out[k] = v
        else:
            out[k] = v
    return out
