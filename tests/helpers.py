"""Small test helpers: polling, raw Kafka produce/consume, committed offsets, sample complaints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 20.0, interval: float = 0.1,
                     what: str = "condition") -> T:
    """Poll until `probe` returns something truthy; fail with `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def counted_reads(store: Any) -> list[str]:
    """The ids an `AggregateStore` reads from now on, in order."""
    reads: list[str] = []
    read = store.get

    async def counted(doc_id: str) -> Any:
        reads.append(doc_id)
        return await read(doc_id)

    store.get = counted
    return reads


def counted_commands(client: Any) -> list[tuple[str, str, int]]:
    """The commands a client made with `shared.mongo.make_client` sends from now on: (command, collection,
    statements), as its `CommandCounter` sees them."""
    from shared.mongo import CommandCounter, statements

    sent: list[tuple[str, str, int]] = []
    counter = next(c for c in client.options.event_listeners if isinstance(c, CommandCounter))
    started = counter.started

    def watched(event: Any) -> None:
        sent.append((event.command_name, str(event.command.get(event.command_name)), statements(event)))
        started(event)

    counter.started = watched  # type: ignore[method-assign]
    return sent


def spy_finds(monkeypatch: Any, collection: Any, keep: Callable[[dict], bool] = lambda flt: True) -> list[dict]:
    """The filters of the `find`s asked of `collection` from now on (those `keep` says)."""
    asked: list[dict] = []
    find = collection.find

    def watched(flt: dict, *args: Any, **kwargs: Any) -> Any:
        if keep(flt):
            asked.append(flt)
        return find(flt, *args, **kwargs)

    monkeypatch.setattr(collection, "find", watched)
    return asked


async def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None,
                  headers: list[tuple[str, bytes]] | None = None) -> tuple[int, int]:
    """Send raw bytes; return (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        md = await producer.send_and_wait(topic, value, key=key, headers=headers)
        return md.partition, md.offset
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, timeout_ms: int = 3000) -> list[Any]:
    """Every record currently on a topic, from the beginning, without joining a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - fresh topic
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records = []
        async def behind() -> bool:
            for tp in tps:
                if await consumer.position(tp) < ends[tp]:
                    return True
            return False

        while await behind():
            batch = await consumer.getmany(timeout_ms=timeout_ms)
            if not batch:
                break
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def committed(bootstrap: str, group: str, topic: str, partition: int) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        meta = offsets.get(TopicPartition(topic, partition))
        return meta.offset if meta else -1
    finally:
        await admin.close()


def complaint(estate_id: str = "e-lakeside", text: str = "楼道灯坏了一周了没人修", **extra: Any) -> dict[str, Any]:
    body = {"estate_id": estate_id,
            "complainant": {"name": "张三", "phone": "13812341234", "unit": "3栋2单元1201"},
            "text": text, "demand": "尽快修好"}
    body.update(extra)
    return body


LIFECYCLE_TYPES = {"ComplaintReceived", "ComplaintTriaged", "ComplaintAssigned", "ComplaintResolved",
                   "FollowUpRecorded", "ComplaintReopened", "ComplaintClosed"}


def types_of(case: dict[str, Any]) -> list[str]:
    """The lifecycle steps on a case's timeline (leaving out notices, callback tasks, warnings and the like)."""
    return [t["type"] for t in case["timeline"] if t["type"] in LIFECYCLE_TYPES]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()
