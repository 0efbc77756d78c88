"""MongoDB client factory (PyMongo async) and the error classes that mean "try again"."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError

from shared import metrics
from shared.settings import MongoSettings

TRANSIENT_MONGO_ERRORS: tuple[type[Exception], ...] = (
    AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError,
)


class CommandCounter(monitoring.CommandListener):
    """Counts each command sent (`cc_db_commands_total{database, command}`): how many writes and reads a
    complaint costs each service, which the benchmark's floor repeats (benchmarks/pipeline_bench.py). `count`
    is where a command is counted."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str], Any] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.count(event.database_name, event.command_name)

    def count(self, database: str, command: str) -> None:
        child = self._children.get((database, command))
        if child is None:
            child = self._children[database, command] = metrics.DB_COMMANDS.labels(database, command)
        child.inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def make_client(settings: MongoSettings) -> AsyncMongoClient:
    """One client per process and event loop; short server selection so outages surface as retries. No wait is
    endless: an answer that never comes (120 s) or a pool that never frees a connection (60 s) is an error the
    callers retry, with the connection closed, rather than a service that hangs."""
    return AsyncMongoClient(
        settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5_000, connectTimeoutMS=3_000,
        socketTimeoutMS=120_000, waitQueueTimeoutMS=60_000,
        uuidRepresentation="standard", maxPoolSize=settings.mongo_max_pool_size, event_listeners=[CommandCounter()],
    )


def service_db(client: AsyncMongoClient, settings: MongoSettings, service: str) -> AsyncDatabase:
    return client[f"{settings.db_prefix}_{service}"]
