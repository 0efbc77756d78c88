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


BULK_FIELDS = {"insert": "documents", "update": "updates", "delete": "deletes"}  # a write command's statements


def statements(event: monitoring.CommandStartedEvent) -> int:
    """How many statements a command carries: a bulk write's documents, else one."""
    field = BULK_FIELDS.get(event.command_name)
    listed = event.command.get(field) if field else None
    return len(listed) if isinstance(listed, list) else 1


class CommandCounter(monitoring.CommandListener):
    """Counts each command sent (`cc_db_commands_total{database, command}`) and its statements
    (`cc_db_statements_total`: a bulk write's documents, else one): how many writes and reads a complaint costs
    each service, which the benchmark's floor repeats (benchmarks/pipeline_bench.py). `count` is where a command
    is counted."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.count(event.database_name, event.command_name, statements(event))

    def count(self, database: str, command: str, statements: int) -> None:
        children = self._children.get((database, command))
        if children is None:
            children = self._children[database, command] = (metrics.DB_COMMANDS.labels(database, command),
                                                            metrics.DB_STATEMENTS.labels(database, command))
        children[0].inc()
        children[1].inc(statements)

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
