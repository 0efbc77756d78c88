"""The archive's stored parts on the real MongoDB-wire server: rollups count once, retention, verification."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from pymongo.errors import ConnectionFailure

from deploy.demo_history import build
from services.archive import analysis, queries, retention, rollups
from services.archive.domain import loaded_events
from services.archive.entrypoints import rollup_loop
from services.archive.handlers import CASE_GUARDS, Settler, file_event, file_events, refresh_views
from services.archive.verify import verify_case
from shared.aggregate import AggregateStore
from shared.contracts import parse
from shared.scope import Scope
from tests.helpers import counted_commands, counted_reads, spy_finds


def envelopes(case: list[dict]) -> list:
    return [parse(json.dumps(e, ensure_ascii=False).encode()) for e in case]


async def test_a_case_filed_twice_is_counted_once_and_verifies(archive):
    db, store = archive
    case = envelopes(build("2026-08", 3)[0])
    for env in [*case, *case]:  # every event delivered twice
        await file_event(env, store=store)
    docs = await rollups.rollups(db).find({}).to_list(None)
    assert len(docs) == 1 and docs[0]["received"] == 1 and docs[0]["closed"] == 1
    assert docs[0]["applied"] and all(len(m) == 12 for m in docs[0]["applied"])  # short: kept 1,000 a part
    record = await store.get(case[0].complaint_id)
    pending = {"rollup_id": docs[0]["_id"], "marker": "m-1", "delta": {"received": 1}}
    await rollups.apply_pending(db, pending)
    await rollups.apply_pending(db, pending)  # a retry after a crash
    assert (await rollups.rollups(db).find_one({"_id": docs[0]["_id"]}))["received"] == 2  # once, not twice
    result = await verify_case(db, record["_id"])
    assert result["ok"] is True, result


async def test_a_busy_day_of_an_estate_is_counted_in_parts_that_the_analysis_adds_up(archive):
    db, store = archive
    cases = [c for c in build("2026-08", 30) if c[0]["estate_id"] == "e-sunrise"][:12]
    for case in cases:  # one day's burst of calls
        case[0]["payload"]["received_at"] = "2026-08-05T09:30:00+08:00"
        await file_event(envelopes(case)[0], store=store)
    docs = await rollups.rollups(db).find({}).to_list(None)
    assert 1 < len(docs) <= rollups.SHARDS and {(d["estate_id"], d["day"]) for d in docs} == {
        ("e-sunrise", "2026-08-05")}
    assert sum(len(d["applied"]) for d in docs) == len(cases)  # each part holds the markers of its own cases
    figures = await analysis.rollup(db, Scope("g-hengan", None), date(2026, 8, 1), date(2026, 9, 1))
    assert figures["totals"]["received"] == len(cases) and figures["per_estate"]["e-sunrise"]["received"] == 12


async def test_a_cases_events_filed_together_make_the_same_record_in_one_write(archive):
    db, store = archive
    case = envelopes(build("2026-08", 2)[0])
    apart_db = db.client[f"{db.name}_apart"]  # the same case filed one event at a time, for comparison
    await queries.ensure_indexes(apart_db)
    apart = AggregateStore(queries.cases(apart_db), store.relay, store.settings, guards=CASE_GUARDS)
    try:
        for env in case:
            await file_event(env, store=apart)
        await file_events(case[:2], store=store)  # what arrived first, then the rest with a redelivered one
        await file_events([case[1], *case[2:], case[-1]], store=store)
        a, b = await apart.get(case[0].complaint_id), await store.get(case[0].complaint_id)
    finally:
        await db.client.drop_database(apart_db.name)
    assert [e["type"] for e in b["events"]] == [e.type for e in case]  # each once
    same = ("timeline", "status", "terms", "contrib", "category", "severity", "next_due")
    assert {k: b.get(k) for k in same} == {k: a.get(k) for k in same} and b["timeline"]
    assert (await verify_case(db, b["_id"]))["ok"] is True
    # two filings, each one write of the record (its deltas cleared once counted: by `rollup_gen`, no version)
    assert b["version"] == 2 and a["version"] >= len(case)
    assert not {"rollup_pending", "rollup_due", "rollup_gen"} & set(b)
    ledger = await queries.ledger(db).find_one({"_id": b["_id"]})
    assert ledger["head"] == b["chain_head"] and ledger["entries"] == len(b["timeline"])
    day = await rollups.rollups(db).find_one({})
    assert day["received"] == 1 and day["closed"] == 1
    await file_events(case, store=store)  # all of them again: nothing changes
    assert (await store.get(b["_id"]))["version"] == 2


async def test_a_cases_first_filing_reads_no_record_and_one_out_of_order_or_redelivered_changes_nothing(archive):
    db, store = archive
    case = envelopes(build("2026-08", 2)[0])
    assert case[0].type == "ComplaintReceived"
    reads = counted_reads(store)
    await file_events(case[:1], store=store)
    assert reads == []  # the complaint as received: the record's first write, an insert
    await file_events(case[:1], store=store)  # redelivered: the insert finds the record, which is read
    record = await store.get(case[0].complaint_id)
    assert [e["type"] for e in record["events"]] == ["ComplaintReceived"] and record["version"] == 1
    late = envelopes(build("2026-08", 2)[1])  # another case whose later event was filed first
    await file_events(late[1:2], store=store)
    await file_events(late[:1], store=store)
    other = await store.get(late[0].complaint_id)
    assert sorted(e["type"] for e in other["events"]) == sorted([late[0].type, late[1].type])
    assert other["version"] == 2 and (await verify_case(db, other["_id"]))["ok"] is True


async def test_a_delta_queued_after_the_ones_counted_stays_until_it_is_counted_too(archive):
    db, store = archive
    case = envelopes(build("2026-08", 2)[0])
    cid = case[0].complaint_id
    await file_event(case[0], store=store)
    first = await store.get(cid)
    assert not {"rollup_pending", "rollup_due", "rollup_gen"} & set(first)
    rid = first["contrib_id"]
    # a filing that read the record before that clearing queues the next delta; the clearing of an earlier one
    # comes late (its record as it was then): it must not take the new delta with it
    later = {"rollup_id": rid, "marker": "m-later", "delta": {"resolved": 1}}
    await store.collection.update_one({"_id": cid}, {"$set": {"rollup_pending": [later], "rollup_due": True,
                                                             "rollup_gen": "m-later"}})
    earlier = {"rollup_id": rid, "marker": "m-earlier", "delta": {"received": 0}}
    await refresh_views(store, cid, record={**first, "rollup_pending": [earlier], "rollup_due": True,
                                            "rollup_gen": "m-earlier"})
    kept = await store.get(cid)
    assert kept["rollup_pending"] == [later] and kept["rollup_gen"] == "m-later"
    await refresh_views(store, cid)  # the later filing's views (or the sweep): counted, then cleared
    assert not {"rollup_pending", "rollup_due", "rollup_gen"} & set(await store.get(cid))
    day = await rollups.rollups(db).find_one({"_id": rid})
    assert (day["received"], day.get("resolved")) == (1, 1)
    # a record queued before `rollup_gen` is cleared at its version, as then
    legacy = {"rollup_id": rid, "marker": "m-legacy", "delta": {"closed": 1}}
    await store.collection.update_one({"_id": cid}, {"$set": {"rollup_pending": [legacy], "rollup_due": True}})
    version = (await store.get(cid))["version"]
    await refresh_views(store, cid)
    after = await store.get(cid)
    assert after["version"] == version + 1 and not {"rollup_pending", "rollup_due"} & set(after)
    assert (await rollups.rollups(db).find_one({"_id": rid}))["closed"] == 1


async def test_a_rollup_left_unsettled_by_a_crash_is_settled_by_the_sweep_reading_only_flagged_records(
        archive, monkeypatch):
    db, store = archive
    first, second = envelopes(build("2026-08", 3)[0])[:1], envelopes(build("2026-09", 3)[0])[:1]
    real = rollups.apply_many

    async def crash(*args):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(rollups, "apply_many", crash)
    for case in (first, second):
        with pytest.raises(RuntimeError):
            await file_event(case[0], store=store)
    monkeypatch.setattr(rollups, "apply_many", real)
    assert await rollups.rollups(db).count_documents({}) == 0
    assert await store.collection.count_documents({"rollup_due": True}) == 2
    # a record written by the version before the flag: pending, not flagged
    await store.collection.update_one({"_id": second[0].complaint_id}, {"$unset": {"rollup_due": ""}})

    # the sweep's reads (reads by key are the records')
    asked = spy_finds(monkeypatch, store.collection, keep=lambda flt: "_id" not in flt)
    sweep = asyncio.create_task(rollup_loop(store, 0.05)())
    try:
        for _ in range(200):
            if len(asked) >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        sweep.cancel()
    assert asked[0] == {"rollup_pending": {"$ne": None}} and asked[1:3] == [{"rollup_due": True}] * 2
    assert sum(d.get("received", 0) for d in await rollups.rollups(db).find({}).to_list(None)) == 2
    assert await store.collection.count_documents({"rollup_pending": {"$ne": None}}) == 0
    assert await store.collection.count_documents({"rollup_due": True}) == 0


async def test_cases_filed_with_a_settler_are_counted_together_later_in_one_command_each_and_once(archive):
    db, store = archive
    cases = [envelopes(c) for c in build("2026-08", 6)]
    settler = Settler(store, every=60)
    for case in cases:
        await file_events(case[:1], store=store, settler=settler)
    await file_events(cases[0][1:3], store=store, settler=settler)  # a case filed again before the settling
    assert await rollups.rollups(db).count_documents({}) == 0  # nothing counted yet: queued on the records
    assert await store.collection.count_documents({"rollup_due": True}) == len(cases)
    assert len(settler.due) == len(cases)  # each case once, as its latest filing left it
    sent = counted_commands(db.client)
    await settler.flush()
    documents = await rollups.rollups(db).count_documents({})
    # one update command counting every rollup document, one clearing every record
    writes = [c for c in sent if c[0] in ("insert", "update", "delete")]
    assert writes == [("update", "rollups", documents), ("update", store.collection.name, len(cases))]
    assert settler.due == {} and await store.collection.count_documents({"rollup_due": True}) == 0
    figures = await analysis.rollup(db, Scope("g-hengan", None), date(2026, 8, 1), date(2026, 9, 1))
    assert figures["totals"]["received"] == len(cases)
    sent.clear()
    await settler.flush()  # nothing left: nothing sent
    assert sent == []
    for case in cases:  # every event again, settled at once: each counted once
        await file_events(case, store=store)
    figures = await analysis.rollup(db, Scope("g-hengan", None), date(2026, 8, 1), date(2026, 9, 1))
    assert figures["totals"]["received"] == len(cases) and figures["totals"]["closed"] >= 1


async def test_cases_filed_at_the_same_time_write_their_views_together(archive):
    db, store = archive
    cases = [envelopes(c) for c in build("2026-08", 8)]
    settler = Settler(store, every=60)
    sent = counted_commands(db.client)
    await asyncio.gather(*(file_events(c[:1], store=store, settler=settler) for c in cases))
    views = [c for c in sent if c[0] == "update" and c[1] in ("queue", "queue_keys", "ledger")]
    assert sum(n for *_, n in views) == 3 * len(cases)  # every case's three views
    assert len(views) <= 2 * len(cases)  # fewer commands than views: three a case, one by one
    for case in cases:
        cid = case[0].complaint_id
        record = await store.get(cid)
        assert (await queries.ledger(db).find_one({"_id": cid}))["head"] == record["chain_head"]
        assert (await queries.queue(db).find_one({"_id": cid}))["status"] == record["status"]
        assert await queries.queue_keys(db).find_one({"_id": cid})


async def test_a_settling_the_database_refused_is_kept_and_tried_again_and_a_later_filing_replaces_it(
        archive, monkeypatch):
    db, store = archive
    cases = [envelopes(c) for c in build("2026-08", 2)]
    settler = Settler(store, every=60)
    await file_events(cases[0][:1], store=store, settler=settler)
    real = rollups.apply_many

    async def away(*args):
        raise ConnectionFailure("the database is away")

    monkeypatch.setattr(rollups, "apply_many", away)
    with pytest.raises(ConnectionFailure):
        await settler.flush()
    monkeypatch.setattr(rollups, "apply_many", real)
    assert list(settler.due) == [cases[0][0].complaint_id]
    await file_events(cases[0][1:], store=store, settler=settler)
    assert settler.due[cases[0][0].complaint_id]["version"] == 2  # the later filing's record
    await settler.flush()
    day = await rollups.rollups(db).find_one({})
    assert day["received"] == 1 and day["closed"] == 1
    assert not {"rollup_pending", "rollup_due", "rollup_gen"} & set(await store.get(cases[0][0].complaint_id))


async def test_a_case_being_filed_is_not_cleared_and_one_being_cleared_is_filed_after(archive, monkeypatch):
    db, store = archive
    case = envelopes(build("2026-08", 2)[0])
    cid = case[0].complaint_id
    settler = Settler(store, every=60)
    await file_events(case[:1], store=store, settler=settler)
    async with settler.filing_of(cid):  # its next filing has begun: it will leave it due again
        await settler.flush()
        assert cid in settler.due and await rollups.rollups(db).count_documents({}) == 0
    release, counting = asyncio.Event(), asyncio.Event()
    real = rollups.apply_many

    async def slow(*args):
        counting.set()
        await release.wait()
        return await real(*args)

    monkeypatch.setattr(rollups, "apply_many", slow)
    flushing = asyncio.create_task(settler.flush())
    await counting.wait()
    reads = counted_reads(store)
    filing = asyncio.create_task(file_events(case[1:3], store=store, settler=settler))
    await asyncio.sleep(0.2)
    assert reads == [] and not filing.done()  # it waits for the clearing to end before reading the record
    release.set()
    await flushing
    await filing
    assert reads == [cid]  # read once: nothing changed it between the read and the write
    assert (await store.get(cid))["version"] == 2 and cid in settler.due
    await settler.flush()
    day = await rollups.rollups(db).find_one({})
    assert day["received"] == 1 and not {"rollup_pending", "rollup_due", "rollup_gen"} & set(await store.get(cid))


async def test_deltas_counted_together_fall_back_one_by_one_where_one_of_them_was_counted(archive):
    db, store = archive
    rid = "g:e:2026-08-05:1"
    done = {"rollup_id": rid, "marker": "m-done", "delta": {"received": 1}}
    await rollups.apply_pending(db, done)  # counted before a crash, not cleared
    # with it: a delta that cancels nothing out on its own, and one that cancels the first
    fresh = [{"rollup_id": rid, "marker": "m-new", "delta": {"received": -1}},
             {"rollup_id": rid, "marker": "m-more", "delta": {"closed": 1}},
             {"rollup_id": "g:e:2026-08-06:0", "marker": "m-other", "delta": {"received": 1}}]
    assert await rollups.apply_many(db, [done, *fresh, fresh[1]]) == 2
    day = await rollups.rollups(db).find_one({"_id": rid})
    assert (day["received"], day["closed"]) == (0, 1) and {"m-done", "m-new", "m-more"} <= set(day["applied"])
    assert (await rollups.rollups(db).find_one({"_id": "g:e:2026-08-06:0"}))["received"] == 1
    await rollups.apply_many(db, [done, *fresh])  # all of them again: nothing changes
    assert (await rollups.rollups(db).find_one({"_id": rid}))["received"] == 0
    assert (await rollups.rollups(db).find_one({"_id": "g:e:2026-08-06:0"}))["received"] == 1


async def test_retention_anonymises_closed_cases_and_they_still_verify(archive):
    db, store = archive
    cases = build("2026-07", 2)
    for case in cases:
        for env in envelopes(case):
            await file_event(env, store=store)
    keep, purge = cases[0][0]["complaint_id"], cases[1][0]["complaint_id"]
    later = datetime.now(UTC) + timedelta(days=400)
    assert await retention.sweep(db, days=3650, action="anonymise", now=later) == {"anonymised": 0, "purged": 0}
    done = await retention.sweep(db, days=30, action="anonymise", now=later)
    assert done["anonymised"] == 2
    record = await store.get(keep)
    assert record["complainant"]["phone"] == "" and record["complainant"]["name"] == ""
    assert record["anonymised_at"] is not None
    assert (await verify_case(db, keep))["ok"] is True
    assert await retention.sweep(db, days=30, action="anonymise", now=later) == {"anonymised": 0, "purged": 0}
    await queries.cases(db).update_one({"_id": purge}, {"$set": {"anonymised_at": None}})
    assert (await retention.sweep(db, days=30, action="purge", now=later))["purged"] == 1
    assert await store.get(purge) is None and await queries.queue(db).find_one({"_id": purge}) is None
    assert (await queries.ledger(db).find_one({"_id": purge}))["purged_at"] is not None


async def test_records_filed_before_chaining_are_chained_at_start_and_then_verify(archive):
    from services.archive.handlers import chain_legacy_records

    db, store = archive
    case = envelopes(build("2026-06", 1)[0])
    for env in case:
        await file_event(env, store=store)
    cid = case[0].complaint_id
    doc = await store.get(cid)
    legacy = [{k: v for k, v in e.items() if k != "hash"}  # as an older version stored it: payloads as documents
              for e in loaded_events(doc["events"])]
    await queries.cases(db).update_one({"_id": cid}, {"$set": {"events": legacy}, "$unset": {"chain_version": ""}})
    assert (await verify_case(db, cid, settle_seconds=0))["ok"] is False
    assert await chain_legacy_records(store) == 1
    assert (await verify_case(db, cid))["ok"] is True
    assert await chain_legacy_records(store) == 0  # once


async def test_payloads_are_kept_as_bson_values_and_records_of_the_version_before_refile_and_verify(archive):
    db, store = archive
    case = envelopes(build("2026-05", 2)[0])
    for env in case[:-1]:
        await file_event(env, store=store)
    cid = case[0].complaint_id
    raw = await store.get(cid)
    assert all(isinstance(e["payload"], bytes) for e in raw["events"])  # one value each, not nested documents
    received = loaded_events(raw["events"])[0]["payload"]
    assert received["complainant"]["phone"] and isinstance(received["received_at"], datetime)
    assert received["received_at"].tzinfo is not None
    assert (await verify_case(db, cid))["ok"] is True

    # as the version before ADR 13 stored it: payloads as documents, the same chain
    await store.collection.update_one({"_id": cid}, {"$set": {"events": loaded_events(raw["events"])}})
    assert (await verify_case(db, cid, settle_seconds=0))["ok"] is True
    await file_event(case[-1], store=store)  # the next filing rewrites every payload the new way
    raw = await store.get(cid)
    assert len(raw["events"]) == len(case) and all(isinstance(e["payload"], bytes) for e in raw["events"])
    assert not raw.get("integrity_alerts")
    assert (await verify_case(db, cid))["ok"] is True
