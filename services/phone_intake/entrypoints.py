"""HTTP routes of the phone intake: the CTI system posts each finished call."""

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pymongo.asynchronous.database import AsyncDatabase

from services.phone_intake.domain import TranscriptError, Turn, parse_text, role_of
from services.phone_intake.handlers import CallFacts, UnknownLine, take_call
from shared.communications import CommunicationLog
from shared.http import out_of_scope
from shared.intake import IntakeStore
from shared.org import OrgDirectory, line_owner
from shared.originals import Original

_ID = r"^[A-Za-z0-9_.:-]+$"
_PHONE = r"^[0-9+\-() ]{3,40}$"


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speaker: str = Field(min_length=1, max_length=20, description="坐席/业主 or agent/caller")
    text: str = Field(max_length=20_000)
    start: float | None = Field(None, ge=0, description="Seconds from the start of the call")


class RecordingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field("audio/wav", max_length=100)
    content_base64: str = Field(min_length=1, max_length=40_000_000)

    @field_validator("content_base64")
    @classmethod
    def _b64(cls, v: str) -> str:
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("recording is not valid base64") from exc
        return v


class CallIn(BaseModel):
    """One finished call from the CTI system (通话记录)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    call_id: str = Field(min_length=1, max_length=128, pattern=_ID, description="CTI call id (idempotency key)")
    caller_number: str = Field(pattern=_PHONE, description="主叫号码")
    called_line: str = Field(pattern=_PHONE, description="被叫号码: an estate's line or the group hotline")
    started_at: datetime
    ended_at: datetime
    operator_id: str = Field(min_length=1, max_length=100, description="坐席工号")
    caller_name: str = Field("", max_length=100)
    unit: str = Field("", max_length=200)
    transcript: list[TurnIn] | None = Field(None, max_length=2000, description="Speaker turns")
    transcript_text: str | None = Field(None, max_length=200_000,
                                        description="Plain `坐席：…/业主：…` lines, or a WebVTT document")
    recording: RecordingIn | None = None

    @model_validator(mode="after")
    def _one_transcript(self) -> "CallIn":
        if (self.transcript is None) == (self.transcript_text is None):
            raise ValueError("give exactly one of transcript (turns) or transcript_text (plain text or WebVTT)")
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


def build_router(store: IntakeStore, comms: CommunicationLog, org: OrgDirectory, archive_db: AsyncDatabase
                 ) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["phone 电话"])

    @router.post("/calls", status_code=202, summary="通话转写 A finished call from the CTI system",
                 responses={200: {"description": "Already received, or an enquiry recorded as a communication"},
                            422: {"description": "Invalid call (kept for review)"}})
    async def post_call(call: CallIn, request: Request) -> Annotated[Any, JSONResponse]:
        raw = await request.body()
        owner = line_owner(org, call.called_line, "phone_lines")
        if owner is not None and not request.state.grant.covers(*owner):
            raise out_of_scope(f"线路 line {call.called_line}")
        try:
            turns = ([Turn(role_of(t.speaker), t.text.strip(), t.start) for t in call.transcript]
                     if call.transcript is not None else parse_text(call.transcript_text or ""))
            facts = CallFacts(call.call_id, call.caller_number, call.called_line, call.operator_id,
                              call.started_at, call.ended_at, call.caller_name, call.unit)
            recording = (Original(base64.b64decode(call.recording.content_base64), call.recording.name,
                                  call.recording.content_type, "recording") if call.recording else None)
            result = await take_call(store=store, comms=comms, org=org, archive_db=archive_db, facts=facts, turns=turns,
                                     raw=raw, recording=recording)
        except (TranscriptError, UnknownLine) as exc:
            await store.keep_rejected(raw, str(exc), "phone")
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        created = result["kind"] == "complaint" and not result["duplicate"]
        return JSONResponse(result, status_code=202 if created else 200)

    return router
