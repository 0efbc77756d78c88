"""Consumer lag per group, and growing the topics' partitions without breaking a complaint's order.

`python -m shared.partitions lag`          every consumer group of the center: messages waiting per topic
`python -m shared.partitions grow N`       raise every topic of the center to N partitions (never lowers)

Every lifecycle message is keyed by complaint id, so one complaint's events sit on one partition, in order.
Adding partitions changes which partition a key maps to: a complaint's next event may land on a new partition
while its earlier ones still wait on the old, and a consumer could see them out of order. So `grow` refuses
while any group of the center has messages waiting (lag), unless --force; with no lag, every earlier event
has been handled and the new mapping cannot overtake anything. Stop the intakes (or let the lag reach zero in a
quiet hour) and grow. Consumer groups pick up the new partitions at their next metadata refresh.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from shared.settings import KafkaSettings


@dataclass
class GroupLag:
    group: str
    topic: str
    lag: int
    partitions: int


async def _center_topics(admin: AIOKafkaAdminClient, settings: KafkaSettings) -> list[str]:
    return sorted(t for t in await admin.list_topics() if t.startswith(settings.topic_prefix + "."))


async def lag(settings: KafkaSettings) -> list[GroupLag]:
    """Messages each consumer group of the center has not yet handled, per topic (end offset − committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        groups = sorted(g[0] if isinstance(g, tuple) else g.group_id for g in await admin.list_consumer_groups())
        out = []
        for group in groups:
            if not group.startswith(settings.topic_prefix + "."):
                continue
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                continue
            ends = await consumer.end_offsets(list(committed))
            per_topic: dict[str, list[int]] = {}
            for tp, meta in committed.items():
                per_topic.setdefault(tp.topic, []).append(max(0, ends[tp] - max(meta.offset, 0)))
            out += [GroupLag(group, topic, sum(v), len(v)) for topic, v in sorted(per_topic.items())]
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def grow(settings: KafkaSettings, count: int, *, force: bool = False) -> dict[str, tuple[int, int]]:
    """Raise every topic of the center to `count` partitions; returns {topic: (before, after)} of those changed.

    Refuses (RuntimeError) while any group of the center has lag, unless `force`."""
    waiting = [g for g in await lag(settings) if g.lag]
    if waiting and not force:
        detail = ", ".join(f"{g.group} {g.topic}: {g.lag}" for g in waiting[:10])
        raise RuntimeError(f"messages still waiting ({detail}); growing now could reorder a complaint's events")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        topics = await _center_topics(admin, settings)
        described = await admin.describe_topics(topics)
        current = {d["topic"]: len(d["partitions"]) for d in described}
        wanted = {t: NewPartitions(total_count=count) for t, n in current.items() if n < count}
        if wanted:
            await admin.create_partitions(wanted)
        return {t: (current[t], count) for t in wanted}
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.partitions")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("lag", help="messages waiting per consumer group and topic")
    g = sub.add_parser("grow", help="raise every topic of the center to N partitions")
    g.add_argument("count", type=int)
    g.add_argument("--force", action="store_true", help="grow even with messages waiting (may reorder)")
    args = parser.parse_args(argv)
    settings = KafkaSettings()
    if args.command == "lag":
        rows = asyncio.run(lag(settings))
        print(f"{'consumer group':<32} {'topic':<36} {'partitions':>10} {'lag':>8}")
        for r in rows:
            print(f"{r.group:<32} {r.topic:<36} {r.partitions:>10} {r.lag:>8}")
        return 0
    try:
        changed = asyncio.run(grow(settings, args.count, force=args.force))
    except RuntimeError as exc:
        print(f"not grown: {exc}", file=sys.stderr)
        return 1
    for topic, (before, after) in changed.items():
        print(f"{topic}: {before} → {after} partitions")
    print(f"{len(changed)} topic(s) grown" if changed else "nothing to grow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
