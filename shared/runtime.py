"""The composition every service shares: settings in, a FastAPI app out, with Kafka, MongoDB and health.

Nothing connects at import time: `Runtime` holds unstarted clients; the app's lifespan starts them.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure

from shared import metrics
from shared.gate import Gate
from shared.lease import Job, Lease, instance_id, run_leased
from shared.logs import setup_logging
from shared.messaging import COMMITS, build_broker, ensure_topics
from shared.mongo import make_client
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
Hook = Callable[[], Awaitable[Any]]
INTERNAL_HEADER = "X-Internal-Token"


@dataclass
class Runtime:
    name: str
    settings: ServiceSettings
    mongo: AsyncMongoClient
    db: AsyncDatabase
    broker: KafkaBroker
    relays: list[OutboxRelay] = field(default_factory=list)
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)  # after the consumers stop, before the database closes
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def lease(self, job: str) -> Lease:
        return Lease(self.db["leases"], job, self.settings.instance_id or instance_id(self.settings.service_port),
                     ttl=self.settings.lease_seconds)

    def singleton(self, job: str, run: Job) -> None:
        """A background job that must not run twice: it runs on the one instance holding its lease."""
        lease = self.lease(job)
        self.background.append(lambda: run_leased(lease, run))

    def once(self, what: str, hook: Hook) -> None:
        """A start-up job run beside the consumers rather than before them, retried until it succeeds."""
        self.background.append(lambda: _with_retry(what, hook, timeout=math.inf))

    def relay(self, collection: str) -> OutboxRelay:
        r = OutboxRelay(self.db[collection], self.broker, self.settings, lease=self.lease(f"outbox:{collection}"))
        self.relays.append(r)
        return r


def create_runtime(name: str, settings: ServiceSettings) -> Runtime:
    mongo = make_client(settings)
    return Runtime(name=name, settings=settings, mongo=mongo, db=mongo[settings.database(name)],
                   broker=build_broker(settings, name))


async def _with_retry(what: str, fn: Hook, timeout: float = 90.0) -> None:
    """At start-up wait for Kafka and MongoDB to answer rather than crash-loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.5
    while True:
        try:
            await fn()
            return
        except Exception as exc:  # noqa: BLE001
            if loop.time() > deadline:
                raise
            log.warning("%s not ready (%s: %s); retrying", what, type(exc).__name__, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5)


def create_app(rt: Runtime, *, title: str, description: str = "") -> FastAPI:
    setup_logging(rt.name, rt.settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _with_retry("mongodb", lambda: rt.mongo.admin.command("ping"))
        await _with_retry("kafka topics", lambda: ensure_topics(rt.settings))
        for hook in rt.on_start:
            await _with_retry(f"{rt.name} start-up", hook)
        await _with_retry("kafka broker", rt.broker.start)
        for relay in rt.relays:
            relay.start()
        tasks = [asyncio.create_task(job(), name=f"{rt.name}:bg") for job in rt.background]
        log.info("%s started", rt.name)
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            for relay in rt.relays:
                await relay.stop()
            await COMMITS.flush()  # what was handled is not redelivered after a clean stop
            await rt.broker.stop()
            for hook in rt.on_stop:
                await hook()
            await rt.mongo.close()

    app = FastAPI(title=title, description=description, lifespan=lifespan, version="0.1.0")

    @app.exception_handler(ConnectionFailure)  # the base of every transient PyMongo error (shared.mongo)
    async def database_away(request: Request, exc: Exception) -> JSONResponse:
        """The database is away: nothing was accepted; say so and when to retry (never a bare 500)."""
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "数据库暂不可用，请稍后重试 storage unavailable; retry shortly"},
                            status_code=503, headers={"Retry-After": "5"})

    app.add_middleware(InternalOnly, token=rt.settings.internal_token)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": rt.name}

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.get("/readyz", tags=["health"], summary="Readiness: MongoDB and Kafka answer")
    async def readyz() -> JSONResponse:
        checks = {}
        try:
            await asyncio.wait_for(rt.mongo.admin.command("ping"), 2)
            checks["mongodb"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["mongodb"] = f"down: {type(exc).__name__}"
        checks["kafka"] = "ok" if await rt.broker.ping(timeout=2) else "down"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)

    return app


class InternalOnly(Gate):
    """/internal/… is for the other services of the center: they present the shared internal token."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token.encode()

    async def refuse(self, request: Request) -> Response | None:
        if request.url.path.startswith("/internal") and not hmac.compare_digest(
                request.headers.get(INTERNAL_HEADER, "").encode(), self.token):
            return JSONResponse({"detail": "internal endpoint: X-Internal-Token required"}, status_code=401)
        return None


def internal_client(settings: ServiceSettings, timeout: float) -> httpx.AsyncClient:
    """A client for another service's /internal endpoints, carrying the shared internal token."""
    return httpx.AsyncClient(timeout=timeout, headers={INTERNAL_HEADER: settings.internal_token})


# libuv's event loop and a C HTTP parser: every service spends most of its time in the loop (Kafka, MongoDB and
# HTTP round trips); uvloop took a fifth off each service's CPU per complaint in the pipeline benchmark
# (docs/adr/0016). Named, not "auto": a missing uvloop is an error at start, not a silent slowdown.
SERVER_LOOP = {"loop": "uvloop", "http": "httptools"}


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    import uvicorn

    uvicorn.run(app, host=settings.service_host, port=settings.service_port, log_config=None,
                access_log=False, lifespan="on", **SERVER_LOOP)
