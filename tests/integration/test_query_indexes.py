"""Every query the operator API issues against the archive's large collections is served by an index.

The operator API reads through services.archive.queries and .analysis (ADR 3). This test calls each of those
functions the way the API does (an estate operator, a region, the whole group; queue, search, phone, callbacks,
files, communications, case detail, reports, the live feed), records every command they send with a PyMongo
command listener, and checks each filter against the indexes the archive declares:
- on MongoDB (Docker, CC_TEST_MONGO_URL): `explain` of each recorded query has no COLLSCAN stage;
- on any server: the planner rule that decides it (MongoDB plans a collection scan only when no index has a usable
  predicate, equality, `$in` or range, on its first field, or, without a filter, on its first sort field).
A query added without an index fails here. Shard keys (deploy/k8s/infra/shard-keys.js) lead with group_id,
which every one of these filters carries.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from benchmarks.queue_bench import entry
from services.archive import analysis, queries
from services.archive.search import recent_weeks, week_term
from shared.scope import Scope

LARGE = {"cases", "queue", "communications", "counterparts", "counterpart_keys", "rollups", "households"}
POSITIVE = {"$eq", "$in", "$gt", "$gte", "$lt", "$lte", "$all", "$elemMatch", "$regex"}


class Recorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "aggregate", "count", "distinct"):
            self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def usable(flt: dict[str, Any]) -> set[str]:
    """Fields an index could bound from this filter (top level and inside $and)."""
    out: set[str] = set()
    for k, v in flt.items():
        if k == "$and":
            for sub in v:
                out |= usable(sub)
        elif k.startswith("$"):
            continue
        elif not isinstance(v, dict) or not any(op.startswith("$") for op in v) or set(v) & POSITIVE:
            out.add(k)
    return out


def shape(cmd: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    coll = cmd.get("find") or cmd.get("aggregate") or cmd.get("count") or cmd.get("distinct")
    if "find" in cmd:
        return coll, cmd.get("filter") or {}, list(cmd.get("sort") or {})
    if "aggregate" in cmd:
        first = (cmd.get("pipeline") or [{}])[0]
        return coll, first.get("$match", {}), []
    return coll, cmd.get("query") or {}, []


def served(indexes: list[list[str]], flt: dict[str, Any], sort: list[str]) -> bool:
    fields = usable(flt)
    if any(ix[0] in fields for ix in indexes):
        return True
    ors = [b for k, v in flt.items() if k == "$or" for b in v]
    if ors and all(any(ix[0] in usable(b) for ix in indexes) for b in ors):
        return True
    return not fields and bool(sort) and any(ix[0] == sort[0] for ix in indexes)


@pytest.fixture
async def archive(infra, prefix, cleanup):
    recorder = Recorder()
    client = AsyncMongoClient(infra.mongo_url, tz_aware=True, event_listeners=[recorder])
    db = client[f"{prefix}_archive_ix{uuid.uuid4().hex[:4]}"]
    await queries.ensure_indexes(db)
    now = datetime.now(UTC)
    rng = random.Random(7)
    docs = [entry(i, now, rng) for i in range(300)]
    for d in docs[:10]:
        d["estate_id"] = "e-b0001"
    await queries.queue(db).insert_many(docs)
    await queries.cases(db).insert_many([{**d, "communication_ids": ["c1"]} for d in docs[:20]])
    await queries.communications(db).insert_one({"_id": "c1", "group_id": "g-big", "estate_id": "e-b0001",
                                                 "at": now, "phone": "13800000000", "counterpart_type": "owner"})
    await db["counterparts"].insert_one({"_id": "f1", "group_id": "g-big", "type": "owner", "estate_ids": ["e-b0001"],
                                         "case_ids": [d["_id"] for d in docs[:3]], "communication_ids": ["c1"],
                                         "updated_at": now})
    await queries.households(db).insert_one({"_id": "g-big:13800000000", "estate_id": "e-b0001", "case_ids": []})
    await db["counterpart_keys"].insert_one({"_id": "g-big:phone:13800000000", "file_id": "f1"})
    await db["rollups"].insert_one({"_id": "r1", "group_id": "g-big", "estate_id": "e-b0001",
                                    "day": now.date().isoformat(), "counts": {"received": 1}})
    recorder.commands.clear()
    yield db, recorder, docs
    await client.drop_database(db.name)
    await client.close()


async def test_every_operator_query_on_a_large_collection_is_served_by_an_index(archive, infra):
    db, recorder, docs = archive
    operator = Scope("g-big", frozenset({"e-b0001"}))
    region = Scope("g-big", frozenset(f"e-b{i:04d}" for i in range(60)))
    group = Scope("g-big", None)
    for scope in (operator, region, group):
        await queries.list_cases(db, scope, status="assigned")
        await queries.list_cases(db, scope, page=2)
        await queries.list_cases(db, scope, q="楼道灯坏了")
        await queries.list_cases(db, scope, complainant="13812345678")
        await queries.list_cases(db, scope, category="service", channel="phone", needs_review=True,
                                 received_from=datetime.now(UTC) - timedelta(days=7))
        await queries.callbacks_due(db, scope, due_before=datetime.now(UTC))
        await queries.callbacks_due(db, scope, owner="op-1")
        await queries.list_communications(db, scope, kind="owner")
        await queries.list_files(db, scope, kind="owner")
        await analysis.rollup(db, scope, date.today() - timedelta(days=31), date.today() + timedelta(days=1))
    await queries.list_cases(db, group, estate_id="e-b0001", status="waiting")
    await queries.get_case(db, group, docs[0]["_id"])
    await queries.get_case(db, group, docs[1]["tracking_no"])
    await queries.find_household(db, group, "13800000000")
    await queries.lookup_household(db, group, phone="13800000000", estate_id="e-b0001")
    await queries.get_file(db, group, "f1")
    live_slot = queries.change_slot(datetime.now(UTC))
    await queries.queue(db).find({"changed_slot": live_slot, "changed_at": {"$gt": datetime.now(UTC)}}).to_list(10)

    checked, unserved = 0, []
    index_keys: dict[str, list[list[str]]] = {}
    for cmd in recorder.commands:
        coll, flt, sort = shape(cmd)
        if coll not in LARGE:
            continue
        if coll not in index_keys:
            info = await db[coll].index_information()
            index_keys[coll] = [[k for k, _ in spec["key"]] for spec in info.values()]
        checked += 1
        if not served(index_keys[coll], flt, sort):
            unserved.append((coll, flt, sort))
    assert checked >= 40, f"only {checked} queries recorded"
    assert not unserved, f"queries no index serves: {unserved[:5]}"

    if "ferretdbVersion" in await db.client.admin.command("buildInfo"):
        return  # FerretDB's explain is PostgreSQL's plan, not MongoDB's: the rule above is the check there
    for cmd in recorder.commands:  # MongoDB itself: no collection scan in any winning plan
        coll, flt, sort = shape(cmd)
        if coll in LARGE:
            plan = await db.command("explain", {"find": coll, "filter": flt, **({"sort": cmd["sort"]} if sort else {})})
            assert "COLLSCAN" not in str(plan["queryPlanner"]["winningPlan"]), (coll, flt)


def test_the_rule_refuses_a_filter_no_index_can_bound():  # the check above can fail
    indexes = [["_id"], ["group_id", "estate_id", "status", "due_sort"], ["terms"], ["phone_key"]]
    assert served(indexes, {"group_id": "g", "status": "assigned"}, [])
    assert served(indexes, {"phone_key": {"$in": ["1"]}}, [])
    assert not served(indexes, {"status": "assigned", "channel": "fax"}, [])
    assert not served(indexes, {"callback": {"$ne": None}}, [])
    assert not served(indexes, {"$or": [{"terms": "a"}, {"channel": "fax"}]}, [])
    assert served(indexes, {"$or": [{"terms": "a"}, {"phone_key": "1"}]}, [])
    assert served(indexes, {}, ["group_id"]) and not served(indexes, {}, ["received_at"])


async def test_search_finds_every_case_its_words_match_and_no_other(infra, prefix, cleanup):
    """The search's index condition (the longest word or its first character) never drops a match: a record
    whose terms hold the word but not its characters (a long text's terms are capped), one holding only the
    characters (segmented differently), a latin word, and the words of a two-word query."""
    client = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = client[f"{prefix}_archive_q{uuid.uuid4().hex[:4]}"]
    await queries.ensure_indexes(db)
    now = datetime.now(UTC)
    base = {"group_id": "g-big", "estate_id": "e-b0001", "status": "assigned", "due_sort": now, "received_at": now}
    rows = {"word": ["天花板", "漏水"], "chars": ["天", "花", "板"], "one_char": ["天"], "both": ["天花板", "漏", "水"],
            "latin": ["wifi", "坏"], "other": ["楼道", "楼", "道"]}
    await queries.queue(db).insert_many([{**base, "_id": k, "terms": t} for k, t in rows.items()])
    group = Scope("g-big", None)

    async def found(q: str) -> set[str]:
        return {it["complaint_id"] for it in (await queries.list_cases(db, group, q=q))["items"]}

    try:
        assert await found("天花板") == {"word", "chars", "both"}
        assert await found("天花板 漏水") == {"word", "both"}
        assert await found("天") == {"chars", "one_char"}  # a one-character query asks for that term
        assert await found("WiFi") == {"latin"}
        assert await found("楼道") == {"other"}
        assert await found("电梯") == set()
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_a_search_goes_week_by_week_newest_first_and_counts_rare_words_exactly(infra, prefix, cleanup,
                                                                                     monkeypatch):
    """Common words: the weeks read from the latest back until the page is full (the total a lower bound);
    rare ones: every match at once, counted exactly. Either way the pages, one after another, are every match
    newest first. Entries listed before the week terms get them once, and until then a search reads everything."""
    client = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = client[f"{prefix}_archive_w{uuid.uuid4().hex[:4]}"]
    await queries.ensure_indexes(db)
    now = datetime.now(UTC)
    base = {"group_id": "g-big", "estate_id": "e-b0001", "status": "assigned", "due_sort": now}
    leaks = [{**base, "_id": f"leak{i:02d}", "received_at": now - timedelta(days=2 * i, hours=1),
              "terms": ["漏水", "漏", "水"]} for i in range(30)]  # one every other day: over eight weeks
    gas = [{**base, "_id": f"gas{i}", "received_at": now - timedelta(weeks=12 + i), "terms": ["燃气", "燃", "气"]}
           for i in range(3)]
    await queries.queue(db).insert_many([*leaks, *gas])  # listed before the week terms
    group = Scope("g-big", None)
    counted: list[dict] = []
    real_count = queries.count

    async def spy(coll, flt):
        counted.append(flt)
        return await real_count(coll, flt)

    monkeypatch.setattr(queries, "count", spy)

    async def ids(q: str, page: int = 1, page_size: int = 5) -> tuple[list[str], dict]:
        r = await queries.list_cases(db, group, q=q, page=page, page_size=page_size)
        return [it["complaint_id"] for it in r["items"]], r

    try:
        newest, r = await ids("漏水")
        assert newest == [f"leak{i:02d}" for i in range(5)] and r["total"] == 30 and r["total_exact"] is True
        assert await queries.backfill_search_weeks(db) == 33
        assert all(week_term(d["received_at"]) in d["terms"] for d in await queries.queue(db).find({}).to_list(None))
        assert await queries.backfill_search_weeks(db) == 0  # once

        counted.clear()
        newest, r = await ids("漏水")
        assert newest == [f"leak{i:02d}" for i in range(5)]
        assert r["total_exact"] is False and 5 <= r["total"] < 30
        # the latest weeks only, newest first
        assert [f["$and"][-1] for f in counted] == [{"terms": w} for w in recent_weeks(now, len(counted))]
        assert 1 <= len(counted) <= 3
        pages = [await ids("漏水", page) for page in range(1, 8)]
        assert [i for got, _ in pages for i in got] == [f"leak{i:02d}" for i in range(30)]
        assert pages[-2][1]["total_exact"] is True and pages[-2][1]["total"] == 30  # past the weeks read: all

        rare, r = await ids("燃气")
        assert rare == ["gas0", "gas1", "gas2"] and r["total"] == 3 and r["total_exact"] is True
        entry = queries.queue_entry({"_id": "x", "received_at": now, "terms": ["漏水"], "status": "assigned"})
        assert entry["terms"] == ["漏水", week_term(now)]
    finally:
        await client.drop_database(db.name)
        await client.close()
