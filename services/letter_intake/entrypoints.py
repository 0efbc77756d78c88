"""HTTP routes of the letter intake (scanner uploads) and the watched scanner folder."""

import asyncio
import logging
import mimetypes
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse

from services.letter_intake.config import LetterIntakeSettings
from services.letter_intake.handlers import take_letter
from shared.http import out_of_scope
from shared.intake import ComplainantIn, IntakeStore
from shared.org import OrgDirectory
from shared.scanning import ScanFile
from shared.terms import Channel

log = logging.getLogger(__name__)
ACCEPTED_TYPES = {"application/pdf", "image/tiff", "image/jpeg", "image/png"}


def build_router(store: IntakeStore, org: OrgDirectory, settings: LetterIntakeSettings) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["letters 信函/意见箱"])

    @router.post("/scans", status_code=202, summary="上传扫描件 Upload the scanned pages of one letter or note",
                 responses={200: {"description": "These pages were already received"},
                            413: {"description": "File too large"}, 422: {"description": "Unusable upload"}})
    async def post_scans(
        request: Request,
        files: Annotated[list[UploadFile], File(description="Pages in order: PDF, multi-page TIFF, JPEG, PNG")],
        estate_id: Annotated[str, Form(min_length=1, max_length=64)],
        source: Annotated[Literal["letter", "mailbox"], Form()] = "letter",
        batch_id: Annotated[str | None, Form(max_length=128)] = None,
        name: Annotated[str, Form(max_length=100)] = "",
        phone: Annotated[str, Form(max_length=40)] = "",
        unit: Annotated[str, Form(max_length=200)] = "",
    ) -> JSONResponse:
        group_id = org.group_of(estate_id)
        if group_id is None:
            raise HTTPException(status_code=422, detail=f"unknown estate_id {estate_id!r}")
        if not request.state.grant.covers(group_id, estate_id):
            raise out_of_scope(estate_id)
        if not files or len(files) > 50:
            raise HTTPException(status_code=422, detail="send 1 to 50 files")
        scans = []
        for f in files:
            data = await f.read(settings.max_file_bytes + 1)
            if len(data) > settings.max_file_bytes:
                raise HTTPException(status_code=413,
                                    detail=f"{f.filename}: larger than {settings.max_file_bytes} bytes")
            if not data:
                raise HTTPException(status_code=422, detail=f"{f.filename}: empty file")
            scans.append(ScanFile(data, f.filename or "scan", f.content_type or "application/octet-stream"))
        try:
            complainant = ComplainantIn(name=name, phone=phone, unit=unit)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        accepted, info = await take_letter(store=store, files=scans, estate_id=estate_id, group_id=group_id,
                                           source=Channel(source), threshold=settings.review_below_confidence,
                                           batch_id=batch_id, complainant=complainant)
        return JSONResponse({**accepted.model_dump(), **info}, status_code=200 if accepted.duplicate else 202)

    return router


class ScanInbox:
    """The folder the scanner writes into: <inbox>/<estate_id>/<letter|mailbox>/<file>. One file is one letter.

    A file is taken once its size has stopped changing; afterwards it moves to <inbox>/processed or
    <inbox>/failed (with a .reason.txt), so nothing is read twice and nothing silently disappears.
    """

    def __init__(self, store: IntakeStore, org: OrgDirectory, settings: LetterIntakeSettings) -> None:
        self.root = Path(settings.scan_inbox)
        self.store, self.org, self.settings = store, org, settings
        self._sizes: dict[Path, int] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.scan_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad file or a database outage must not stop the watcher
                log.exception("scan inbox pass failed")
            await asyncio.sleep(self.settings.scan_poll_seconds)

    async def scan_once(self) -> int:
        done = 0
        for path in sorted(self.root.glob("*/*/*")):
            if not path.is_file():  # processed/ and failed/ sit one level deeper and never match
                continue
            size = path.stat().st_size
            if self._sizes.get(path) != size:  # still being written, or new: look again next pass
                self._sizes[path] = size
                continue
            self._sizes.pop(path, None)
            await self.take(path)
            done += 1
        return done

    async def take(self, path: Path) -> None:
        estate_id, source = path.parts[-3], path.parts[-2]
        group_id = self.org.group_of(estate_id)
        if group_id is None or source not in ("letter", "mailbox"):
            self._park(path, "failed", f"folder must be <estate_id>/<letter|mailbox>/, got {estate_id}/{source}")
            return
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        scan = ScanFile(path.read_bytes(), path.name, ctype)
        accepted, _ = await take_letter(store=self.store, files=[scan], estate_id=estate_id, group_id=group_id,
                                        source=Channel(source), threshold=self.settings.review_below_confidence)
        log.info("scan %s became complaint %s", path.name, accepted.tracking_no)
        self._park(path, "processed", accepted.tracking_no)

    def _park(self, path: Path, where: str, note: str) -> None:
        target = self.root / where / path.parent.relative_to(self.root)
        target.mkdir(parents=True, exist_ok=True)
        path.rename(target / path.name)
        (target / f"{path.name}.reason.txt").write_text(note + "\n", encoding="utf-8")
