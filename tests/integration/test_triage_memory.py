"""Triage's memory of recent complaints on the real MongoDB-wire server: a chain's report count survives a
restart and costs one write per report, however long the chain (a lift outage with hundreds of callers)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.triage.history import RecentComplaints
from services.triage.linking import Seen
from shared.mongo import make_client
from shared.settings import ServiceSettings


@pytest.fixture
async def recent(infra, prefix, cleanup):
    settings = ServiceSettings(mongo_url=infra.mongo_url, db_prefix=prefix)
    client = make_client(settings)
    c = client[settings.database("triage_memory")][f"r{uuid.uuid4().hex[:6]}"]
    store = RecentComplaints(c)
    await store.ensure_indexes()
    yield store
    await c.drop()
    await client.close()


async def test_a_chain_of_repeats_is_counted_across_a_restart_and_writes_only_its_first_report(recent):
    now = datetime.now(UTC)
    text = "3栋电梯又坏了，困在里面半小时"

    def seen(i: int) -> Seen:
        return Seen(f"c{i}", "e-lakeside", "3栋", "3栋2单元1201", "13812341234", "lift",
                    frozenset(text[j:j + 2] for j in range(len(text) - 1)), f"c{i}", 1, 0)

    for i in range(6):
        history = await recent.load("g-hengan", "e-lakeside", now + timedelta(minutes=i), unit="3栋2单元1201")
        s = seen(i)
        link = history.find(s, emergency=False)
        assert (link is None) == (i == 0)
        if link:
            assert (link.root, link.reports) == ("c0", i + 1)
        history.remember(s, link)
        before = {d["_id"]: d.get("reports", 1) for d in await recent.collection.find({}).to_list(None)}
        await recent.save("g-hengan", s, link, now + timedelta(minutes=i))
        after = {d["_id"]: d.get("reports", 1) for d in await recent.collection.find({}).to_list(None)}
        changed = {k for k in before if before[k] != after[k]}
        assert changed <= {"c0"}, changed  # earlier reports are left alone

    fresh = await recent.load("g-hengan", "e-lakeside", now + timedelta(minutes=10), unit="3栋2单元1201")
    assert {item.root for item in fresh.items} == {"c0"}
    assert {item.reports for item in fresh.items} == {6}  # every member of the chain knows its count


async def test_memory_holds_the_incident_window_and_a_households_month(recent):
    now = datetime.now(UTC)

    def seen(cid: str, unit: str, phone: str, text: str) -> Seen:
        return Seen(cid, "e-lakeside", "5栋", unit, phone, "noise",
                    frozenset(text[j:j + 2] for j in range(len(text) - 1)), cid, 1, 0)

    await recent.save("g-hengan", seen("old-household", "5栋1单元301", "13900000001", "楼上装修噪音太大"), None,
                      now - timedelta(days=20))
    await recent.save("g-hengan", seen("old-neighbour", "5栋1单元502", "13900000002", "楼上装修噪音太大"), None,
                      now - timedelta(days=5))
    await recent.save("g-hengan", seen("today-neighbour", "5栋2单元101", "13900000003", "楼上装修噪音太大"), None,
                      now - timedelta(hours=3))
    await recent.save("g-hengan", seen("too-old", "5栋1单元301", "13900000001", "楼上装修噪音太大"), None,
                      now - timedelta(days=40))
    history = await recent.load("g-hengan", "e-lakeside", now, unit="5栋1单元301", phone="13900000001")
    assert {i.id for i in history.items} == {"old-household", "today-neighbour"}
