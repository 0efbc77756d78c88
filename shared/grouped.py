"""Writes of concurrent handlers sent together: one bulk command per collection instead of one command each.

On this stack a command costs far more than a statement in it: a replacement by key sent alone took 1.37 ms of
CPU (FerretDB 0.33, PostgreSQL 0.50, pymongo 0.53), one of 40 in a bulk command 0.36 ms (docs/adr/0023). A
`GroupedWriter` takes the unconditional writes (replacements and upserts by key: no statement can fail on
another's account) of whoever calls it and sends those that arrived meanwhile as one unordered bulk write; each
caller's `write` returns when its statement is written, as a single write would, so a handler's guarantees do
not change. While one bulk is on its way (each service has one connection, ADR 2), the next ones gather.

If the bulk fails, each of its statements is sent again alone, so that each caller gets its own answer (FerretDB
v1 stops an unordered bulk at its first error and names the wrong statement, ADR 22).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure


@dataclass(frozen=True)
class Write:
    """One statement: a replacement (`doc` a whole document) or an update (`doc` of operators), by `filter`."""

    filter: dict[str, Any]
    doc: dict[str, Any]
    upsert: bool = False

    def op(self) -> ReplaceOne | UpdateOne:
        if self.replaces():
            return ReplaceOne(self.filter, self.doc, upsert=self.upsert)
        return UpdateOne(self.filter, self.doc, upsert=self.upsert)

    def replaces(self) -> bool:
        return not any(k.startswith("$") for k in self.doc)

    async def alone(self, collection: AsyncCollection) -> None:
        """As a single command: its error is the driver's usual one (FerretDB's answer to a failed bulk is
        not one pymongo's `bulk_write` can read)."""
        if self.replaces():
            await collection.replace_one(self.filter, self.doc, upsert=self.upsert)
        else:
            await collection.update_one(self.filter, self.doc, upsert=self.upsert)


class GroupedWriter:
    def __init__(self, collection: AsyncCollection, max_batch: int = 200) -> None:
        self.collection, self.max_batch = collection, max_batch
        self._waiting: list[tuple[Write, asyncio.Future[None]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def write(self, op: Write) -> None:
        """Send `op` with the others waiting; return when it is written (or raise its error)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((op, done))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        await done

    async def _send(self) -> None:
        batch: list[tuple[Write, asyncio.Future[None]]] = []
        try:
            await asyncio.sleep(0)  # the callers woken in the same turn of the loop join the first bulk
            while self._waiting:
                batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
                await self._write(batch)
        finally:
            self._sender = None
            for _, done in batch + self._waiting:  # stopped midway (the service stopping): nobody waits forever
                done.cancel()
            self._waiting = []

    async def _write(self, batch: list[tuple[Write, asyncio.Future[None]]]) -> None:
        try:
            if len(batch) == 1:
                await batch[0][0].alone(self.collection)
            else:
                await self.collection.bulk_write([op.op() for op, _ in batch], ordered=False)
        except Exception as exc:  # noqa: BLE001 - handed to the callers
            if len(batch) > 1 and not isinstance(exc, ConnectionFailure):
                for one in batch:  # one statement's error: each alone, for its own answer
                    await self._write([one])
                return
            for _, done in batch:  # the database away: every caller retries as it would its own write
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)
