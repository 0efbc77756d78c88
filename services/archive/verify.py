"""Verify the archive's tamper evidence: `python -m services.archive.verify [--case ID] [--group G]`.

For each case the record is recomputed from its stored events: the timeline must equal the stored one entry
for entry (each entry's hash covers the previous hash, the entry and its event), and the chain head must
equal both the record's and the ledger's (kept apart, so rewriting a record alone is caught too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.archive import queries
from services.archive.handlers import record_problems


async def verify_case(db: AsyncDatabase, complaint_id: str, settle_seconds: float = 3.0) -> dict[str, Any]:
    """The ledger is written just after the record: a mismatch of the ledger alone may be a filing in flight,
    so it is read again for a moment before it counts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle_seconds
    while True:
        result = await _verify_once(db, complaint_id)
        if result["ok"] or result["problems"] != [LEDGER_BEHIND] or loop.time() >= deadline:
            return result
        await asyncio.sleep(0.2)


LEDGER_BEHIND = "the ledger's chain head does not match the record"


async def _verify_once(db: AsyncDatabase, complaint_id: str) -> dict[str, Any]:
    doc = await queries.cases(db).find_one({"_id": complaint_id})
    if doc is None:
        return {"complaint_id": complaint_id, "ok": False, "problems": ["no such case"]}
    problems = record_problems(doc)
    alerts = {str(a["at"]): a for a in doc.get("integrity_alerts", [])}
    alerts.update({str(a["at"]): a for a in await queries.integrity_alerts(db).find(
        {"complaint_id": complaint_id}).to_list(None)})
    for a in alerts.values():
        problems += [f"found when filing at {a['at']:%Y-%m-%d %H:%M:%S}: {p}" for p in a["problems"]]
    head = await queries.ledger(db).find_one({"_id": complaint_id})
    if not problems and (head is None or head.get("head") != doc.get("chain_head")):
        problems.append(LEDGER_BEHIND)
    return {"complaint_id": complaint_id, "ok": not problems, "entries": len(doc.get("timeline", [])),
            "problems": problems}


async def verify_all(db: AsyncDatabase, group_id: str | None = None, limit: int | None = None) -> dict[str, Any]:
    flt = {"group_id": group_id} if group_id else {}
    checked, failed = 0, []
    async for row in queries.cases(db).find(flt, {"_id": 1}).limit(limit or 0):
        checked += 1
        result = await verify_case(db, row["_id"])
        if not result["ok"]:
            failed.append(result)
    return {"checked": checked, "ok": not failed, "failed": failed}


async def _main(args: argparse.Namespace) -> int:
    from services.archive.config import ArchiveSettings
    from shared.mongo import make_client

    settings = ArchiveSettings()
    client = make_client(settings)
    try:
        db = client[settings.database("archive")]
        result = await (verify_case(db, args.case) if args.case else verify_all(db, args.group))
    finally:
        await client.close()
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    return 0 if result["ok"] else 1


def main() -> None:
    parser = argparse.ArgumentParser(description="Verify the archive's hash chains")
    parser.add_argument("--case", help="one complaint id")
    parser.add_argument("--group", help="only this group's cases")
    sys.exit(asyncio.run(_main(parser.parse_args())))


if __name__ == "__main__":
    main()
