"""Integration API keys at the intake edge: the grants a group admin made, followed from `org.credentials`.

The operator API owns the keys (hashed) and publishes each creation and revocation as ApiKeyChanged. Every
intake service follows that topic from the beginning (no consumer group: each instance needs every grant) and
keeps its own copy in its database, so a restart while Kafka is down still knows yesterday's keys. Until the
follower has read up to the end of the topic once, an unknown key answers 503 (retry) rather than 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.contracts import ApiKeyChanged, BadMessage, parse
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-Api-Key"
INTAKE_USES = ("phone", "letter", "fax", "web")
USES = ("operator_api", *INTAKE_USES)


def digest(key: str) -> str:
    """Keys are 256-bit random strings: a plain SHA-256 is a safe, fast one-way fingerprint (no salt needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    key_id: str
    name: str
    group_id: str
    estate_ids: frozenset[str]
    uses: frozenset[str]
    revoked: bool
    changed_at: datetime

    def covers(self, group_id: str | None, estate_id: str | None) -> bool:
        """May this key submit for that estate? A key without estates covers its whole group."""
        if group_id != self.group_id:
            return False
        return not self.estate_ids or estate_id in self.estate_ids

    def doc(self, key_hash: str) -> dict[str, Any]:
        return {"_id": key_hash, "key_id": self.key_id, "name": self.name, "group_id": self.group_id,
                "estate_ids": sorted(self.estate_ids), "uses": sorted(self.uses), "revoked": self.revoked,
                "changed_at": self.changed_at}


def grant_of(group_id: str, change: ApiKeyChanged) -> Grant:
    return Grant(change.key_id, change.name, group_id, frozenset(change.estate_ids), frozenset(change.uses),
                 change.revoked, change.changed_at)


class KeyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class KeyRing:
    """The grants this process knows, by key hash; a later change of a key replaces an earlier one."""

    def __init__(self, collection: AsyncCollection | None = None) -> None:
        self.collection = collection
        self._by_hash: dict[str, Grant] = {}
        self.caught_up = False

    def apply(self, key_hash: str, grant: Grant) -> bool:
        known = self._by_hash.get(key_hash)
        if known is not None and known.changed_at >= grant.changed_at:
            return False  # a replay from the beginning never un-revokes a key, even for a moment
        self._by_hash[key_hash] = grant
        return True

    def check(self, key: str | None, use: str) -> Grant:
        """The grant of a presented key for one use, or KeyRefused with a status and a bilingual reason."""
        if not key:
            raise KeyRefused(401, f"缺少接口密钥 an API key is required ({API_KEY_HEADER} header)")
        grant = self._by_hash.get(digest(key.strip()))  # a lookup by hash leaks nothing about the key
        if grant is None:
            if not self.caught_up:
                raise KeyRefused(503, "接口密钥尚在加载，请稍后重试 keys are still loading; retry shortly")
            raise KeyRefused(401, "接口密钥无效 unknown API key")
        if grant.revoked:
            raise KeyRefused(401, "接口密钥已吊销 this API key has been revoked")
        if use not in grant.uses:
            raise KeyRefused(403, f"该密钥不可用于{use} this API key may not be used for {use}")
        return grant

    # ---- persistence and the feed -----------------------------------------------------------------
    async def load(self) -> int:
        """The copy kept in this service's database (so a restart during a Kafka outage keeps working)."""
        if self.collection is None:
            return 0
        n = 0
        async for d in self.collection.find({}):
            n += self.apply(d["_id"], Grant(d["key_id"], d.get("name", ""), d["group_id"], frozenset(d["estate_ids"]),
                                            frozenset(d["uses"]), d["revoked"], d["changed_at"]))
        return n

    async def take(self, raw: bytes) -> None:
        envelope = parse(raw)
        if not isinstance(envelope.payload, ApiKeyChanged):
            raise BadMessage(f"unexpected {envelope.type} on org.credentials")
        change = envelope.payload
        grant = grant_of(envelope.group_id, change)
        if self.apply(change.key_hash, grant) and self.collection is not None:
            with contextlib.suppress(DuplicateKeyError):  # another instance already kept a later change
                await self.collection.replace_one({"_id": change.key_hash, "changed_at": {"$lt": grant.changed_at}},
                                                  grant.doc(change.key_hash), upsert=True)

    async def follow(self, settings: ServiceSettings, *, retry_seconds: float = 2.0) -> None:
        """Read `org.credentials` from the beginning and then forever; reconnect after any failure."""
        topic = settings.topic("org.credentials")
        while True:
            consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                        enable_auto_commit=False, auto_offset_reset="earliest",
                                        request_timeout_ms=15_000)  # no group: every partition, from the start
            try:
                await consumer.start()
                end: dict[TopicPartition, int] | None = None
                while True:
                    batches = await consumer.getmany(timeout_ms=500)
                    for records in batches.values():
                        for record in records:
                            try:
                                await self.take(record.value or b"")
                            except BadMessage as exc:
                                log.warning("credentials change skipped: %s", exc)
                    parts = consumer.assignment()
                    if not self.caught_up and parts:
                        end = end or await consumer.end_offsets(list(parts))
                        if all([await consumer.position(tp) >= end.get(tp, 0) for tp in parts]):
                            self.caught_up = True
                            log.info("API keys loaded: %d grant(s)", len(self._by_hash))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Kafka or MongoDB away: the known grants keep working
                log.warning("credentials feed interrupted (%s: %s); retrying", type(exc).__name__, exc)
                await asyncio.sleep(retry_seconds)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
