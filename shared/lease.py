"""Leases: one instance at a time runs a job that must not run twice (timer sweeps, outbox sweeps, pollers).

Several instances of a service share its database. A job such as "fire the due SLA timers" or "poll the fax
mailbox" runs on whichever instance holds the job's lease, a document in the service's `leases` collection:
`{_id: <job>, holder, until}`. An instance takes it with one `find_one_and_update` (upsert) whose filter matches
only if it already holds it or the lease has run out; MongoDB makes that write atomic (so does our FerretDB
build, docs/adr/0010), and two instances racing for a free lease end with one insert and one duplicate-key
refusal. The holder renews every third of the lease; if it dies, another instance takes over once `until`
passes. The holder also stops itself: it counts the lease as its own only until `ttl - margin` after it asked
(its own monotonic clock), so with clocks within `margin` of each other two holders never overlap.

An instance id is stable across restarts of one instance (host name and port, or CC_INSTANCE_ID), so an
instance restarted after a crash takes its own lease back at once instead of waiting for it to run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]


def instance_id(port: int | str | None = None) -> str:
    """CC_INSTANCE_ID if set (a pod name), else host name and service port: two instances on one host differ."""
    return os.environ.get("CC_INSTANCE_ID") or f"{socket.gethostname()}:{port or os.environ.get('CC_SERVICE_PORT', 0)}"


class Lease:
    def __init__(self, collection: AsyncCollection, name: str, holder: str, ttl: float = 15.0,
                 margin: float = 2.0) -> None:
        if ttl <= 3 * margin:
            raise ValueError("lease ttl must be more than three times its margin")
        self.collection, self.name, self.holder = collection, name, holder
        self.ttl, self.margin = ttl, margin
        self._valid_until = 0.0  # monotonic: ours until then
        self._renew_at = 0.0
        self.woken = False  # another instance asked the holder to look (poke) since the last renewal
        self.lost_to_other = False  # the last answer: another instance holds it (not merely: cannot tell)

    @property
    def held(self) -> bool:
        return asyncio.get_running_loop().time() < self._valid_until

    async def hold(self) -> bool:
        """Take the lease, or renew it once a third of it has passed; True while this instance holds it."""
        loop = asyncio.get_running_loop()
        asked = loop.time()
        if asked < self._renew_at and asked < self._valid_until:
            return True
        now = datetime.now(UTC)
        try:
            before = await self.collection.find_one_and_update(
                {"_id": self.name, "$or": [{"holder": self.holder}, {"until": {"$lt": now}}]},
                {"$set": {"holder": self.holder, "until": now + timedelta(seconds=self.ttl), "renewed_at": now},
                 "$unset": {"wake": ""}},
                upsert=True, return_document=ReturnDocument.BEFORE)
        except DuplicateKeyError:  # someone else holds it and it has not run out
            self._valid_until = self._renew_at = 0.0
            self.lost_to_other = True
            return False
        except PyMongoError as exc:  # cannot tell: ours only for as long as the last renewal lasts
            log.warning("lease %s not renewed: %s: %s", self.name, type(exc).__name__, exc)
            return self.held
        self.lost_to_other = False
        was_ours = self.held or (before is not None and before.get("holder") == self.holder)
        self._valid_until = asked + self.ttl - self.margin
        self._renew_at = asked + self.ttl / 3
        self.woken = bool(before and before.get("wake"))
        if not was_ours:
            log.info("lease %s taken by %s", self.name, self.holder)
        return True

    async def poke(self) -> None:
        """Ask whoever holds the lease to look now (it sees `woken` at its next renewal)."""
        with contextlib.suppress(PyMongoError):
            await self.collection.update_one({"_id": self.name}, {"$set": {"wake": True}})

    async def release(self) -> None:
        """Give the lease up on a clean stop, so another instance takes over at once."""
        if self.held:
            self._valid_until = self._renew_at = 0.0
            with contextlib.suppress(PyMongoError):
                await self.collection.delete_one({"_id": self.name, "holder": self.holder})


def periodic(what: str, step: Callable[[], Awaitable[bool | None]], every: float) -> Job:
    """A job that runs `step` at once and then every `every` seconds, again at once when it returns True
    (more to do); a failure is logged and retried at the next run (an outage delays it, nothing more)."""
    async def run() -> None:
        while True:
            try:
                if await step():
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried at the next run
                log.warning("%s failed: %s: %s", what, type(exc).__name__, exc)
            await asyncio.sleep(every)

    return run


async def run_leased(lease: Lease, job: Job, on_wake: Callable[[], None] | None = None) -> None:
    """Run `job` (a loop that runs until cancelled) only while this instance holds `lease`.

    Each take starts the job afresh (as a restart would: a full sweep first). The job is cancelled when another
    instance is seen holding the lease, not while the database cannot be reached: then the job's own work fails
    and retries like any other, and cancelling it mid-operation is what a driver's pool is least tested for
    (a service with one connection stalled after such a cancel during a database outage in CI). Cancelling this
    coroutine stops the job and releases the lease."""
    every = lease.ttl / 3
    try:
        while True:
            if not await lease.hold():
                await asyncio.sleep(every)
                continue
            task = asyncio.create_task(job(), name=f"leased:{lease.name}")
            try:
                while not task.done():
                    done, _ = await asyncio.wait({task}, timeout=min(every, max(lease.ttl / 10, 0.2)))
                    if done:
                        break
                    if not await lease.hold() and lease.lost_to_other:
                        log.warning("lease %s held by another instance: stopping its job here", lease.name)
                        break
                    if lease.woken and on_wake is not None:
                        on_wake()
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("job %s failed: %s; starting it again", lease.name, task.exception())
                await asyncio.sleep(every)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(lease.release())
