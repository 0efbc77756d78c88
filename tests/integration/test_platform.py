"""Platform helpers on the real MongoDB-wire server and Kafka: dedupe, no lost updates, outbox recovery."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber
from pymongo import UpdateOne

from shared import metrics
from shared.aggregate import AggregateStore, Decision
from shared.contracts import ComplaintClosed, Envelope
from shared.grouped import GroupedWriter, Write
from shared.messaging import build_broker, ensure_topics, publish, renew_producer, subscribe, subscribe_cases
from shared.mongo import make_client
from shared.outbox import DUE, GEN, OutboxRelay, as_map, outbox_doc, outbox_entries, outbox_map
from shared.settings import ServiceSettings
from tests.helpers import counted_commands, counted_reads, eventually, read_topic


@pytest.fixture
async def platform(infra, prefix, cleanup):
    settings = ServiceSettings(kafka_bootstrap=infra.bootstrap, mongo_url=infra.mongo_url, topic_prefix=prefix,
                               db_prefix=prefix, outbox_min_age_seconds=0)
    client = make_client(settings)
    broker = build_broker(settings, "platform-test")
    await ensure_topics(settings)
    await broker.start()
    coll = client[settings.database("platform")][f"c{uuid.uuid4().hex[:6]}"]
    relay = OutboxRelay(coll, broker, settings)
    yield settings, coll, relay
    await broker.stop()
    await client.close()


async def test_the_database_commands_are_counted_with_their_statements_a_bulk_writes_each(platform):
    settings, coll, _ = platform
    db = coll.database.name

    def counted(kind: str, command: str) -> float:
        family = metrics.DB_COMMANDS if kind == "commands" else metrics.DB_STATEMENTS
        return family.labels(db, command)._value.get()

    before = {(k, c): counted(k, c) for k in ("commands", "statements") for c in ("insert", "update", "find")}
    await coll.insert_many([{"_id": i} for i in range(5)])
    await coll.bulk_write([UpdateOne({"_id": i}, {"$set": {"x": i}}) for i in range(3)], ordered=False)
    await coll.find_one({"_id": 1})
    grown = {key: counted(*key) - was for key, was in before.items()}
    assert grown == {("commands", "insert"): 1, ("statements", "insert"): 5, ("commands", "update"): 1,
                     ("statements", "update"): 3, ("commands", "find"): 1, ("statements", "find"): 1}


async def test_writes_of_concurrent_callers_go_as_one_command_and_each_gets_its_own_answer(platform):
    settings, coll, _ = platform
    await coll.create_index([("u", 1)], unique=True)
    writer = GroupedWriter(coll)
    sent = counted_commands(coll.database.client)
    await asyncio.gather(*(writer.write(Write({"_id": i}, {"u": i}, upsert=True)) for i in range(12)))
    assert [c for c in sent if c[0] == "update"] == [("update", coll.name, 12)]  # one command, 12 statements
    assert await coll.count_documents({}) == 12
    sent.clear()
    # one statement refused (a unique key taken): the others are written, the refused one's caller is told
    writes = [Write({"_id": 100 + i}, {"u": 5 if i == 2 else 100 + i}, upsert=True) for i in range(5)]
    results = await asyncio.gather(*(writer.write(w) for w in writes), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["NoneType", "NoneType", "DuplicateKeyError", "NoneType", "NoneType"]
    assert await coll.count_documents({"_id": {"$gte": 100}}) == 4
    assert sent[0] == ("update", coll.name, 5) and len([c for c in sent if c[0] == "update"]) == 6  # then 1 each


def closed_event(cid: str) -> Envelope[ComplaintClosed]:
    return Envelope[ComplaintClosed](type="ComplaintClosed", correlation_id=uuid.uuid4(), group_id="g",
                                     estate_id="e", complaint_id=cid, payload=ComplaintClosed(outcome="satisfied"))


async def test_concurrent_messages_on_one_document_lose_no_update(platform):
    settings, coll, relay = platform
    store = AggregateStore(coll, relay, settings)

    async def add(i: int) -> None:
        await store.apply("case-1", f"m{i}", lambda doc: Decision(
            changes={"seen": [*(doc or {}).get("seen", []), i]}))

    await asyncio.gather(*(add(i) for i in range(25)))
    doc = await coll.find_one({"_id": "case-1"})
    assert sorted(doc["seen"]) == list(range(25))
    assert doc["version"] == 25


async def test_the_same_message_twice_changes_nothing_the_second_time(platform):
    settings, coll, relay = platform
    store = AggregateStore(coll, relay, settings)

    def bump(doc):
        return Decision(changes={"n": (doc or {}).get("n", 0) + 1})

    assert await store.apply("case-2", "m1", bump) is True
    assert await store.apply("case-2", "m1", bump) is False
    assert (await coll.find_one({"_id": "case-2"}))["n"] == 1


async def test_a_first_message_written_unread_finds_the_document_there_reads_it_and_changes_nothing_again(platform):
    settings, coll, relay = platform
    store = AggregateStore(coll, relay, settings)
    reads = counted_reads(store)

    def count(d: dict | None) -> Decision:
        return Decision(changes={"n": (d or {}).get("n", 0) + 1})

    assert await store.apply("case-7", "first", count, known=None) is True and reads == []  # an insert
    # the same message again (a redelivery), said to be first: the insert finds the case, which is read
    assert await store.apply("case-7", "first", count, known=None) is False and reads == ["case-7"]
    # another message said to be first (a later event filed before it): applied to the case as read
    assert await store.apply("case-7", "second", count, known=None) is True and reads == ["case-7"] * 2
    doc = await coll.find_one({"_id": "case-7"})
    assert doc["n"] == 2 and doc["version"] == 2 and doc["processed"] == ["first", "second"]


async def test_a_store_hands_back_the_document_as_written_and_skips_the_read_it_is_told_the_answer_of(platform):
    settings, coll, relay = platform
    store = AggregateStore(coll, relay, settings)
    reads = counted_reads(store)

    async def stored() -> dict:  # the outbox aside: the relay empties it once Kafka has the events
        return {k: v for k, v in (await coll.find_one({"_id": "case-9"})).items() if not k.startswith("outbox")}

    def mine(doc: dict) -> dict:
        return {k: v for k, v in doc.items() if not k.startswith("outbox")}

    after: dict = {}
    assert await store.apply("case-9", "m1", lambda d: Decision(changes={"a": 1, "nested": {"x": 1}},
                                                              push={"log": "#1"}, events=[closed_event("case-9")]),
                             known=None, into=after)
    assert reads == [] and mine(after) == await stored() and after["outbox"]  # told there was none: not read
    for i in range(2, 5):  # updates: $inc, $push of one value and of $each with $slice, $set of dotted paths
        after = {}
        assert await store.apply("case-9", f"m{i}", lambda d, i=i: Decision(
            changes={"a": d["a"] + 1, f"nested.y{i}": i}, push={"log": f"#{i}"}, events=[closed_event("case-9")]),
            into=after)
        assert mine(after) == await stored()
    assert after["a"] == 4 and after["nested"] == {"x": 1, "y2": 2, "y3": 3, "y4": 4} and after["version"] == 4
    again: dict = {}
    assert await store.apply("case-9", "m4", lambda d: Decision(changes={"a": 0}), into=again) is False
    assert mine(again) == await stored()  # a redelivery: the document as read
    # told a stale document: its write fails at that version, and the change is made to the one read then
    stale = await coll.find_one({"_id": "case-9"})
    await store.apply("case-9", "m5", lambda d: Decision(changes={"a": d["a"] + 1}))
    reads.clear()
    assert await store.apply("case-9", "m6", lambda d: Decision(changes={"a": d["a"] + 1}), known=stale)
    assert reads == ["case-9"] and (await stored())["a"] == stale["a"] + 2


async def test_a_change_written_whole_brings_back_nothing_that_a_clearing_removed_after_the_read(platform):
    """A store writes each change whole, on condition of the version it read and of its guards: the outbox's
    clearing and the archive's rollup clearing only remove fields, on condition of their marker, and leave the
    version as it is. A change made from a read before such a clearing must fail, read again, and keep the
    fields removed."""
    settings, coll, relay = platform
    store = AggregateStore(coll, relay, settings, guards=(GEN, "rollup_gen"))
    reads = counted_reads(store)
    assert await store.apply("case-7", "m1", lambda d: Decision(changes={"a": 1}))
    pending = {"outbox.e9": {"topic": "x", "key": "case-7", "value": "{}"}, GEN: "e9", DUE: True,
               "rollup_pending": [{"marker": "r1"}], "rollup_gen": "r1"}
    await coll.update_one({"_id": "case-7"}, {"$set": pending})  # as a write left them, before their publish
    for guard, gone in ((GEN, {"outbox.e9": "", GEN: "", DUE: ""}),
                        ("rollup_gen", {"rollup_pending": "", "rollup_gen": ""})):
        stale = await coll.find_one({"_id": "case-7"})
        await coll.update_one({"_id": "case-7", guard: stale[guard]}, {"$unset": gone})  # the clearing
        reads.clear()
        assert await store.apply("case-7", f"after-{guard}", lambda d: Decision(changes={"a": d["a"] + 1}),
                                 known=stale)
        assert reads == ["case-7"]  # its write at the version read failed, and it read again
    doc = await coll.find_one({"_id": "case-7"})
    assert doc["a"] == 3 and doc["version"] == 3
    assert not doc.get("outbox") and not {GEN, DUE, "rollup_gen", "rollup_pending"} & set(doc)


async def test_a_lingering_batch_consumer_hands_over_a_cases_events_sent_apart_together(infra, prefix, cleanup):
    """The archive's consumer lingers (`consumer_batch_linger_ms`): the broker holds each fetch until then, so
    a case's events published a little apart are filed in one write, not one each."""
    settings = ServiceSettings(kafka_bootstrap=infra.bootstrap, mongo_url=infra.mongo_url, topic_prefix=prefix,
                               db_prefix=prefix, consumer_batch_linger_ms=5000)
    await ensure_topics(settings)
    calls: list[list[str]] = []
    warm, case = f"warm-{uuid.uuid4().hex[:8]}", f"case-{uuid.uuid4().hex[:8]}"

    async def handler(events: list[Envelope]) -> None:  # called per case (the topic holds other tests' cases too)
        if events[0].complaint_id in (warm, case):
            calls.append([e.complaint_id for e in events])

    async def handled(n: int) -> bool:
        return sum(len(c) for c in calls) >= n

    broker = build_broker(settings, "linger-test")
    subscribe_cases(broker, settings, "linger-test", ("complaint.followup",), handler)
    topic = settings.topic("complaint.followup")
    await broker.start()
    try:
        await publish(broker, topic, closed_event(warm), key=warm)
        await eventually(lambda: handled(1), timeout=60)  # the consumer has joined and is fetching
        for _ in range(3):
            await publish(broker, topic, closed_event(case), key=case)
            await asyncio.sleep(0.2)
        await eventually(lambda: handled(4), timeout=30)
    finally:
        await broker.stop()
    assert calls == [[warm], [case] * 3]


async def test_a_message_handled_writes_no_log_line_of_its_own_at_info(infra, prefix, cleanup, caplog):
    """FastStream's per-message "Received"/"Processed" lines are DEBUG: at INFO they were two lines per message
    with nothing but the time in our JSON (docs/adr/0024)."""
    import logging

    settings = ServiceSettings(kafka_bootstrap=infra.bootstrap, mongo_url=infra.mongo_url, topic_prefix=prefix,
                               db_prefix=prefix)
    await ensure_topics(settings)
    case = f"case-{uuid.uuid4().hex[:8]}"
    handled: list[str] = []

    async def handler(event: Envelope) -> None:
        handled.append(event.complaint_id)

    broker = build_broker(settings, "quiet-test")
    subscribe(broker, settings, "quiet-test", "complaint.followup", handler)
    caplog.set_level(logging.DEBUG, logger="quiet-test.broker")
    await broker.start()
    try:
        await publish(broker, settings.topic("complaint.followup"), closed_event(case), key=case)
        await eventually(lambda: _true(case in handled), timeout=60)
    finally:
        await broker.stop()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "quiet-test.broker"]
    assert (logging.DEBUG, "Received") in lines and (logging.DEBUG, "Processed") in lines
    assert not [line for line in lines if line[0] >= logging.INFO and line[1] in ("Received", "Processed")]


async def _true(value: bool) -> bool:
    return value


async def test_events_left_in_the_outbox_by_a_crash_are_published_by_the_sweeper(platform):
    settings, coll, relay = platform
    cid = str(uuid.uuid4())
    event = closed_event(cid)
    fields = outbox_doc(settings, [event])  # as a writer leaves it: entries and the sweeper's flag
    for entry in fields["outbox"].values():
        entry["created_at"] = datetime.now(UTC) - timedelta(minutes=1)
    await coll.insert_one({"_id": cid, "version": 1, **fields})
    # one left by a version before the flag: only the whole sweep (at start, then hourly) reads it
    legacy, legacy_event = str(uuid.uuid4()), closed_event(str(uuid.uuid4()))
    old = outbox_map(settings, [legacy_event])
    for entry in old.values():
        entry["created_at"] = datetime.now(UTC) - timedelta(minutes=1)
    await coll.insert_one({"_id": legacy, "version": 1, "outbox": old})

    assert await relay.sweep_once() == 1  # the flagged one

    records = [r for r in await read_topic(settings.kafka_bootstrap, settings.topic("complaint.followup"))
               if r.key == cid.encode()]
    assert len(records) == 1 and str(event.event_id).encode() in records[0].value
    stored = await coll.find_one({"_id": cid})
    assert stored["outbox"] == {} and DUE not in stored  # published, and no longer read by the sweeps
    assert await relay.sweep_once() == 0
    assert (await coll.find_one({"_id": legacy}))["outbox"] != {}
    assert await relay.sweep_once(whole=True) == 1
    assert (await coll.find_one({"_id": legacy}))["outbox"] == {}


async def test_the_sweeper_leaves_the_flag_of_a_document_whose_entry_is_still_young(platform):
    settings, coll, relay = platform
    relay.settings = settings.model_copy(update={"outbox_min_age_seconds": 60})
    cid = str(uuid.uuid4())
    await coll.insert_one({"_id": cid, "version": 1, **outbox_doc(settings, [closed_event(cid)])})
    assert await relay.sweep_once() == 0  # young: its writer's to publish
    assert (await coll.find_one({"_id": cid}))[DUE] is True
    await relay.flush(cid)  # the writer publishes it
    assert await relay.sweep_once() == 0
    assert DUE not in await coll.find_one({"_id": cid})


async def test_a_writer_publishing_its_entries_clears_the_flag_unless_a_later_write_added_one(platform):
    settings, coll, relay = platform
    cid, other = str(uuid.uuid4()), str(uuid.uuid4())
    first = outbox_doc(settings, [closed_event(cid), closed_event(cid)])
    await coll.insert_one({"_id": cid, "version": 1, **first})
    assert await relay.flush(cid, first["outbox"]) == 2
    assert {k: v for k, v in (await coll.find_one({"_id": cid})).items() if k != "_id"} == {"version": 1,
                                                                                             "outbox": {}}
    mine = outbox_doc(settings, [closed_event(other)])
    await coll.insert_one({"_id": other, "version": 1, **mine})
    later = outbox_entries(settings, [closed_event(other)])  # written before the first writer publishes
    await coll.update_one({"_id": other}, {"$set": later})
    assert await relay.flush(other, mine["outbox"]) == 1
    stored = await coll.find_one({"_id": other})
    assert list(stored["outbox"]) == list(as_map(later)) and stored[DUE] is True  # left for its writer
    assert await relay.flush(other) == 1
    assert (await coll.find_one({"_id": other}))["outbox"] == {} and DUE not in await coll.find_one({"_id": other})


async def test_the_sweeper_looks_at_once_on_start_then_idles_until_a_publish_fails(platform):
    settings, coll, relay = platform
    relay.settings = settings.model_copy(update={"outbox_sweep_seconds": 0.2, "outbox_idle_sweep_seconds": 3600})

    async def leftover() -> str:
        cid = str(uuid.uuid4())
        fields = outbox_doc(settings, [closed_event(cid)])
        for entry in fields["outbox"].values():
            entry["created_at"] = datetime.now(UTC) - timedelta(minutes=1)
        await coll.insert_one({"_id": cid, **fields})
        return cid

    async def published(cid: str, within: float) -> bool:
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            if (await coll.find_one({"_id": cid}))["outbox"] == {}:
                return True
            await asyncio.sleep(0.1)
        return False

    first = await leftover()  # left by a crash before this instance started
    relay.start()
    try:
        assert await published(first, 10)
        await asyncio.sleep(1)  # two busy-pace sweeps find nothing: the loop goes idle
        second = await leftover()  # e.g. another instance died with it
        assert not await published(second, 2)  # idle: not swept yet (the idle pace is an hour here)
        live, relay.broker = relay.broker, build_broker(settings, "never-started")  # Kafka away for a moment
        third = await leftover()
        await relay.try_flush(third)  # fails, and wakes the sweeper
        relay.broker = live  # Kafka back
        assert await published(second, 10) and await published(third, 10)
    finally:
        await relay.stop()


async def test_a_producer_the_broker_no_longer_knows_is_replaced_and_publishing_resumes(platform):
    """After a broker restart that lost the log's tail, an idempotent producer fails every send with
    OutOfOrderSequenceNumber until it is replaced (seen in the fault test: the operator API stopped publishing)."""
    settings, coll, relay = platform
    broker = relay.broker
    topic = settings.topic("complaint.followup")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await publish(broker, topic, closed_event(first), key=first)
    old = broker.config.producer._producer
    await renew_producer(broker, OutOfOrderSequenceNumber())
    assert broker.config.producer._producer is not old
    await renew_producer(broker)  # a second renewal of a healthy producer is harmless
    await publish(broker, topic, closed_event(second), key=second)
    keys = {r.key for r in await read_topic(settings.kafka_bootstrap, topic)}
    assert {first.encode(), second.encode()} <= keys
