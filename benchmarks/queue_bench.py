"""Operator queue and search latency as the archive grows: 10,000 cases, then 1,000,000 (`make bench-queue`).

Runs the operator API's own queries (services.archive.queries.list_cases / callbacks_due, with its indexes)
against synthetic queue entries in a database of its own on the MongoDB-wire server (`make up`'s, started if
needed): a large group with 1,000 estates, ten-odd statuses and channels, Chinese search terms, phone keys.
The archive grows as a center's does: the same intake every day (DAILY, a million a year), so 10,000 cases are its
first four days and 1,000,000 its first year. Cases are as open as a working center's (DOMAIN.md: a general
complaint is resolved within 5 working days): one received d days ago is still open with probability 1 - d/7, and
0.2 % of older ones are stragglers still open; the rest are closed. Open cases: about 7,500 at 10,000, 11,600 at
1,000,000. What must stay flat is the cost of the operator's lists as the archive grows around them.
Each query runs 60 times per size; p50/p95 are printed side by side, the 10,000-case figures being the
baseline from the same run. Flat figures mean the indexes carry the load; a collection scan grows ~100x.
Results go to .run/bench/queue.json. CC_BENCH_QUEUE_MAX lowers the large size (e.g. for a quick look).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from deploy.native import stack
from services.archive import queries
from services.archive.search import week_term
from shared.scope import Scope

SIZES = (10_000, int(os.environ.get("CC_BENCH_QUEUE_MAX", "1000000")))
ESTATES = [f"e-b{i:04d}" for i in range(1000)]
OPEN_STATUSES = ["assigned"] * 5 + ["resolved"] * 2 + ["waiting", "reopened", "triaged"]
OPEN_DAYS = 7  # a case this old is closed, unless a straggler
DAILY = 2740  # cases a day: 1,000,000 a year
STRAGGLERS = 0.002
CHANNELS = ["phone", "online", "visit", "letter", "fax", "email", "mailbox", "proxy", "staff_relay"]
WORDS = ["楼道", "灯", "坏了", "电梯", "漏水", "噪音", "停车", "物业费", "绿化", "保洁", "门禁", "燃气", "宠物", "装修",
         "垃圾", "维修", "不满意", "投诉", "保安", "监控", "暖气", "供水", "停电", "发票"]
SUBS = ["repair", "lift", "cleaning", "parking", "noise", "service_fee", "security", "greening", "leak_downstairs"]
RUNS = 60
MIN_RUNS = 5
BUDGET_SECONDS = 30.0  # per query and size
BUDGET_MS = 10_000  # a query slower than this runs once (a scan of a million cases takes minutes)
OUT = stack.ROOT / ".run" / "bench" / "queue.json"


def entry(i: int, now: datetime, rng: random.Random) -> dict[str, Any]:
    """Case number i (0 the newest): received i / DAILY days ago, give or take a day."""
    received = now - timedelta(days=max(0.0, i / DAILY + rng.uniform(-0.5, 0.5)))
    age_days = (now - received).total_seconds() / 86400
    still_open = rng.random() < max(0.0, 1 - age_days / OPEN_DAYS) or rng.random() < STRAGGLERS
    status = rng.choice(OPEN_STATUSES) if still_open else "closed"
    due = received + timedelta(hours=rng.randint(1, 120)) if status not in ("closed",) else None
    terms = [*sorted({*rng.sample(WORDS, 4), *(w for w in rng.sample(WORDS, 2) for w in w)}), week_term(received)]
    phone = f"138{rng.randint(0, 99_999_999):08d}"
    doc = {"_id": str(uuid.UUID(int=rng.getrandbits(128))), "tracking_no": f"TS2026B{i:08d}", "group_id": "g-big",
           "estate_id": rng.choice(ESTATES), "status": status, "category": "service", "subcategory": rng.choice(SUBS),
           "severity": rng.choice(["general"] * 8 + ["major", "emergency"]), "channel": rng.choice(CHANNELS),
           "received_at": received, "next_due": due, "due_sort": due or datetime(9999, 1, 1, tzinfo=UTC),
           "assignee": {"staff_id": f"s-{rng.randint(0, 20000)}", "name": "王师傅"},
           "complainant_masked": {"name": "张*", "phone": phone[:3] + "****" + phone[-4:], "unit": "3栋***"},
           "round": 1, "needs_review": rng.random() < 0.03, "escalation_level": 0, "paused": False,
           "phone_key": phone, "terms": terms, "changed_at": received,
           "callback": ({"due_at": received + timedelta(days=1), "owner": f"op-{rng.randint(0, 300)}", "attempt": 1}
                        if status == "resolved" else None)}
    return doc


async def fill(db, start: int, end: int) -> float:
    rng = random.Random(start)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for i in range(start, end):
        batch.append(entry(i, now, rng))
        if len(batch) == 5000:
            await _insert(db, batch)
            batch = []
    if batch:
        await _insert(db, batch)
    return time.perf_counter() - t0


async def _insert(db, batch: list[dict[str, Any]]) -> None:
    """The list view and its page keys, as the archive writes them."""
    await queries.queue(db).insert_many(batch, ordered=False)
    await queries.queue_keys(db).insert_many([queries.key_entry(d) for d in batch], ordered=False)


async def timed(fn) -> tuple[float, float, int]:
    """p50/p95 over RUNS runs, or fewer (at least MIN_RUNS, or one over BUDGET_MS) when one query takes seconds."""
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < RUNS and (
            time.perf_counter() - started < BUDGET_SECONDS or (len(times) < MIN_RUNS and times[-1] < BUDGET_MS)):
        t0 = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2], times[max(0, math.ceil(len(times) * 0.95) - 1)], len(times)


async def page_decoded_in_go(db, scope: Scope, status: str) -> None:
    """The baseline for FerretDB patch change 5, same run: the keys page as before it (ADR 14), its total and its
    page counted and sorted by FerretDB decoding every match in Go. `due_sort: {$exists}` holds for every key and is
    not pushed down, so the filter is not pushed down whole and PostgreSQL returns every match, as before."""
    kf = {**queries._keys_filter({**scope.mongo_filter(), "status": status}), "due_sort": {"$exists": True}}
    order = [("due_sort", 1), ("received_at", 1), ("_id", 1)]
    await queries.queue_keys(db).count_documents(kf)
    rows = await queries.queue_keys(db).find(kf, {"_id": 1}).sort(order).limit(50).to_list(None)
    await queries.queue(db).find({"_id": {"$in": [r["_id"] for r in rows]}}, queries.LIST_HIDE).to_list(None)


def cases(db) -> dict[str, Any]:
    rng = random.Random(7)
    group = Scope("g-big")
    one = Scope("g-big", frozenset({ESTATES[17]}))
    region = Scope("g-big", frozenset(ESTATES[:60]))
    phone_doc = {}

    async def by_phone():
        if not phone_doc:
            phone_doc.update(await queries.queue(db).find_one({}, {"phone_key": 1}) or {})
        await queries.list_cases(db, group, complainant=phone_doc.get("phone_key", "13800000000"))

    return {
        "queue: one estate's operator, open cases": lambda: queries.list_cases(db, one, status="assigned"),
        "queue: region (60 estates), page 1": lambda: queries.list_cases(db, region, status="assigned"),
        "queue: whole group, waiting": lambda: queries.list_cases(db, group, status="waiting"),
        # the baselines, same run: every match decoded by FerretDB (before patch change 5, ADR 15); the page chosen
        # from the list view itself (before ADR 14)
        "  region page decoded in Go": lambda: page_decoded_in_go(db, region, "assigned"),
        "  whole group waiting decoded in Go": lambda: page_decoded_in_go(db, group, "waiting"),
        "  region page from the list view": lambda: queries.list_cases(db, region, status="assigned",
                                                                         via_keys=False),
        "  whole group waiting from the list view": lambda: queries.list_cases(db, group, status="waiting",
                                                                               via_keys=False),
        "search: two words, whole group": lambda: queries.list_cases(db, group, q=" ".join(rng.sample(WORDS, 2))),
        "search: complainant phone": by_phone,
        "callbacks due: one estate": lambda: queries.callbacks_due(db, one),
    }


def settle() -> None:
    """Give PostgreSQL the statistics autovacuum gathers within a minute of a bulk load (FerretDB on PostgreSQL
    only; MongoDB plans without them). A year-old archive has them; a table filled seconds ago does not, and
    without them a region's 60-estate filter was planned as a scan (1.2 s at 10,000 cases)."""
    bindir = stack.postgres_bin_dir()
    st = stack.default_stack()
    if bindir is None or not stack.port_open(st.pg_port):
        return
    subprocess.run([str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(st.pg_port), "-U", "postgres", "-qc",
                    "ANALYZE"], check=True, capture_output=True)
    print("  (PostgreSQL statistics gathered, as autovacuum would)", flush=True)


async def main() -> None:
    st = stack.default_stack()
    stack.up(st, infra_only=True)
    client = AsyncMongoClient(st.mongo_url, tz_aware=True)
    db = client[f"bench_queue_{uuid.uuid4().hex[:6]}"]
    results: dict[str, dict[str, Any]] = {}
    try:
        await queries.ensure_indexes(db)
        await queries.backfill_queue_keys(db)  # nothing listed yet: the keys are complete from the start
        await queries.backfill_search_weeks(db)  # and every entry will carry its week term
        have = 0
        for size in SIZES:
            took = await fill(db, have, size)
            print(f"filled {size - have:,} queue entries in {took:.0f} s ({(size - have) / took:,.0f}/s)", flush=True)
            have = size
            settle()
            results[str(size)] = {}
            for name, fn in cases(db).items():
                p50, p95, runs = await timed(fn)
                results[str(size)][name] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "runs": runs}
                print(f"  {size:>9,}  {name:<42} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({runs} runs)", flush=True)
    finally:
        await client.drop_database(db.name)
        await client.close()
    small, large = (str(s) for s in SIZES)
    head_small, head_large = f"p95 @ {SIZES[0]:,}", f"p95 @ {SIZES[1]:,}"
    print(f"\n{'query':<44} {head_small:>14} {head_large:>16} {'growth':>7}")
    for name in results[small]:
        a, b = results[small][name]["p95_ms"], results[large][name]["p95_ms"]
        print(f"{name:<44} {a:>11.1f} ms {b:>13.1f} ms {b / a if a else float('nan'):>6.1f}x")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
