"""Kafka plumbing: broker factory, topic creation, publishing envelopes, and the reliable consumer wrapper.

Consumers commit only after the handler succeeded. A message that can never be processed (not JSON,
fails validation, handler bug) goes to `<topic>.dlq` with its original bytes, headers and the reason,
then the offset moves on. A transient failure (database or broker down) is retried in place with
backoff, and after the retry budget the message is sought back for redelivery: nothing is skipped.

Offsets of processed messages are committed in the background, at most once a `consumer_commit_interval_ms`
per consumer, not one commit round trip per message (`Commits`): a crash redelivers at most that much of
what was already processed, which every consumer absorbs (idempotent), and nothing unprocessed is ever
committed (only the offset after a message whose handling finished).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
)
from faststream import AckPolicy
from faststream._internal.parser import DefaultCodec
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

from shared import metrics
from shared.contracts import TOPICS, BadMessage, Envelope, encode, parse
from shared.logs import CASE
from shared.mongo import TRANSIENT_MONGO_ERRORS
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    *TRANSIENT_MONGO_ERRORS, KafkaConnectionError, KafkaTimeoutError, ConnectionError, asyncio.TimeoutError,
)

Handler = Callable[[Envelope[Any]], Awaitable[None]]
CaseHandler = Callable[[list[Envelope[Any]]], Awaitable[None]]  # one case's messages of a batch, in order


def build_broker(settings: ServiceSettings, service: str, tracer_provider: Any = None) -> KafkaBroker:
    """Idempotent producer (acks=all); no connection is made until the broker starts. Traces (shared.tracing)
    when an exporter is configured. FastStream's line per message received and handled is logged at DEBUG:
    at INFO it was two lines a message saying only "Received" and "Processed" (their ids are not in our JSON
    lines), about 5 % of a consumer's busy samples (py-spy, docs/adr/0024); failures are logged as before."""
    from shared.tracing import tracer_provider as make_provider

    provider = tracer_provider or make_provider(settings, service)
    middlewares = (KafkaTelemetryMiddleware(tracer_provider=provider),) if provider is not None else ()
    return KafkaBroker(
        settings.kafka_bootstrap, client_id=service, enable_idempotence=True,
        request_timeout_ms=15_000, logger=logging.getLogger(f"{service}.broker"), log_level=logging.DEBUG,
        middlewares=middlewares,
    )


def all_topic_names(settings: ServiceSettings) -> list[str]:
    names = [settings.topic(t.name) for t in TOPICS]
    return names + [f"{n}.dlq" for n in names]


# the directory and credentials topics are every service's source for its view: they must not age out
KEEP_FOREVER = {"retention.ms": "-1"}
FEEDS = ("org.directory", "org.credentials")


async def ensure_topics(settings: ServiceSettings, names: list[str] | None = None) -> None:
    """Create the catalogue's topics and their DLQs if missing (safe to run from every service)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in (names or all_topic_names(settings)) if n not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(n, num_partitions=settings.topic_partitions, replication_factor=1,
                              topic_configs=KEEP_FOREVER if n in {settings.topic(f) for f in FEEDS} else None)
                     for n in wanted]
                )
    finally:
        await admin.close()


async def publish(broker: KafkaBroker, topic: str, envelope: Envelope[Any] | bytes, key: str,
                  headers: dict[str, str] | None = None) -> None:
    body = envelope if isinstance(envelope, bytes) else encode(envelope)
    hdrs = {"content-type": "application/json"}
    if not isinstance(envelope, bytes):
        hdrs["type"] = envelope.type
    hdrs.update(headers or {})
    try:
        await broker.publish(body, topic=topic, key=key.encode(), headers=hdrs)
    except PRODUCER_STATE_ERRORS as exc:
        await renew_producer(broker, exc)
        raise  # the caller retries (outbox sweeper, redelivery) with the new producer


# An idempotent producer whose sequence the broker no longer has (a broker restart that lost the log's tail)
# fails every later send with these: only a new producer (a new producer id) gets out of it.
PRODUCER_STATE_ERRORS = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)
_renewals: dict[int, asyncio.Lock] = {}


async def renew_producer(broker: KafkaBroker, cause: BaseException | None = None) -> None:
    cfg = broker.config
    lock = _renewals.setdefault(id(broker), asyncio.Lock())
    stale = getattr(cfg.producer, "_producer", None)
    async with lock:
        if getattr(cfg.producer, "_producer", None) is not stale:
            return  # another publish renewed it meanwhile
        log.warning("Kafka producer replaced after %s", type(cause).__name__ if cause else "a request")
        with contextlib.suppress(Exception):
            await cfg.producer.disconnect()
        await cfg.producer.connect(AIOKafkaProducer(**broker._connection_kwargs),
                                   serializer=cfg.fd_config._serializer, codec=cfg.broker_codec or DefaultCodec())


class Commits:
    """Offsets of processed messages, per consumer, committed together a moment later.

    A commit per message was a round trip to the group coordinator in every handler's path (the broker wrote
    each to `__consumer_offsets`: a quarter of its CPU in the pipeline benchmark, docs/adr/0016). Messages of
    a subscriber are handled one at a time, in order, so the offset after the last one handled is all there
    is to commit for its partition."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[Any, dict[TopicPartition, int]]] = {}
        self._timer: asyncio.Task | None = None

    def done(self, consumer: Any, records: Any, interval_ms: int) -> None:
        """These messages' handling finished (processed or parked in the DLQ): their offsets may be committed.
        A batch's records are in partition order, so the last one of each partition is the one that counts."""
        _, offsets = self.pending.setdefault(id(consumer), (consumer, {}))
        for record in records:
            offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._flush_after(interval_ms / 1000))

    async def _flush_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.flush()

    async def flush(self) -> None:
        """Commit what is pending now. A partition taken away meanwhile refuses it: its new owner redelivers
        those messages, which changes nothing (every consumer is idempotent)."""
        pending, self.pending = self.pending, {}
        for consumer, offsets in pending.values():
            try:
                await consumer.commit(offsets)
            except Exception as exc:  # noqa: BLE001 - a stopped consumer, a rebalance: redelivery covers it
                log.info("offsets not committed (%s: %s); those messages will be redelivered",
                         type(exc).__name__, exc)


COMMITS = Commits()


async def _raw_body(msg: Any) -> bytes:
    """Hand the handler the original bytes: decoding and validation are ours, so failures reach the DLQ."""
    return msg.body


async def send_to_dlq(broker: KafkaBroker, record: Any, service: str, reason: str) -> None:
    headers = {k: (v.decode(errors="replace") if isinstance(v, bytes) else str(v)) for k, v in (record.headers or [])}
    headers.update({
        "x-dlq-reason": reason[:1000], "x-dlq-service": service, "x-dlq-topic": record.topic,
        "x-dlq-partition": str(record.partition), "x-dlq-offset": str(record.offset),
        "x-dlq-at": str(int(time.time() * 1000)),
    })
    await broker.publish(
        record.value or b"", topic=f"{record.topic}.dlq", key=record.key, headers=headers,
    )


LINGER_BYTES = 1 << 20  # a lingering batch consumer's fetch returns early once this much has arrived


def _consumer_options(settings: ServiceSettings, service: str, title: str) -> dict[str, Any]:
    """The service's consumer group, positions committed by us (`Commits`), our own decoding (`_raw_body`)."""
    return {
        "group_id": f"{settings.topic_prefix}.{service}", "ack_policy": AckPolicy.MANUAL,
        "auto_offset_reset": "earliest", "decoder": _raw_body, "title": title,
        "max_poll_interval_ms": settings.consumer_max_poll_interval_ms,
        # an idle consumer asks again only when this ends (aiokafka's default: every 500 ms, for each of the
        # center's ~30 consumers); a message ends the wait at once, so latency is the same
        "fetch_max_wait_ms": settings.consumer_fetch_max_wait_ms,
    }


def current_message(broker: KafkaBroker) -> Any:
    """The message being handled, from the broker's context. Not a handler parameter (`msg: KafkaMessage`):
    FastStream resolves such a parameter in a worker thread, a thread hand-off on every message (py-spy: 3-4 %
    of a consumer's samples, docs/adr/0024)."""
    return broker.context.get_local("message")


def subscribe(broker: KafkaBroker, settings: ServiceSettings, service: str, topic_name: str,
              handler: Handler) -> None:
    """Consume `<prefix>.<topic_name>` in the service's consumer group with the reliability rules above."""
    topic = settings.topic(topic_name)

    @broker.subscriber(topic, **_consumer_options(settings, service, f"{service}:{topic_name}"))
    async def consume(body: bytes) -> None:
        await process_message(broker, settings, service, current_message(broker), handler)


def subscribe_cases(broker: KafkaBroker, settings: ServiceSettings, service: str, topic_names: tuple[str, ...],
                    handler: CaseHandler) -> None:
    """Consume several topics in one consumer, in batches of what has arrived; the handler gets each case's
    messages of a batch together (`process_batch`). For a consumer whose cost is per case written, not per
    message: a case's events arriving close together are then written once."""
    title = f"{service}:{'+'.join(topic_names)}"
    options = _consumer_options(settings, service, title)
    if settings.consumer_batch_linger_ms:  # the broker holds each fetch that long, unless a MiB arrives first
        options.update(fetch_max_wait_ms=settings.consumer_batch_linger_ms, fetch_min_bytes=LINGER_BYTES)

    @broker.subscriber(
        *(settings.topic(t) for t in topic_names), **options,
        # a batch is what has arrived: the wait only applies when nothing has
        batch=True, max_records=settings.consumer_batch_max_records, batch_timeout_ms=settings.consumer_batch_wait_ms,
    )
    async def consume(body: Any) -> None:
        await process_batch(broker, settings, service, current_message(broker), handler)


async def process_message(broker: KafkaBroker, settings: ServiceSettings, service: str, msg: Any,
                          handler: Handler) -> None:
    """One message: handled, or parked in the DLQ, or sought back (below)."""
    async def one(envelopes: list[Envelope[Any]]) -> None:
        await handler(envelopes[0])

    await _process(broker, settings, service, msg, one, by_case=False)


async def process_batch(broker: KafkaBroker, settings: ServiceSettings, service: str, msg: Any,
                        handler: CaseHandler) -> None:
    """A batch: its messages grouped by case, each case's handled together (cases concurrently, at most
    `consumer_batch_concurrency` at a time). When a case's group fails for good, each of its messages is
    handled alone, so only the bad one is parked in the DLQ."""
    await _process(broker, settings, service, msg, handler, by_case=True)


async def _process(broker: KafkaBroker, settings: ServiceSettings, service: str, msg: Any, handler: CaseHandler,
                   by_case: bool) -> None:
    """The rules for both: bad bytes to the DLQ; transient failures retried in place until one deadline for
    the whole batch, then every partition of the batch sought back to its first message (redelivery; what was
    done is absorbed by the idempotent handler); otherwise every offset is noted for the next commit."""
    records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
    consumer = getattr(msg, "consumer", None)
    deadline = time.monotonic() + settings.retry_budget_seconds
    outcomes: list[str] = []
    units: dict[str, list[tuple[Any, Envelope[Any]]]] = {}
    for record in records:
        started = time.monotonic()
        try:
            envelope = parse(record.value)
        except BadMessage as exc:
            outcome = await _dead_letter(broker, record, service, str(exc))
            _count(consumer, record, service, "?", outcome, started)
            outcomes.append(outcome)
            continue
        units.setdefault(envelope.complaint_id if by_case else str(len(units)), []).append((record, envelope))
    if by_case:
        metrics.BATCHES.labels(service).inc()
        metrics.BATCH_MESSAGES.labels(service).inc(len(records))
        metrics.BATCH_CASES.labels(service).inc(len(units))
    limit = asyncio.Semaphore(settings.consumer_batch_concurrency)

    async def run(unit: list[tuple[Any, Envelope[Any]]]) -> list[str]:
        async with limit:
            return await _handle(broker, settings, service, consumer, unit, handler, deadline)

    for done in await asyncio.gather(*(run(u) for u in units.values())):
        outcomes.extend(done)
    if "redeliver" in outcomes:
        await msg.nack()
    else:
        COMMITS.done(consumer, records, settings.consumer_commit_interval_ms)


def _count(consumer: Any, record: Any, service: str, kind: str, outcome: str, started: float) -> None:
    metrics.PROCESSED.labels(service, record.topic, kind, outcome).inc()
    metrics.HANDLER_SECONDS.labels(service, record.topic).observe(time.monotonic() - started)
    _record_lag(consumer, record, service)


def _record_lag(consumer: Any, record: Any, service: str) -> None:
    """Messages still behind this one on its partition, as the consumer last heard from the broker."""
    try:
        tp = TopicPartition(record.topic, record.partition)
        high = consumer.highwater(tp) if consumer is not None else None
    except Exception:  # noqa: BLE001 - a metric must never break consumption
        return
    if high is not None:
        metrics.LAG.labels(service, record.topic, str(record.partition)).set(max(0, high - record.offset - 1))


async def _handle(broker: KafkaBroker, settings: ServiceSettings, service: str, consumer: Any,
                  unit: list[tuple[Any, Envelope[Any]]], handler: CaseHandler, deadline: float) -> list[str]:
    """Run the handler on one unit (a message, or a case's messages of a batch): transient failures retry in
    place until the deadline, then redeliver; anything else is parked in the DLQ with the reason. Returns each
    message's outcome: ok, dlq or redeliver."""
    started = time.monotonic()
    first = unit[0][1]
    token = CASE.set((str(first.correlation_id), first.complaint_id))
    delay = settings.retry_initial_seconds
    try:
        while True:
            try:
                await handler([envelope for _, envelope in unit])
            except TRANSIENT_ERRORS as exc:
                if time.monotonic() > deadline:
                    log.warning("giving up in place on %s (%s); seeking back for redelivery", first.type, exc)
                    outcome = "redeliver"
                    break
                log.warning("transient failure on %s %s: %s; retrying in %.1fs", first.type, first.event_id,
                            exc, delay)
                metrics.RETRIES.labels(service, unit[0][0].topic).inc()
                await asyncio.sleep(delay)
                delay = min(delay * 2, settings.retry_max_seconds)
                continue
            except Exception as exc:  # a bug or a rule violation: park it, keep the pipeline moving
                if len(unit) > 1:  # which one? each alone: only the bad one is parked
                    log.warning("a case's %d messages failed together (%s); handling each alone", len(unit), exc)
                    alone = [await _handle(broker, settings, service, consumer, [one], handler, deadline)
                             for one in unit]
                    return [outcome for each in alone for outcome in each]
                log.exception("handler failed on %s %s", first.type, first.event_id)
                outcome = await _dead_letter(broker, unit[0][0], service,
                                             f"handler failed: {type(exc).__name__}: {exc}")
                break
            outcome = "ok"
            break
    finally:
        CASE.reset(token)
    for record, envelope in unit:
        _count(consumer, record, service, envelope.type, outcome, started)
    return [outcome] * len(unit)


async def _dead_letter(broker: KafkaBroker, record: Any, service: str, reason: str) -> str:
    """Park the message with its reason ("dlq"); "redeliver" when even the DLQ cannot be written."""
    try:
        await send_to_dlq(broker, record, service, reason)
    except (KafkaError, *TRANSIENT_ERRORS):
        log.exception("could not write to the DLQ; seeking back so the message is not skipped")
        return "redeliver"
    log.warning("message on %s offset %s sent to DLQ: %s", record.topic, record.offset, reason)
    metrics.DLQ.labels(service, record.topic).inc()
    return "dlq"
