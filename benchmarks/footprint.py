"""What one complaint leaves behind: documents and bytes per collection, messages and bytes per topic.

Measured on the running center's own data (`make up`'s databases and topics, after a benchmark has put some
hundreds of complaints through): documents per complaint is a collection's count over the archive's case
count; bytes are the BSON size of a sample of documents, and the Kafka record sizes (key, value, headers) of
every record on each topic. The capacity plan (benchmarks/capacity.py, docs/capacity-plan.md) scales these.
"""

from __future__ import annotations

import bson
from pymongo import AsyncMongoClient

from shared.contracts import TOPICS
from tests.helpers import read_topic

SAMPLE = 300


async def mongo_footprint(mongo_url: str, db_prefix: str = "cc") -> dict[str, dict[str, float]]:
    client = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        cases = await client[f"{db_prefix}_archive"]["cases"].estimated_document_count() or 1
        out = {}
        for db_name in sorted(await client.list_database_names()):
            if not db_name.startswith(db_prefix + "_"):
                continue
            db = client[db_name]
            for coll in sorted(await db.list_collection_names()):
                n = await db[coll].estimated_document_count()
                if not n:
                    continue
                sample = await db[coll].find().sort("_id", -1).limit(SAMPLE).to_list(None)
                avg = sum(len(bson.encode(d)) for d in sample) / len(sample)
                out[f"{db_name.removeprefix(db_prefix + '_')}.{coll}"] = {
                    "documents": n, "per_complaint": round(n / cases, 3), "avg_bytes": round(avg),
                    "bytes_per_complaint": round(avg * n / cases)}
        return out
    finally:
        await client.close()


async def kafka_footprint(bootstrap: str, prefix: str = "cc") -> dict[str, dict[str, float]]:
    received = len(await read_topic(bootstrap, f"{prefix}.complaint.received", timeout_ms=1000)) or 1
    out = {}
    for spec in TOPICS:
        records = await read_topic(bootstrap, f"{prefix}.{spec.name}", timeout_ms=1000)
        if not records:
            continue
        size = sum(len(r.value or b"") + len(r.key or b"") + sum(len(k) + len(v or b"") for k, v in r.headers)
                   for r in records)
        out[spec.name] = {"records": len(records), "per_complaint": round(len(records) / received, 3),
                          "avg_bytes": round(size / len(records)), "bytes_per_complaint": round(size / received)}
    return out
