"""Session fixtures: real Kafka and MongoDB, a private topic/database prefix, and the running services."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.infra import Infra, provide_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with provide_infra() as i:
        print(f"\n[tests] Kafka {i.bootstrap}, MongoDB {i.mongo_url} ({i.how})")
        yield i


@pytest.fixture(scope="session")
def prefix() -> str:
    """Topics and databases of this test session: nothing shared with `make up` or another run."""
    return "t" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def settings_env(infra: Infra, prefix: str) -> dict[str, str]:
    return {
        "CC_KAFKA_BOOTSTRAP": infra.bootstrap,
        "CC_MONGO_URL": infra.mongo_url,
        "CC_TOPIC_PREFIX": prefix,
        "CC_DB_PREFIX": prefix,
        "CC_OUTBOX_SWEEP_SECONDS": "0.5",
        "CC_OUTBOX_MIN_AGE_SECONDS": "1",
    }


@pytest.fixture(scope="session", autouse=True)
def _no_leaks_into_env() -> Iterator[None]:
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


@pytest.fixture(scope="session")
async def cleanup(infra: Infra, prefix: str) -> AsyncIterator[None]:
    """Drop this session's databases and topics at the end, so a reused server stays clean."""
    yield
    from aiokafka.admin import AIOKafkaAdminClient
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(infra.mongo_url)
    for name in await client.list_database_names():
        if name.startswith(prefix + "_"):
            await client.drop_database(name)
    await client.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix + ".")]
        if topics:
            await admin.delete_topics(topics)
    finally:
        await admin.close()
