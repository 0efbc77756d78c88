"""Retention (保存期限): a configurable period after a case closes, then anonymise or purge, on a schedule.

Anonymising removes the complainant's name, phone, email and flat from the record's events, masks numbers in
the text, refolds and reseals the record (the ledger follows, so verification still holds) and takes the case
out of the phone look-up. Purging deletes the record and its views and leaves a tombstone in the ledger.
Rollups keep their counts: they hold no personal data.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.archive import queries
from services.archive.domain import link, loaded_events, stored_events
from services.archive.handlers import CHAIN_VERSION, record_of
from shared.masking import mask_unit

_DIGITS = re.compile(r"\d{5,}")


def anonymised_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in events:
        if e["type"] == "ComplaintReceived":
            p = dict(e["payload"])
            c = p.get("complainant") or {}
            p["complainant"] = {"name": "", "phone": "", "email": "", "unit": mask_unit(c.get("unit", ""))}
            p["text"] = _DIGITS.sub("***", p.get("text", ""))
            p["demand"] = _DIGITS.sub("***", p.get("demand", ""))
            e = {**e, "payload": p}
        out.append(e)
    return out


def rechained(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anonymising changes events on purpose: the chain is computed again over what is kept."""
    out, prev = [], ""
    for e in events:
        e = {**e, "hash": link(prev, e)}
        prev = e["hash"]
        out.append(e)
    return out


async def sweep(db: AsyncDatabase, *, days: int, action: str, now: datetime | None = None,
                batch: int = 500) -> dict[str, int]:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    flt = {"status": "closed", "closed_at": {"$lt": cutoff}, "anonymised_at": None}
    done = {"anonymised": 0, "purged": 0}
    rows = await queries.cases(db).find(flt, {"_id": 1, "events": 1, "group_id": 1}).limit(batch).to_list(None)
    for doc in rows:
        cid = doc["_id"]
        if action == "purge":
            await queries.cases(db).delete_one({"_id": cid})
            await queries.queue(db).delete_one({"_id": cid})
            await queries.queue_keys(db).delete_one({"_id": cid})
            await queries.ledger(db).update_one({"_id": cid}, {"$set": {"purged_at": datetime.now(UTC), "head": ""}})
            done["purged"] += 1
        else:
            events = rechained(anonymised_events(loaded_events(doc.get("events", []))))
            record = record_of(events)
            await queries.cases(db).update_one({"_id": cid}, {"$set": {
                "events": stored_events(events), **record, "anonymised_at": datetime.now(UTC),
                "chain_version": CHAIN_VERSION},
                "$inc": {"version": 1}})
            fresh = await queries.cases(db).find_one({"_id": cid})
            await queries.queue(db).replace_one({"_id": cid}, queries.queue_entry(fresh), upsert=True)
            await queries.ledger(db).update_one({"_id": cid}, {"$set": {"head": record["chain_head"],
                                                                        "anonymised_at": datetime.now(UTC)}})
            done["anonymised"] += 1
        for coll in (queries.households(db), db["counterparts"]):  # FerretDB v1 has no $pull
            async for d in coll.find({"case_ids": cid}, {"case_ids": 1}):
                await coll.update_one({"_id": d["_id"]}, {"$set": {"case_ids": [x for x in d["case_ids"]
                                                                                if x != cid]}})
    return done
