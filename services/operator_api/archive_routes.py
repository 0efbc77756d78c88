"""Operator API: callbacks, communications, customer files, analysis and reports, archive verification, and
the import of past cases. Reads go through the archive's query modules, always within the caller's scope."""

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase

from services.archive import analysis, queries, reports, verify
from services.operator_api.config import OperatorApiSettings
from services.operator_api.entrypoints import FIRST_DAY, LAST_DAY, jsonable, require, scope_dependency
from shared.communications import CommunicationLog
from shared.contracts import BadMessage, CommunicationRecorded, Envelope, HistoryImported, parse_obj
from shared.org import OrgDirectory
from shared.outbox import OutboxRelay, outbox_doc
from shared.scope import Scope

COUNTERPART = Literal["owner", "tenant", "owners_committee", "developer", "government", "residents_committee",
                      "utility", "contractor"]


class CommunicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    estate_id: str = Field(min_length=1, max_length=64)
    at: datetime | None = Field(None, description="时间 (default now)")
    place: str = Field("", max_length=200, description="地点")
    counterpart_type: COUNTERPART = Field(description="对象类型")
    counterpart_name: str = Field(min_length=1, max_length=200, description="对象名称/姓名")
    phone: str = Field("", max_length=40)
    unit: str = Field("", max_length=200)
    staff: str = Field(min_length=1, max_length=100, description="我方人员")
    matter: str = Field(min_length=1, max_length=5_000, description="事由")
    result: str = Field("", max_length=5_000, description="结果")
    channel: Literal["phone", "visit", "meeting", "letter", "email", "other"] = "visit"
    complaint_id: str | None = Field(None, max_length=64, description="related complaint, if any")


class HistoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=200, description="The previous system, e.g. 旧客服系统 2025")
    cases: list[list[dict[str, Any]]] = Field(min_length=1, max_length=500,
                                              description="Per case, its events as envelopes, in order")


def build_archive_router(*, org: OrgDirectory, settings: OperatorApiSettings, archive_db: AsyncDatabase,
                         comms: CommunicationLog, imports: AsyncDatabase, import_relay: OutboxRelay) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    ScopeDep = Annotated[Scope, Depends(scope_dependency(org, settings))]
    analysts = [Depends(require(settings, "supervisor", "estate_manager", "region_quality", "group_admin"))]
    admin = [Depends(require(settings, "group_admin"))]

    @router.get("/callbacks", tags=["follow-up 回访"], summary="回访任务 Callbacks due, earliest first")
    async def callbacks(scope: ScopeDep, owner: str | None = Query(None, max_length=100),
                        estate_id: str | None = Query(None, max_length=64), due_before: datetime | None = None):
        return jsonable(await queries.callbacks_due(archive_db, scope, owner=owner, due_before=due_before,
                                                    estate_id=estate_id))

    @router.post("/communications", status_code=201, tags=["archive 档案"],
                 summary="沟通记录 Record a contact with any counterpart",
                 responses={200: {"description": "Already recorded (same Idempotency-Key)"}})
    async def record_communication(scope: ScopeDep, body: CommunicationIn,
                                   idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
        if not scope.allows(scope.group_id, body.estate_id):
            raise HTTPException(404, f"estate {body.estate_id!r} not found")
        if body.complaint_id and await queries.get_case(archive_db, scope, body.complaint_id) is None:
            raise HTTPException(404, "complaint not found")
        payload = CommunicationRecorded(
            communication_id=str(uuid.uuid4()), at=body.at or datetime.now(UTC), place=body.place,
            counterpart_type=body.counterpart_type, counterpart_name=body.counterpart_name, phone=body.phone,
            unit=body.unit, staff=body.staff, matter=body.matter, result=body.result, channel=body.channel,
            complaint_id=body.complaint_id)
        doc_id = f"{scope.group_id}:{idempotency_key}" if idempotency_key else payload.communication_id
        doc, duplicate = await comms.record(doc_id=doc_id, group_id=scope.group_id, estate_id=body.estate_id,
                                            payload=payload)
        return JSONResponse({"communication_id": doc["communication_id"], "duplicate": duplicate},
                            status_code=200 if duplicate else 201)

    @router.get("/communications", tags=["archive 档案"], summary="沟通记录 Communications, newest first")
    async def communications(scope: ScopeDep, estate_id: str | None = Query(None, max_length=64),
                             counterpart_type: COUNTERPART | None = None):
        return jsonable(await queries.list_communications(archive_db, scope, estate_id=estate_id,
                                                          kind=counterpart_type))

    @router.get("/archive/files", tags=["archive 档案"], summary="客户档案 Customer files by counterpart type")
    async def files(scope: ScopeDep, type: Literal["household", "owners_committee", "developer", "government",  # noqa: A002
                                                    "residents_committee", "utility", "contractor"] | None = None,
                    estate_id: str | None = Query(None, max_length=64)):
        return jsonable(await queries.list_files(archive_db, scope, kind=type, estate_id=estate_id))

    @router.get("/archive/files/{file_id}", tags=["archive 档案"],
                summary="一户一档 One file: every complaint and communication")
    async def one_file(scope: ScopeDep, file_id: str):
        found = await queries.get_file(archive_db, scope, file_id)
        if found is None:
            raise HTTPException(404, "file not found")
        return jsonable(found)

    @router.get("/households/lookup", tags=["intake 受理"],
                summary="来电查档 The caller's household: history and open cases (repeat warning)")
    async def lookup(scope: ScopeDep, phone: str = Query("", max_length=40), unit: str = Query("", max_length=200),
                     estate_id: str = Query("", max_length=64)):
        if estate_id and not scope.allows(scope.group_id, estate_id):
            raise HTTPException(404, f"estate {estate_id!r} not found")
        found = await queries.lookup_household(archive_db, scope, phone=phone, unit=unit, estate_id=estate_id)
        return jsonable(found or {"found": False})

    @router.get("/analysis/rollup", dependencies=analysts,
                tags=["analysis 分析"], summary="统计 Figures for complaints received in a period")
    async def rollup(scope: ScopeDep, period: str | None = Query(None, max_length=10),
                     date_from: date | None = Query(None, alias="from", ge=FIRST_DAY, le=LAST_DAY),
                     date_to: date | None = Query(None, alias="to", ge=FIRST_DAY, le=LAST_DAY),
                     estate_id: str | None = Query(None, max_length=64),
                     region_id: str | None = Query(None, max_length=64)):
        try:
            if period:
                _, start, end = analysis.period_bounds(period)
            elif date_from and date_to:
                start, end = date_from, date_to
            else:
                raise ValueError("give period=YYYY-MM|YYYY-Qn, or from and to (end exclusive)")
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        if estate_id and not scope.allows(scope.group_id, estate_id):
            raise HTTPException(404, f"estate {estate_id!r} not found")
        region = None
        if region_id:
            found = org.regions.get(region_id)
            if found is None or found[0] != scope.group_id:
                raise HTTPException(404, f"region {region_id!r} not found")
            region = {e.id for e in found[1].estates}
        data = await analysis.rollup(archive_db, scope, start, end, estate_id=estate_id, region_estates=region)
        data.pop("raw", None)
        return data

    @router.get("/analysis/report", dependencies=analysts, tags=["analysis 分析"],
                summary="会审报告 Monthly/quarterly review report: Excel, PDF or JSON",
                responses={200: {"content": {"application/pdf": {}, "application/vnd.openxmlformats-officedocument."
                                                                     "spreadsheetml.sheet": {}}}})
    async def report(scope: ScopeDep, period: str = Query(max_length=10),
                     format: Literal["json", "xlsx", "pdf"] = "json"):  # noqa: A002
        try:
            data = await analysis.report(archive_db, scope, org, period)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        if format == "json":
            return data
        name = f"complaints-{scope.group_id}-{period}.{format}"
        if format == "xlsx":
            return Response(reports.build_xlsx(data), headers={"Content-Disposition": f'attachment; filename="{name}"'},
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return Response(reports.build_pdf(data), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/archive/verify/{complaint_id}", tags=["archive 档案"],
                summary="校验 Verify one case's tamper-evident timeline")
    async def verify_one(scope: ScopeDep, complaint_id: str):
        case = await queries.get_case(archive_db, scope, complaint_id)
        if case is None:
            raise HTTPException(404, "complaint not found")
        return await verify.verify_case(archive_db, case["complaint_id"])

    @router.post("/archive/verify", dependencies=admin,
                 tags=["archive 档案"], summary="校验 Verify every case of the group")
    async def verify_group(scope: ScopeDep):
        return jsonable(await verify.verify_all(archive_db, scope.group_id))

    @router.post("/archive/import", dependencies=admin, status_code=202, tags=["archive 档案"],
                 summary="历史数据迁移 Import past cases from a previous system into the archive")
    async def import_history(scope: ScopeDep, body: HistoryIn):
        envelopes = []
        for i, events in enumerate(body.cases):
            parsed = []
            for raw in events:
                try:
                    env = parse_obj(raw)
                except BadMessage as exc:
                    raise HTTPException(422, f"case {i + 1}: {exc}") from exc
                if not scope.allows(env.group_id, env.estate_id):
                    raise HTTPException(404, f"case {i + 1}: estate {env.estate_id!r} not found")
                parsed.append(env)
            first = parsed[0]
            if any(e.complaint_id != first.complaint_id for e in parsed):
                raise HTTPException(422, f"case {i + 1}: events of more than one complaint")
            envelopes.append(Envelope[HistoryImported](
                type="HistoryImported", correlation_id=first.correlation_id, group_id=first.group_id,
                estate_id=first.estate_id, complaint_id=first.complaint_id,
                payload=HistoryImported(source=body.source, events=[e.model_dump(mode="json") for e in parsed])))
        for env in envelopes:
            doc = {"_id": str(env.event_id), "at": datetime.now(UTC), "complaint_id": env.complaint_id,
                   **outbox_doc(settings, [env])}
            await imports["imports"].insert_one(doc)
            await import_relay.try_flush(doc["_id"], doc["outbox"])
        return {"cases": len(envelopes), "status": "accepted"}

    return router

