"""Leases on the real MongoDB-wire server: one holder at a time, takeover when the holder dies, and the outbox
sweeper of two instances publishing a leftover once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts import ComplaintClosed, Envelope
from shared.lease import Lease, run_leased
from shared.messaging import build_broker, ensure_topics
from shared.mongo import make_client
from shared.outbox import OutboxRelay, outbox_doc
from shared.settings import ServiceSettings
from tests.helpers import read_topic


@pytest.fixture
async def env(infra, prefix, cleanup):
    settings = ServiceSettings(kafka_bootstrap=infra.bootstrap, mongo_url=infra.mongo_url, topic_prefix=prefix,
                               db_prefix=prefix, outbox_min_age_seconds=0, outbox_sweep_seconds=0.2)
    clients = [make_client(settings) for _ in range(2)]  # two instances: two clients
    name = f"l{uuid.uuid4().hex[:6]}"
    colls = [c[settings.database("lease")][name] for c in clients]
    yield settings, colls
    await colls[0].drop()
    for c in clients:
        await c.close()


async def test_of_instances_racing_for_a_free_lease_exactly_one_holds_it(env):
    _, colls = env
    leases = [Lease(colls[i % 2], "timers", f"inst-{i}", ttl=3, margin=0.5) for i in range(10)]
    held = await asyncio.gather(*(lease.hold() for lease in leases))
    assert sum(held) == 1
    winner = leases[held.index(True)]
    assert [await lease.hold() for lease in leases if lease is not winner] == [False] * 9
    assert (await colls[0].find_one({"_id": "timers"}))["holder"] == winner.holder


async def test_a_dead_holders_lease_is_taken_over_when_it_runs_out_and_a_restarted_holder_takes_it_back(env):
    _, colls = env
    a = Lease(colls[0], "poll", "inst-a", ttl=3, margin=0.5)
    b = Lease(colls[1], "poll", "inst-b", ttl=3, margin=0.5)
    assert await a.hold()
    assert not await b.hold()
    await asyncio.sleep(1.2)  # a renews (a third has passed); b still cannot take it
    assert await a.hold() and not await b.hold()
    # a dies without a word: b takes over once the lease runs out, and not before
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await b.hold():
        await asyncio.sleep(0.1)
    assert 2.0 <= loop.time() - start <= 5.0
    # b restarts (same instance id, a fresh process): it takes its own lease back at once
    b2 = Lease(colls[1], "poll", "inst-b", ttl=3, margin=0.5)
    assert await b2.hold()
    assert not await Lease(colls[0], "poll", "inst-a", ttl=3, margin=0.5).hold()


async def test_a_leased_job_runs_on_one_instance_at_a_time_and_moves_when_its_holder_stops(env):
    _, colls = env
    running: list[str] = []  # who is running the job now
    overlaps: list[list[str]] = []
    ticks: dict[str, int] = {"a": 0, "b": 0}

    def job(who: str):
        async def run() -> None:
            running.append(who)
            try:
                while True:
                    if len(running) > 1:
                        overlaps.append(list(running))
                    ticks[who] += 1
                    await asyncio.sleep(0.05)
            finally:
                running.remove(who)
        return run

    a = asyncio.create_task(run_leased(Lease(colls[0], "rollups", "inst-a", ttl=3, margin=0.5), job("a")))
    await asyncio.sleep(0.5)
    b = asyncio.create_task(run_leased(Lease(colls[1], "rollups", "inst-b", ttl=3, margin=0.5), job("b")))
    await asyncio.sleep(2)
    assert ticks["a"] > 10 and ticks["b"] == 0
    a.cancel()  # a clean stop releases the lease: b takes over within its retry interval
    await asyncio.gather(a, return_exceptions=True)
    await asyncio.sleep(2.5)
    assert ticks["b"] > 5 and running == ["b"]
    b.cancel()
    await asyncio.gather(b, return_exceptions=True)
    assert overlaps == [] and running == []


async def test_with_two_instances_a_leftover_outbox_entry_is_published_once(env, infra):
    settings, colls = env
    await ensure_topics(settings)
    brokers = [build_broker(settings, f"lease-test-{i}") for i in range(2)]
    for b in brokers:
        await b.start()
    relays = [OutboxRelay(colls[i], brokers[i], settings,
                          lease=Lease(colls[i].database["leases"], f"outbox:{colls[i].name}", f"inst-{i}",
                                      ttl=3, margin=0.5)) for i in range(2)]
    cids = [str(uuid.uuid4()) for _ in range(5)]
    for cid in cids:  # left by a crash: both instances start and sweep
        env_ = Envelope[ComplaintClosed](type="ComplaintClosed", correlation_id=uuid.uuid4(), group_id="g",
                                         estate_id="e", complaint_id=cid, payload=ComplaintClosed(outcome="satisfied"))
        fields = outbox_doc(settings, [env_])
        for entry in fields["outbox"].values():
            entry["created_at"] = datetime.now(UTC) - timedelta(minutes=1)
        await colls[0].insert_one({"_id": cid, **fields})
    for r in relays:
        r.start()
    try:
        for _ in range(100):
            if await colls[0].count_documents({"outbox": {"$ne": {}}}) == 0:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)  # both sweepers keep going at the busy pace for a while
    finally:
        for r in relays:
            await r.stop()
        for b in brokers:
            await b.stop()
    records = [r for r in await read_topic(infra.bootstrap, settings.topic("complaint.followup"))
               if r.key.decode() in cids]
    assert sorted(r.key.decode() for r in records) == sorted(cids)  # each once
