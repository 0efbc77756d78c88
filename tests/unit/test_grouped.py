"""GroupedWriter's own rules, with a stand-in collection that records the commands (the writes themselves
are tested on the real server: tests/integration/test_platform.py)."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import AutoReconnect

from shared.grouped import GroupedWriter, Write


class Recording:
    """Records each bulk command; holds it until `release` is set; fails while `error` is set."""

    name = "views"

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.release = asyncio.Event()
        self.release.set()
        self.error: Exception | None = None

    async def bulk_write(self, ops, ordered=True):
        self.sent.append(len(ops))
        await self.release.wait()
        if self.error is not None:
            raise self.error

    async def replace_one(self, flt, doc, upsert=False):
        await self.bulk_write([doc])

    update_one = replace_one


async def test_writes_arriving_while_one_bulk_is_on_its_way_go_in_the_next():
    coll = Recording()
    writer = GroupedWriter(coll, max_batch=4)  # type: ignore[arg-type]
    coll.release.clear()
    first = asyncio.create_task(writer.write(Write({"_id": 0}, {"a": 0})))
    await asyncio.sleep(0.01)  # the first is on its way alone
    rest = [asyncio.create_task(writer.write(Write({"_id": i}, {"a": i}))) for i in range(1, 7)]
    await asyncio.sleep(0.01)
    assert coll.sent == [1] and not first.done()
    coll.release.set()
    await asyncio.gather(first, *rest)
    assert coll.sent == [1, 4, 2]  # then at most max_batch in one command


async def test_a_database_away_reaches_every_caller_of_the_bulk_at_once():
    coll = Recording()
    coll.error = AutoReconnect("connection closed")
    writer = GroupedWriter(coll)  # type: ignore[arg-type]
    results = await asyncio.gather(*(writer.write(Write({"_id": i}, {"$set": {"a": i}})) for i in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, AutoReconnect) for r in results) and coll.sent == [3]  # not sent again one by one


async def test_a_stopped_writer_leaves_no_caller_waiting():
    coll = Recording()
    coll.release.clear()
    writer = GroupedWriter(coll)  # type: ignore[arg-type]
    callers = [asyncio.create_task(writer.write(Write({"_id": i}, {"a": i}))) for i in range(3)]
    await asyncio.sleep(0.01)
    assert writer._sender is not None
    writer._sender.cancel()  # the service stopping
    for caller in callers:
        with pytest.raises(asyncio.CancelledError):
            await caller
    assert writer._sender is None and writer._waiting == []
