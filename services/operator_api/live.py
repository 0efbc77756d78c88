"""Server push for the console: case changes as Server-Sent Events, each browser seeing only its scope.

The archive stamps every queue entry with `changed_at` when it refreshes it. One watcher per operator-API
process reads the entries changed since the last look (a query or two a second by 10-second slot, however
many browsers are open, none when nobody is; FerretDB has no change streams) and hands each change to the
open streams whose scope covers its estate. A change carries no personal data: the console re-reads the
queue through the normal, scoped and masked API when told that something changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.archive import queries
from shared.scope import Scope

log = logging.getLogger(__name__)
OVERLAP = timedelta(seconds=2)  # re-read a little: two archive writes may commit out of stamp order
CATCH_UP = timedelta(minutes=5)  # after an outage, announce at most this much (the console re-reads anyway)


class CaseChanges:
    def __init__(self, archive_db: AsyncDatabase, interval: float = 1.0) -> None:
        self.db = archive_db
        self.interval = interval
        self.since: datetime | None = None
        self._sent: dict[tuple[str, datetime], datetime] = {}
        self._streams: set[asyncio.Queue[dict[str, Any]]] = set()

    async def poll_once(self) -> list[dict[str, Any]]:
        if not self._streams:  # nobody listening: no reads; the next stream starts from its own moment
            self.since = None
            return []
        if self.since is None:  # start from now: streams announce changes, not history
            self.since = datetime.now(UTC) - OVERLAP
            return []
        q = queries.queue(self.db)
        now = datetime.now(UTC)
        after = max(self.since - OVERLAP, now - CATCH_UP)
        rows: list[dict[str, Any]] = []
        for slot in range(queries.change_slot(after), queries.change_slot(now) + 1):
            rows += await q.find({"changed_slot": slot, "changed_at": {"$gt": after}},
                                 {"group_id": 1, "estate_id": 1, "status": 1, "tracking_no": 1, "changed_at": 1}) \
                .to_list(1000)
        rows.sort(key=lambda r: r["changed_at"])
        fresh = []
        for r in rows:
            mark = (r["_id"], r["changed_at"])
            if mark in self._sent:
                continue
            self._sent[mark] = r["changed_at"]
            fresh.append({"complaint_id": r["_id"], "group_id": r.get("group_id"), "estate_id": r.get("estate_id"),
                          "status": r.get("status"), "tracking_no": r.get("tracking_no")})
            self.since = max(self.since, r["changed_at"])
        horizon = self.since - OVERLAP * 2
        self._sent = {k: v for k, v in self._sent.items() if v >= horizon}
        for change in fresh:
            for stream in list(self._streams):
                if stream.full():  # a stalled browser loses detail, not the signal: it reloads anyway
                    continue
                stream.put_nowait(change)
        return fresh

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database may be away; streams just stay quiet
                log.warning("case-change watch failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.interval)

    async def stream(self, scope: Scope, *, keepalive: float = 15.0, lifetime: float = 600.0,
                     is_disconnected: Any = None) -> AsyncIterator[str]:
        """SSE text: `case` events in scope, comments to keep proxies open; ends after `lifetime` seconds
        so the browser reconnects and its session is checked again."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=200)
        self._streams.add(queue)
        loop = asyncio.get_running_loop()
        end = loop.time() + lifetime
        try:
            yield "retry: 3000\n: connected\n\n"
            while loop.time() < end:
                if is_disconnected is not None and await is_disconnected():
                    return
                try:
                    change = await asyncio.wait_for(queue.get(), min(keepalive, max(end - loop.time(), 0.1)))
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if scope.allows(change["group_id"], change["estate_id"]):
                    yield f"event: case\ndata: {json.dumps(change, ensure_ascii=False)}\n\n"
        finally:
            self._streams.discard(queue)
