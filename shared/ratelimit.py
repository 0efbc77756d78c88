"""Rate limits at the edge: a sliding log per client address (in memory, per process)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response


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


class PostRateLimit(BaseHTTPMiddleware):
    """Public intake: at most `per_minute` submissions a minute from one address (429 with Retry-After).
    A request the key gate has already admitted (an integration with its own API key) is not counted."""

    def __init__(self, app: Any, per_minute: int) -> None:
        super().__init__(app)
        self.limiter = RateLimiter(per_minute, 60)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method == "POST" and not getattr(request.state, "grant", None):  # keyed integrations: exempt
            client = request.client.host if request.client else "?"
            if not self.limiter.allow(client):
                return JSONResponse({"detail": "提交过于频繁，请稍后再试 too many submissions; try again in a minute"},
                                    status_code=429, headers={"Retry-After": "60"})
        return await call_next(request)
