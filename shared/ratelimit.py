"""Rate limits at the edge, per client address: shared by every instance of a service (a counter per address and
minute in the service's database), or in memory for one process (tests, tools)."""

from __future__ import annotations

import random
import time
from collections import defaultdict, deque
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError
from starlette.responses import Response

from shared.gate import Gate


class RateLimiter:
    """At most `limit` events per `window` seconds per key."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        q = self._events[key]
        while q and q[0] <= now - self.window:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(now)
        return True


class SharedRateLimiter:
    """At most `limit` events per `window`-second window per key, counted across every instance of a service.

    One document per key and window, `$inc`-ed atomically (MongoDB; our FerretDB build, ADR 10). A fixed window:
    a client can fit up to twice the limit around a window's turn, never more. Old windows are removed now and
    then by whoever opens a new one."""

    def __init__(self, collection: AsyncCollection, limit: int, window: float = 60) -> None:
        self.collection, self.limit, self.window = collection, limit, window

    async def allow(self, key: str) -> bool:
        slot = int(time.time() // self.window)
        for _ in range(2):
            try:
                doc = await self.collection.find_one_and_update(
                    {"_id": f"{slot}:{key}"}, {"$inc": {"n": 1}, "$setOnInsert": {"slot": slot}},
                    upsert=True, return_document=ReturnDocument.AFTER)
                break
            except DuplicateKeyError:  # two first events of the window at once: the insert lost, count again
                continue
        else:
            return True
        if doc["n"] == 1 and random.random() < 0.02:
            await self.collection.delete_many({"slot": {"$lt": slot - 1}})
        return doc["n"] <= self.limit


class PostRateLimit(Gate):
    """Public intake: at most `per_minute` submissions a minute from one address (429 with Retry-After).
    A request the key gate has already admitted (an integration with its own API key) is not counted."""

    def __init__(self, app: Any, per_minute: int, collection: AsyncCollection | None = None) -> None:
        super().__init__(app)
        self.limiter = RateLimiter(per_minute, 60)
        self.shared = SharedRateLimiter(collection, per_minute) if collection is not None else None

    async def refuse(self, request: Request) -> Response | None:
        if request.method == "POST" and not getattr(request.state, "grant", None):  # keyed integrations: exempt
            client = request.client.host if request.client else "?"
            try:
                allowed = await self.shared.allow(client) if self.shared else self.limiter.allow(client)
            except PyMongoError:  # the count lives in the database: while it is away nothing can be accepted
                return JSONResponse({"detail": "数据库暂不可用，请稍后重试 storage unavailable; retry shortly"},
                                    status_code=503, headers={"Retry-After": "5"})
            if not allowed:
                return JSONResponse({"detail": "提交过于频繁，请稍后再试 too many submissions; try again in a minute"},
                                    status_code=429, headers={"Retry-After": "60"})
        return None
