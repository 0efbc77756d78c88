"""Originals (scans, faxes, raw emails, transcripts, recordings, attachments) kept in GridFS, linked to the case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bson import ObjectId
from bson.errors import InvalidId
from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from gridfs import AsyncGridFSBucket, NoFile
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts import Attachment


@dataclass(frozen=True)
class Original:
    data: bytes
    name: str
    content_type: str = "application/octet-stream"
    kind: str = "attachment"  # original | attachment | transcript | recording | email | scan


class OriginalsStore:
    """One GridFS bucket per intake service; refs are '<service>:<file id>' so the operator API can route."""

    def __init__(self, db: AsyncDatabase, service: str) -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name="originals")
        self.service = service

    async def put(self, original: Original, complaint_id: str) -> Attachment:
        file_id = await self.bucket.upload_from_stream(
            original.name, original.data,
            metadata={"content_type": original.content_type, "complaint_id": complaint_id, "kind": original.kind},
        )
        return Attachment(name=original.name, content_type=original.content_type, size=len(original.data),
                          ref=f"{self.service}:{file_id}", kind=original.kind)

    async def get(self, file_id: str) -> tuple[dict[str, Any], bytes] | None:
        try:
            stream = await self.bucket.open_download_stream(ObjectId(file_id))
        except (InvalidId, NoFile, TypeError):
            return None
        data = await stream.read()
        meta = dict(stream.metadata or {})
        meta["filename"] = stream.filename
        return meta, data


def content_disposition(filename: str) -> str:
    return f"inline; filename*=UTF-8''{quote(filename)}"


def originals_router(store: OriginalsStore) -> APIRouter:
    """Internal read of an original by id, for the operator API (which checks the caller's scope first)."""
    router = APIRouter(prefix="/internal", tags=["internal"])

    @router.get("/originals/{file_id}", summary="An original as it was received")
    async def get_original(file_id: str) -> Response:
        found = await store.get(file_id)
        if found is None:
            raise HTTPException(status_code=404, detail="original not found")
        meta, data = found
        return Response(data, media_type=meta.get("content_type") or "application/octet-stream",
                        headers={"Content-Disposition": content_disposition(meta["filename"])})

    return router
