"""The consumer wrapper: poison to the DLQ and move on, retry transient failures in place, never skip."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pymongo.errors import AutoReconnect

from shared.contracts import ComplaintClosed, Envelope, encode
from shared.messaging import COMMITS, process_batch, process_message
from shared.settings import ServiceSettings

SETTINGS = ServiceSettings(retry_initial_seconds=0.001, retry_max_seconds=0.002, retry_budget_seconds=5)


@dataclass
class Record:
    value: bytes
    topic: str = "cc.complaint.followup"
    partition: int = 0
    offset: int = 7
    key: bytes = b"k"
    headers: list = field(default_factory=list)


@dataclass
class FakeConsumer:
    commits: list = field(default_factory=list)

    async def commit(self, offsets) -> None:
        self.commits.append({(tp.topic, tp.partition): o for tp, o in offsets.items()})

    def highwater(self, tp):
        return None


@dataclass
class FakeMessage:
    body: bytes
    offset: int = 7
    nacked: int = 0
    consumer: FakeConsumer = field(default_factory=FakeConsumer)

    @property
    def raw_message(self) -> Record:
        return Record(self.body, offset=self.offset)

    async def ack(self) -> None:  # the wrapper never commits message by message (shared.messaging.Commits)
        raise AssertionError("committed on its own")

    async def nack(self) -> None:
        self.nacked += 1

    @property
    async def acked(self) -> int:
        """1 when the offset after this message was committed (pending commits flushed first)."""
        await COMMITS.flush()
        return int({("cc.complaint.followup", 0): self.offset + 1} in self.consumer.commits)


@dataclass
class FakeBroker:
    fail: bool = False
    sent: list = field(default_factory=list)

    async def publish(self, body, topic, key=None, headers=None):
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((topic, body, headers))


def valid(outcome: str = "satisfied", case: str | None = None) -> bytes:
    cid = case or str(uuid.uuid4())
    return encode(Envelope[ComplaintClosed](type="ComplaintClosed", correlation_id=uuid.UUID(cid), group_id="g",
                                            estate_id="e", complaint_id=cid,
                                            payload=ComplaintClosed(outcome=outcome)))


async def test_a_message_that_is_not_json_goes_to_the_dlq_with_the_reason_and_is_committed():
    broker, msg, calls = FakeBroker(), FakeMessage(b"garbage"), []
    await process_message(broker, SETTINGS, "svc", msg, lambda e: calls.append(e))
    topic, body, headers = broker.sent[0]
    assert topic == "cc.complaint.followup.dlq" and body == b"garbage"
    assert headers["x-dlq-reason"].startswith("not JSON") and headers["x-dlq-offset"] == "7"
    assert await msg.acked == 1 and calls == []


async def test_a_transient_failure_is_retried_in_place_until_it_succeeds():
    attempts = []

    async def flaky(event):
        attempts.append(event)
        if len(attempts) < 3:
            raise AutoReconnect("mongo down")

    broker, msg = FakeBroker(), FakeMessage(valid())
    await process_message(broker, SETTINGS, "svc", msg, flaky)
    assert len(attempts) == 3 and await msg.acked == 1 and broker.sent == []


async def test_a_handler_bug_parks_the_message_in_the_dlq_and_the_stream_moves_on():
    async def buggy(event):
        raise KeyError("assignee")

    broker, msg = FakeBroker(), FakeMessage(valid())
    await process_message(broker, SETTINGS, "svc", msg, buggy)
    assert "handler failed: KeyError" in broker.sent[0][2]["x-dlq-reason"] and await msg.acked == 1


async def test_when_even_the_dlq_cannot_be_written_the_message_is_sought_back_not_skipped():
    broker, msg = FakeBroker(fail=True), FakeMessage(b"garbage")
    await process_message(broker, SETTINGS, "svc", msg, lambda e: None)
    assert msg.nacked == 1 and await msg.acked == 0


async def test_after_the_retry_budget_the_message_is_sought_back_for_redelivery():
    settings = ServiceSettings(retry_initial_seconds=0.001, retry_max_seconds=0.001, retry_budget_seconds=0.01)

    async def down(event):
        raise AutoReconnect("still down")

    msg = FakeMessage(valid())
    await process_message(FakeBroker(), settings, "svc", msg, down)
    assert msg.nacked == 1 and await msg.acked == 0


async def test_handled_offsets_are_committed_together_and_never_past_a_message_not_yet_handled():
    settings = ServiceSettings(retry_initial_seconds=0.001, retry_max_seconds=0.001, retry_budget_seconds=0.01,
                               consumer_commit_interval_ms=60_000)
    consumer = FakeConsumer()

    async def handler(event):
        if event.payload.outcome == "unreachable":
            raise AutoReconnect("down")

    for offset, body in ((7, valid()), (8, b"garbage"), (9, valid())):
        await process_message(FakeBroker(), settings, "svc", FakeMessage(body, offset, consumer=consumer), handler)
    assert consumer.commits == []  # not one round trip per message: together, a moment later
    stuck = FakeMessage(valid("unreachable"), 10, consumer=consumer)
    await process_message(FakeBroker(), settings, "svc", stuck, handler)
    assert stuck.nacked == 1
    await COMMITS.flush()
    assert consumer.commits == [{("cc.complaint.followup", 0): 10}]  # up to 9 (the DLQ'd 8 too), not 10
    await COMMITS.flush()
    assert len(consumer.commits) == 1


@dataclass
class FakeBatch:
    """What a batch consumer hands over: records of several partitions, each partition's in order."""

    records: tuple
    nacked: int = 0
    consumer: FakeConsumer = field(default_factory=FakeConsumer)

    @property
    def raw_message(self) -> tuple:
        return self.records

    async def nack(self) -> None:
        self.nacked += 1


def batch(*bodies: tuple[str, int, bytes]) -> FakeBatch:
    """(topic, partition, body) each, offsets counted per partition from 20."""
    seen: dict = {}
    records = []
    for topic, partition, body in bodies:
        offset = seen[(topic, partition)] = seen.get((topic, partition), 19) + 1
        records.append(Record(body, topic=topic, partition=partition, offset=offset))
    return FakeBatch(tuple(records))


async def test_a_batch_hands_each_cases_messages_over_together_and_commits_every_partition():
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    msg = batch(("cc.complaint.received", 0, valid(case=a)), ("cc.complaint.received", 0, valid(case=b)),
                ("cc.complaint.triaged", 3, b"garbage"), ("cc.complaint.triaged", 3, valid(case=a)))
    got, broker = [], FakeBroker()

    async def handler(events):
        got.append([e.complaint_id for e in events])

    await process_batch(broker, SETTINGS, "svc", msg, handler)
    assert sorted(got) == sorted([[a, a], [b]])
    assert [t for t, _, _ in broker.sent] == ["cc.complaint.triaged.dlq"]
    await COMMITS.flush()
    assert msg.consumer.commits == [{("cc.complaint.received", 0): 22, ("cc.complaint.triaged", 3): 22}]
    assert msg.nacked == 0


async def test_when_a_cases_messages_fail_together_each_is_handled_alone_and_only_the_bad_one_is_parked():
    case = str(uuid.uuid4())
    msg = batch(*(("cc.complaint.followup", 0, valid(o, case)) for o in ("satisfied", "unreachable", "satisfied")))
    handled, broker = [], FakeBroker()

    async def handler(events):
        if any(e.payload.outcome == "unreachable" for e in events):
            raise KeyError("a rule this message breaks")
        handled.extend(events)

    await process_batch(broker, SETTINGS, "svc", msg, handler)
    assert len(handled) == 2 and len(broker.sent) == 1
    assert broker.sent[0][2]["x-dlq-offset"] == "21" and "KeyError" in broker.sent[0][2]["x-dlq-reason"]
    await COMMITS.flush()
    assert msg.consumer.commits == [{("cc.complaint.followup", 0): 23}]


async def test_a_batch_not_handled_in_time_is_sought_back_whole_and_nothing_of_it_is_committed():
    settings = ServiceSettings(retry_initial_seconds=0.001, retry_max_seconds=0.001, retry_budget_seconds=0.01)
    msg = batch(("cc.complaint.received", 0, valid()), ("cc.complaint.received", 1, valid("unreachable")))

    async def handler(events):
        if events[0].payload.outcome == "unreachable":
            raise AutoReconnect("down")

    await process_batch(FakeBroker(), settings, "svc", msg, handler)
    await COMMITS.flush()
    assert msg.nacked == 1 and msg.consumer.commits == []


async def test_every_outcome_is_counted_with_its_latency_and_the_lag_behind_the_partition_end():
    from prometheus_client import REGISTRY

    class Consumer(FakeConsumer):
        def highwater(self, tp):
            return 12  # offsets 8…11 still to come after offset 7

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"service": "metrics-test", **labels}) or 0.0

    topic = "cc.complaint.followup"

    async def buggy(event):
        raise KeyError("x")

    async def fine(event):
        return None

    for body, handler in ((valid(), fine), (b"garbage", fine), (valid(), buggy)):
        msg = FakeMessage(body)
        msg.consumer = Consumer()
        await process_message(FakeBroker(), SETTINGS, "metrics-test", msg, handler)
    assert value("cc_messages_processed_total", topic=topic, type="ComplaintClosed", outcome="ok") == 1
    assert value("cc_messages_processed_total", topic=topic, type="?", outcome="dlq") == 1
    assert value("cc_messages_processed_total", topic=topic, type="ComplaintClosed", outcome="dlq") == 1
    assert value("cc_dlq_messages_total", topic=topic) == 2
    assert value("cc_handler_seconds_count", topic=topic) == 3
    assert value("cc_consumer_lag", topic=topic, partition="0") == 4


async def test_log_lines_written_while_a_message_is_handled_carry_its_correlation_and_complaint_id():
    import json
    import logging

    from shared.logs import JsonFormatter

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(JsonFormatter("svc").format(record))

    logger = logging.getLogger("case-test")
    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)

    async def handler(event):
        logger.info("working on it for 13812341234")

    body = valid()
    await process_message(FakeBroker(), SETTINGS, "svc", FakeMessage(body), handler)
    logger.info("between messages")
    first, second = (json.loads(x) for x in lines)
    sent = json.loads(body)
    assert first["correlation_id"] == sent["correlation_id"] and first["complaint_id"] == sent["complaint_id"]
    assert "13812341234" not in first["msg"] and "correlation_id" not in second


async def test_with_tracing_on_one_trace_follows_a_message_across_kafka_hops():
    from faststream.kafka import TestKafkaBroker
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from shared.messaging import build_broker
    from shared.tracing import tracer_provider

    assert tracer_provider(SETTINGS, "svc") is None  # off by default
    exporter = InMemorySpanExporter()
    provider = tracer_provider(SETTINGS, "svc", exporter=exporter)
    broker = build_broker(SETTINGS, "svc", tracer_provider=provider)
    done = []

    @broker.subscriber("cc.hop.one")
    async def first(body: str) -> None:
        await broker.publish(body, "cc.hop.two")

    @broker.subscriber("cc.hop.two")
    async def second(body: str) -> None:
        done.append(body)

    async with TestKafkaBroker(broker) as br:
        await br.publish("楼道灯坏了", "cc.hop.one")
    provider.force_flush()
    spans = exporter.get_finished_spans()
    assert done == ["楼道灯坏了"]
    assert len(spans) >= 4 and len({s.context.trace_id for s in spans}) == 1  # publish→consume→publish→consume


async def test_a_subscriber_gets_its_message_without_a_thread_hand_off(monkeypatch):
    """The consumer wrapper takes the message from the broker's context, not as a handler parameter, which
    FastStream resolves in a worker thread on every message (docs/adr/0024)."""
    import fast_depends.utils
    from faststream.kafka import KafkaBroker, TestKafkaBroker

    import shared.messaging as messaging

    hops: list[str] = []
    real = fast_depends.utils.run_in_threadpool

    async def counted(func, *args, **kwargs):
        hops.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(fast_depends.utils, "run_in_threadpool", counted)
    seen: list[tuple[bool, int]] = []

    async def fake_process(broker, settings, service, msg, handler) -> None:
        from faststream.kafka.message import KafkaMessage

        seen.append((isinstance(msg, KafkaMessage), len(msg.body)))

    monkeypatch.setattr(messaging, "process_message", fake_process)
    broker = KafkaBroker()
    messaging.subscribe(broker, SETTINGS, "t", "complaint.followup", lambda envelope: None)
    async with TestKafkaBroker(broker) as test_broker:
        for _ in range(3):
            await test_broker.publish(b"{}", SETTINGS.topic("complaint.followup"))
    assert seen == [(True, 2)] * 3 and hops == []
