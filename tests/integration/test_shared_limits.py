"""A rate limit holds across instances: two instances (two clients) share one counter per address and minute."""

from __future__ import annotations

import asyncio
import uuid

from shared.mongo import make_client
from shared.ratelimit import SharedRateLimiter
from shared.settings import ServiceSettings


async def test_two_instances_together_allow_the_limit_not_twice_it(infra, prefix, cleanup):
    settings = ServiceSettings(mongo_url=infra.mongo_url, db_prefix=prefix, mongo_max_pool_size=10)
    clients = [make_client(settings) for _ in range(2)]
    name = f"r{uuid.uuid4().hex[:6]}"
    limiters = [SharedRateLimiter(c[settings.database("limits")][name], 10) for c in clients]
    try:
        allowed = await asyncio.gather(*(limiters[i % 2].allow("203.0.113.7") for i in range(30)))
        assert sum(allowed) == 10
        assert await limiters[0].allow("198.51.100.1")  # another address has its own count
    finally:
        await clients[0][settings.database("limits")][name].drop()
        for c in clients:
            await c.close()


def test_the_public_intake_answers_503_not_500_while_the_limits_database_is_away():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from pymongo import AsyncMongoClient

    from shared.ratelimit import PostRateLimit

    away = AsyncMongoClient("mongodb://127.0.0.1:9/?directConnection=true", serverSelectionTimeoutMS=300)
    app = FastAPI()
    app.add_middleware(PostRateLimit, per_minute=5, collection=away["db"]["ratelimits"])

    @app.post("/x")
    def x() -> dict:
        return {}

    with TestClient(app) as c:
        r = c.post("/x")
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
