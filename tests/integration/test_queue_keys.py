"""Queue pages chosen among small documents (`queue_keys`) on the real MongoDB-wire server: the same pages as
from the list view itself, kept up to date by every filing, built once for cases listed before, and removed
with a purged case."""

from __future__ import annotations

import pytest

from deploy.demo_history import build
from services.archive import queries, retention
from services.archive.handlers import file_event
from services.archive.queries import list_cases
from shared.aggregate import AggregateStore
from shared.contracts import Envelope, NoticeSent
from shared.scope import Scope
from tests.integration.test_archive_store import envelopes


async def file_cases(store: AggregateStore, n: int) -> list[list]:
    """n cases at different points of their lives: each files the first 2..all of its events."""
    cases = [envelopes(c) for c in build("2026-04", n)]
    for i, case in enumerate(cases):
        for env in case[:2 + i % (len(case) - 1)]:
            await file_event(env, store=store)
    return cases


def pages(result: dict) -> tuple[int, list[tuple[str, str]]]:
    return result["total"], [(it["complaint_id"], it["status"]) for it in result["items"]]


LISTS = [dict(), dict(status="assigned"), dict(status="closed"), dict(page=2, page_size=3),
         dict(channel="phone"), dict(needs_review=False, page_size=5)]


async def test_pages_from_the_keys_are_the_pages_of_the_list_view(archive):
    db, store = archive
    cases = await file_cases(store, 14)
    group = Scope(cases[0][0].group_id)
    estates = sorted({c[0].estate_id for c in cases})
    lists = [*LISTS, dict(estate_id=estates[0]), dict(estate_id=estates[-1], status="assigned")]
    assert not await queries.keys_ready(db)  # until the keys are known complete, pages come from `queue`
    expected = [pages(await list_cases(db, group, **kw)) for kw in lists]
    assert {s for _, items in expected for _, s in items} >= {"assigned", "closed"}
    assert await queries.backfill_queue_keys(db) == 0  # every filing wrote its keys already
    assert await queries.keys_ready(db)
    asked = []
    real_find = queries.queue(db).__class__.find

    def spy(self, flt=None, *args, **kwargs):
        if self.name == "queue":
            asked.append(flt)
        return real_find(self, flt, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(queries.queue(db).__class__, "find", spy)
        got = [pages(await list_cases(db, group, **kw)) for kw in lists]
    assert got == expected
    assert asked and all(set(flt) == {"_id"} for flt in asked)  # the list view is read by key only
    region = Scope(group.group_id, frozenset(estates[:2]))  # estates and a status: `estate_status` values
    for kw in (dict(status="assigned"), dict(status="closed"), dict(), dict(status="assigned", page_size=1)):
        assert pages(await list_cases(db, region, **kw)) == pages(await list_cases(db, region, via_keys=False,
                                                                                   **kw))
    # the search and the phone look-up still read the list view (their fields are not keys)
    assert (await list_cases(db, group, q="漏水"))["total"] == (await queries.queue(db).count_documents(
        {"terms": "漏水"}))


async def test_a_filing_moves_a_case_between_pages_and_a_purge_removes_it(archive):
    db, store = archive
    cases = [envelopes(c) for c in build("2026-03", 1)]
    case = cases[0]
    group = Scope(case[0].group_id)
    await queries.backfill_queue_keys(db)
    await file_event(case[0], store=store)
    await file_event(case[1], store=store)
    cid = case[0].complaint_id
    first = (await queries.queue_keys(db).find_one({"_id": cid}))["status"]
    assert [it["complaint_id"] for it in (await list_cases(db, group, status=first))["items"]] == [cid]
    for env in case[2:]:
        await file_event(env, store=store)
    assert (await list_cases(db, group, status=first))["total"] == 0
    assert [it["complaint_id"] for it in (await list_cases(db, group, status="closed"))["items"]] == [cid]
    await file_event(case[-1], store=store)  # a redelivery rewrites the same keys
    assert await queries.queue_keys(db).count_documents({}) == 1

    await retention.sweep(db, days=0, action="purge")
    assert await queries.queue_keys(db).find_one({"_id": cid}) is None
    assert (await list_cases(db, group))["total"] == 0


async def test_cases_listed_before_the_keys_get_them_once_at_start(archive):
    db, store = archive
    cases = await file_cases(store, 9)
    group = Scope(cases[0][0].group_id)
    expected = [pages(await list_cases(db, group, **kw)) for kw in LISTS]
    await queries.queue_keys(db).delete_many({})  # as a version before kept them: no keys at all
    kept = cases[3][0].complaint_id
    await queries.queue_keys(db).insert_one({**queries.key_entry(await queries.queue(db).find_one({"_id": kept})),
                                             "status": "newer"})  # written by a filing meanwhile: kept
    assert await queries.backfill_queue_keys(db) == 8
    assert (await queries.queue_keys(db).find_one({"_id": kept}))["status"] == "newer"
    await queries.queue_keys(db).update_one({"_id": kept}, {"$set": {
        "status": (await queries.queue(db).find_one({"_id": kept}))["status"]}})
    assert [pages(await list_cases(db, group, **kw)) for kw in LISTS] == expected
    assert await queries.backfill_queue_keys(db) == 0  # once


async def test_a_filing_that_changes_nothing_listed_leaves_the_list_entry_and_the_live_feed_alone(archive):
    """A notice sent to the complainant is filed on the record but changes nothing an operator's list shows: the
    list entry is not rewritten, so the live feed (its `changed_at`) does not announce it. A filing that does
    change the entry rewrites it."""
    db, store = archive
    case = envelopes(build("2026-05", 1)[0])
    for env in case[:3]:  # received, triaged, assigned
        await file_event(env, store=store)
    cid = case[0].complaint_id
    entry = await queries.queue(db).find_one({"_id": cid})
    notice = Envelope[NoticeSent](
        type="NoticeSent", correlation_id=case[0].correlation_id, group_id=case[0].group_id,
        estate_id=case[0].estate_id, complaint_id=cid,
        payload=NoticeSent(notice_id=f"{cid}:assigned:1:sms", point="assigned", channel="sms",
                           to_masked="138****0000", text="您的投诉已派给工程维修部处理。", attempts=1))
    await file_event(notice, store=store)
    record = await store.get(cid)
    assert record["timeline"][-1]["type"] == "NoticeSent" and len(record["timeline"]) == 4  # filed on the record
    assert await queries.queue(db).find_one({"_id": cid}) == entry  # not rewritten: same stamp
    await file_event(case[3], store=store)  # progress recorded: the entry changes (status, due)
    after = await queries.queue(db).find_one({"_id": cid})
    assert after["changed_at"] > entry["changed_at"]
    assert {k: v for k, v in after.items() if k not in ("changed_at", "changed_slot")} == \
        {"_id": cid, **queries.queue_entry(await store.get(cid))}
