"""Consumer lag per group and growing partitions, on the real broker: refused while a group lags."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from shared.messaging import ensure_topics
from shared.partitions import grow, lag
from shared.settings import ServiceSettings
from tests.helpers import produce


@pytest.fixture
async def kafka(infra):
    prefix = "p" + uuid.uuid4().hex[:8]  # topics of this test only
    settings = ServiceSettings(kafka_bootstrap=infra.bootstrap, topic_prefix=prefix, topic_partitions=2)
    await ensure_topics(settings, [settings.topic("complaint.received")])
    yield settings
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap)
    await admin.start()
    await admin.delete_topics([t for t in await admin.list_topics() if t.startswith(prefix + ".")])
    await admin.close()


async def commit(settings: ServiceSettings, group: str, offsets: dict[int, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        topic = settings.topic("complaint.received")
        consumer.assign([TopicPartition(topic, p) for p in offsets])
        await consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in offsets.items()})
    finally:
        await consumer.stop()


async def test_lag_is_reported_per_group_and_growing_waits_until_nothing_is_waiting(kafka):
    settings = kafka
    topic = settings.topic("complaint.received")
    for i in range(6):
        await produce(settings.kafka_bootstrap, topic, b"{}", key=f"case-{i}".encode())
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    ends = await consumer.end_offsets([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    await consumer.stop()
    group = settings.topic("triage")
    await commit(settings, group, {0: 0, 1: ends[TopicPartition(topic, 1)]})  # partition 0 not yet handled

    rows = [r for r in await lag(settings) if r.group == group]
    assert [(r.topic, r.partitions, r.lag) for r in rows] == [(topic, 2, ends[TopicPartition(topic, 0)])]
    with pytest.raises(RuntimeError, match="still waiting"):
        await grow(settings, 4)

    await commit(settings, group, {0: ends[TopicPartition(topic, 0)]})  # caught up
    assert await grow(settings, 4) == {topic: (2, 4)}
    assert await grow(settings, 3) == {}  # never lowers
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    described = await admin.describe_topics([topic])
    await admin.close()
    assert len(described[0]["partitions"]) == 4
