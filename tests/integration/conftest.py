"""Fixtures shared by the integration tests."""

from __future__ import annotations

import uuid

import pytest

from services.archive import queries
from services.archive.handlers import CASE_GUARDS
from shared.aggregate import AggregateStore
from shared.mongo import make_client
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings


@pytest.fixture
async def archive(infra, prefix, cleanup):
    settings = ServiceSettings(kafka_bootstrap=infra.bootstrap, mongo_url=infra.mongo_url, topic_prefix=prefix,
                               db_prefix=prefix)
    client = make_client(settings)
    db = client[f"{prefix}_arch{uuid.uuid4().hex[:6]}"]
    await queries.ensure_indexes(db)
    relay = OutboxRelay(queries.cases(db), None, settings)  # type: ignore[arg-type]
    store = AggregateStore(queries.cases(db), relay, settings, guards=CASE_GUARDS)
    yield db, store
    await client.drop_database(db.name)
    await client.close()
