"""Communication records (沟通记录): kept by the service that took the contact, published for the archive.

A record is stored with its `CommunicationRecorded` event in its outbox (one write), then published; the
archive files it into the counterpart's customer file. The same contact twice (same id) is one record.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.contracts import CommunicationRecorded, Envelope
from shared.outbox import OutboxRelay, outbox_doc
from shared.settings import ServiceSettings


class CommunicationLog:
    def __init__(self, collection: AsyncCollection, relay: OutboxRelay, settings: ServiceSettings) -> None:
        self.collection = collection
        self.relay = relay
        self.settings = settings

    async def record(self, *, doc_id: str, group_id: str, estate_id: str, payload: CommunicationRecorded,
                     extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
        """Store and publish; returns (the stored record, whether it was already there)."""
        env = Envelope[CommunicationRecorded](
            type="CommunicationRecorded", correlation_id=uuid.uuid4(), group_id=group_id, estate_id=estate_id,
            complaint_id=payload.communication_id, payload=payload)
        doc = {"_id": doc_id, "group_id": group_id, "estate_id": estate_id, "recorded_at": datetime.now(UTC),
               **payload.model_dump(mode="python"), **(extra or {}),
               **outbox_doc(self.settings, [env])}
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return await self.collection.find_one({"_id": doc_id}, {"outbox": 0}) or doc, True
        await self.relay.try_flush(doc_id, doc["outbox"])
        return doc, False
