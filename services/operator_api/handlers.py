"""Operator API handlers: send a command durably (outbox), then wait briefly to read its effect."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import HTTPException
from fastapi.responses import Response
from pymongo.asynchronous.database import AsyncDatabase

from services.archive import queries
from services.operator_api.config import OperatorApiSettings
from shared.contracts import Envelope, Payload
from shared.intake import IntakeStore
from shared.originals import content_disposition
from shared.outbox import OutboxRelay, outbox_doc
from shared.runtime import internal_client
from shared.scope import Scope
from shared.settings import ServiceSettings


async def send_command(*, db: AsyncDatabase, relay: OutboxRelay, settings: ServiceSettings,
                       case: dict[str, Any], payload: Payload) -> Envelope[Any]:
    """Store the command with its outbox entry, then publish; a Kafka outage only delays it."""
    command = Envelope[type(payload)](  # type: ignore[misc]
        type=type(payload).__name__, correlation_id=uuid.UUID(case["complaint_id"]),
        group_id=case["group_id"], estate_id=case["estate_id"], complaint_id=case["complaint_id"],
        payload=payload,
    )
    doc = {"_id": str(command.event_id), "complaint_id": case["complaint_id"], "type": command.type,
           "at": datetime.now(UTC), "payload": payload.model_dump(mode="json"),
           **outbox_doc(settings, [command])}
    await db["commands"].insert_one(doc)
    await relay.try_flush(doc["_id"], doc["outbox"])
    return command


async def wait_for_case(archive_db: AsyncDatabase, scope: Scope, complaint_id: str,
                        done: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any] | None:
    """Read-your-writes for the operator: poll the record until the command shows, or give up quietly."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        case = await queries.get_case(archive_db, scope, complaint_id)
        if case is not None and done(case):
            return case
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(0.1)


async def fetch_original(item: dict[str, Any], settings: OperatorApiSettings, intake: IntakeStore) -> Response:
    """Originals stay with the intake service that received them; fetch through its internal endpoint."""
    service, _, file_id = (item.get("ref") or "").partition(":")
    if service == intake.source:
        found = await intake.originals.get(file_id)
        if found is None:
            raise HTTPException(status_code=404, detail="original not found")
        meta, data = found
        return Response(data, media_type=meta.get("content_type"),
                        headers={"Content-Disposition": content_disposition(meta["filename"])})
    base = settings.intake_urls.get(service)
    if base is None:
        raise HTTPException(status_code=404, detail=f"original kept by unknown service {service!r}")
    try:
        async with internal_client(settings, 30) as client:
            r = await client.get(f"{base}/internal/originals/{file_id}")
    except httpx.HTTPError as exc:
        raise HTTPException(status_code=503, detail=f"{service} is not answering: {exc}") from exc
    if r.status_code != 200:
        raise HTTPException(status_code=404 if r.status_code == 404 else 502, detail="original not available")
    return Response(r.content, media_type=r.headers.get("content-type"),
                    headers={"Content-Disposition": r.headers.get("content-disposition", "inline")})
