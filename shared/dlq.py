"""`make replay-dlq TOPIC=complaint.received`: send parked messages back to their topic after a fix.

Reads `<prefix>.<topic>.dlq` in its own consumer group, so every parked message is replayed once; the
original bytes, key and headers go back to the topic they came from, marked `x-dlq-replayed`. A message
that is still bad simply lands in the DLQ again with its reason; consumers dedupe the rest.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.settings import ServiceSettings


@dataclass
class ReplayResult:
    replayed: int = 0
    skipped: int = 0


async def replay(settings: ServiceSettings, topic_name: str, *, service: str | None = None,
                 dry_run: bool = False, idle_ms: int = 3000) -> ReplayResult:
    """Replay what was parked before this call started (a still-bad message re-parked now waits for the next)."""
    dlq = f"{settings.topic(topic_name)}.dlq"
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                group_id=f"{settings.topic_prefix}.dlq-replay", auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True)
    await consumer.start()
    await producer.start()
    result = ReplayResult()
    try:
        tps = [TopicPartition(dlq, p) for p in await _partitions(settings, dlq)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            batch = await consumer.getmany(*tps, timeout_ms=idle_ms)
            if not batch:
                break
            for tp, records in batch.items():
                for rec in records:
                    if rec.offset >= ends[tp]:
                        continue
                    await _replay_one(producer, settings, topic_name, rec, service, dry_run, result)
            if not dry_run:
                await consumer.commit({tp: min(await consumer.position(tp), ends[tp]) for tp in tps})
        return result
    finally:
        await producer.stop()
        await consumer.stop()


async def _partitions(settings: ServiceSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described if t["topic"] == topic for p in t["partitions"])


async def _replay_one(producer: AIOKafkaProducer, settings: ServiceSettings, topic_name: str, rec, service: str | None,
                      dry_run: bool, result: ReplayResult) -> None:
    headers = dict(rec.headers or [])
    if service and headers.get("x-dlq-service", b"").decode() != service:
        result.skipped += 1
        return
    target = headers.get("x-dlq-topic", settings.topic(topic_name).encode()).decode()
    if not dry_run:
        kept = [(k, v) for k, v in (rec.headers or []) if not k.startswith("x-dlq-")]
        await producer.send_and_wait(target, rec.value, key=rec.key, headers=[*kept, ("x-dlq-replayed", b"1")])
    result.replayed += 1


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="replay-dlq")
    ap.add_argument("topic", help="the source topic without prefix, e.g. complaint.received")
    ap.add_argument("--service", help="only what this service parked")
    ap.add_argument("--dry-run", action="store_true", help="count, send nothing, commit nothing")
    args = ap.parse_args(argv)
    r = asyncio.run(replay(ServiceSettings(), args.topic, service=args.service, dry_run=args.dry_run))
    print(f"replayed {r.replayed}, skipped {r.skipped} ({'dry run' if args.dry_run else 'sent'})")


if __name__ == "__main__":
    main()
