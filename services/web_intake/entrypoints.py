"""HTTP routes of the web intake: thin, they validate, call one handler and answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from services.web_intake.domain import UnknownEstate
from services.web_intake.handlers import submit_complaint
from shared.http import out_of_scope
from shared.intake import Accepted, ComplaintIn, IntakeStore
from shared.org import OrgDirectory


def build_router(store: IntakeStore, org: OrgDirectory) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["intake 受理"])

    @router.post("/complaints", status_code=202, response_model=Accepted,
                 summary="提交投诉 Submit a complaint",
                 responses={422: {"description": "Invalid submission (kept for review)"}})
    async def post_complaint(
        body: ComplaintIn, request: Request,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Accepted | JSONResponse:
        raw = await request.body()
        grant = request.state.grant  # the owners' app backend with its key; None for the public form
        if grant is not None and not grant.covers(org.group_of(body.estate_id), body.estate_id):
            raise out_of_scope(body.estate_id)
        try:
            accepted = await submit_complaint(store=store, org=org, body=body, raw=raw,
                                              idempotency_key=idempotency_key)
        except UnknownEstate as exc:
            await store.keep_rejected(raw, str(exc), "online")
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        if accepted.duplicate:
            return JSONResponse(accepted.model_dump(), status_code=200)
        return accepted

    return router
