"""HTTP routes of the operator API: thin, each validates, calls one handler or query, and answers."""


from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymongo.asynchronous.database import AsyncDatabase

from services.archive import queries
from services.operator_api.auth import AuthStore, Principal, session_token
from services.operator_api.config import OperatorApiSettings
from services.operator_api.domain import (
    CaseStateConflict,
    check_can_correct,
    check_can_pause,
    check_can_progress,
    check_can_reassign,
    check_can_record_callback,
    check_can_resolve,
    check_can_resume,
    check_can_send_back,
)
from services.operator_api.handlers import fetch_original, send_command, wait_for_case
from services.operator_api.live import CaseChanges
from shared.asyncapi import build_spec
from shared.contracts import (
    AcknowledgeComplaint,
    CorrectClassification,
    PauseClocks,
    ReassignComplaint,
    RecordCallback,
    RecordFirstResponse,
    ResolveComplaint,
    ResumeClocks,
    SendBackComplaint,
)
from shared.intake import Accepted, ComplaintIn, IntakeStore, Submission
from shared.org import OrgDirectory
from shared.outbox import OutboxRelay
from shared.scope import Scope
from shared.terms import SEVERITY_ZH, SUBCATEGORY_OF, ZH, Category, Channel, Satisfaction, Status
from shared.workcal import LOCAL_TZ, add_working_days


class OperatorComplaintIn(ComplaintIn):
    """A complaint an operator records: on the phone, at the desk, for someone else, or passed on by staff."""

    channel: Literal["phone", "visit", "proxy", "staff_relay", "letter", "mailbox", "fax", "email"] = Field(
        description="投诉途径 / channel")
    receiver: str = Field("", max_length=100, description="受理人 / who received it (default: the signed-in person)")
    reported_by: str = Field("", max_length=200,
                             description="委托人 (proxy) or 转述员工 (staff relay): who passed the complaint on")

    @model_validator(mode="after")
    def _who_passed_it_on(self) -> "OperatorComplaintIn":
        if self.channel in ("proxy", "staff_relay") and not self.reported_by:
            raise ValueError(f"channel {self.channel} needs reported_by: who passed the complaint on")
        return self


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    note: str = Field(min_length=1, max_length=5_000, description="处理结果 / what was done")
    by: str = Field(min_length=1, max_length=100, description="处理人 / who did it")


class ByIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    by: str = Field(min_length=1, max_length=100, description="处理人 / staff id of who did it")


class FirstResponseIn(ByIn):
    note: str = Field("", max_length=2_000, description="到场情况 / what was found")


class SendBackIn(ByIn):
    reason: str = Field(min_length=2, max_length=2_000, description="退单原因 / why it is not ours")
    to_department: str = Field("", max_length=64, description="应转部门 / where it belongs, if known")


class ReassignIn(ByIn):
    to_staff_id: str = Field(min_length=1, max_length=64, description="改派给 / staff id")
    reason: str = Field(min_length=2, max_length=2_000, description="改派原因")


class PauseIn(ByIn):
    reason: str = Field(min_length=2, max_length=2_000, description="暂停原因 / e.g. 业主周六才在家")


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    subcategory: str = Field(min_length=1, max_length=40, description="细类")
    severity: Literal["emergency", "major", "general", "minor"]
    valid: bool
    note: str = Field("", max_length=2_000)
    by: str = Field(min_length=1, max_length=100)


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)  # dates the center can reason about (422 outside)


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reached: bool = Field(description="是否联系上 / reached the complainant")
    satisfaction: Satisfaction | None = Field(None, description="满意度 / satisfaction when reached")
    note: str = Field("", max_length=5_000)
    by: str = Field("", max_length=100)


async def authenticate(request: Request, settings: OperatorApiSettings) -> Principal:
    """Who is calling: a session (cookie or bearer token) or an API key; 401 without either."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    auth: AuthStore = request.app.state.auth
    principal = None
    key = request.headers.get("x-api-key")
    token = session_token(request)
    if key:
        principal = await auth.from_key(key)
    elif token:
        principal = await auth.from_session(token)
    if principal is None and not settings.auth_required and not (key or token):
        group = settings.dev_group_id
        principal = Principal("dev", "dev", "group_admin", group, auth.scope_of(group, [], []), "development")
    if principal is None:
        raise HTTPException(status_code=401, detail="请先登录 sign in first (session or API key)",
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.principal = principal
    return principal


def scope_dependency(org: OrgDirectory, settings: OperatorApiSettings):
    """The caller's scope, from their session or API key: every query and command takes it."""

    async def get_scope(request: Request) -> Scope:
        return (await authenticate(request, settings)).scope

    return get_scope


def require(settings: OperatorApiSettings, *roles: str):
    """Only these roles (403 for others in scope)."""

    async def check(request: Request) -> Principal:
        principal = await authenticate(request, settings)
        if principal.role not in roles:
            raise HTTPException(status_code=403, detail=f"角色 {principal.role} 无权操作 role {principal.role} may "
                                                        f"not do this")
        return principal

    return check


def build_router(*, org: OrgDirectory, settings: OperatorApiSettings, archive_db: AsyncDatabase,
                 own_db: AsyncDatabase, command_relay: OutboxRelay, intake: IntakeStore,
                 live: CaseChanges) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    ScopeDep = Annotated[Scope, Depends(scope_dependency(org, settings))]

    async def case_in_scope(scope: Scope, complaint_id: str) -> dict[str, Any]:
        case = await queries.get_case(archive_db, scope, complaint_id)
        if case is None:
            raise HTTPException(status_code=404, detail="complaint not found")
        return case

    @router.get("/terms", tags=["directory 组织"], summary="术语 Chinese labels of every code (one mapping)")
    async def terms(scope: ScopeDep) -> dict[str, Any]:
        return {"zh": ZH, "severity": SEVERITY_ZH, "subcategories": SUBCATEGORY_OF,
                "timezone": getattr(LOCAL_TZ, "key", "Asia/Shanghai")}  # days are the center's days

    @router.get("/events/stream", tags=["cases 投诉"], summary="实时推送 Case changes in my scope (Server-Sent Events)",
                response_class=StreamingResponse)
    async def case_stream(scope: ScopeDep, request: Request) -> StreamingResponse:
        """`event: case` with complaint_id, estate_id, status and tracking number (no personal data) whenever a
        case in the caller's scope changes; re-read the queue on it. The stream ends after 10 minutes and the
        browser's EventSource reconnects (the session is checked again)."""
        return StreamingResponse(live.stream(scope, is_disconnected=request.is_disconnected),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.get("/estates", tags=["directory 组织"], summary="我的项目 Estates in my scope")
    async def list_estates(scope: ScopeDep) -> list[dict[str, str]]:
        return [{"id": e.id, "name": e.name, "name_en": e.name_en, "city": e.city, "group_id": scope.group_id}
                for e in org.estates_of(scope.group_id) if scope.allows(scope.group_id, e.id)]

    @router.get("/complaints", tags=["cases 投诉"], summary="投诉队列 Queue, nearest deadline first")
    async def list_complaints(
        scope: ScopeDep, estate_id: str | None = Query(None, max_length=64),
        status: Status | None = None, needs_review: bool | None = None, channel: Channel | None = None,
        page: int = Query(1, ge=1, le=10_000), page_size: int = Query(20, ge=1, le=100),
        category: Category | None = None,
        q: str | None = Query(None, max_length=100, description="关键词 keywords: newest first; for common words "
                              "`total` counts the latest weeks read (`total_exact` false: at least that many)"),
        received_from: date | None = Query(None, ge=FIRST_DAY, le=LAST_DAY),
        received_to: date | None = Query(None, description="exclusive", ge=FIRST_DAY, le=LAST_DAY),
        complainant: str | None = Query(None, max_length=40, description="投诉人电话 complainant's phone"),
    ) -> dict[str, Any]:
        def local(d: date | None) -> datetime | None:
            return datetime.combine(d, time(0), tzinfo=LOCAL_TZ) if d else None

        return await queries.list_cases(archive_db, scope, estate_id=estate_id,
                                        status=status.value if status else None, needs_review=needs_review,
                                        channel=channel.value if channel else None, page=page,
                                        page_size=page_size, category=category.value if category else None, q=q,
                                        received_from=local(received_from), received_to=local(received_to),
                                        complainant=complainant)

    @router.get("/complaints/{complaint_id}", tags=["cases 投诉"], summary="投诉详情 Complete record")
    async def get_complaint(scope: ScopeDep, complaint_id: str, request: Request) -> dict[str, Any]:
        """Full personal data only for roles that work with the complainant, and every such view is audited."""
        case = await case_in_scope(scope, complaint_id)
        principal: Principal = request.state.principal
        if principal.sees_pii and any((case.get("complainant") or {}).values()):
            await request.app.state.auth.audit(principal, "view_personal_data", case["complaint_id"],
                                               case.get("estate_id", ""), {"fields": ["name", "phone", "unit"]})
        else:
            case["complainant"] = case.get("complainant_masked") or {}
        return case

    @router.post("/complaints", status_code=202, response_model=Accepted, tags=["intake 受理"],
                 summary="坐席登记投诉 Operator intake (phone, visit, proxy, staff relay)")
    async def post_complaint(scope: ScopeDep, body: OperatorComplaintIn, request: Request,
                             idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
        if not scope.allows(scope.group_id, body.estate_id):
            raise HTTPException(status_code=404, detail=f"estate {body.estate_id!r} not found")
        receiver = body.receiver or request.state.principal.id  # 谁受理: the person signed in
        sub = Submission(body=ComplaintIn(**body.model_dump(exclude={"channel", "receiver", "reported_by"})),
                         channel=Channel(body.channel), receiver=receiver, reported_by=body.reported_by)
        accepted = await intake.accept(sub, raw=await request.body(), group_id=scope.group_id,
                                       idempotency_key=idempotency_key)
        return JSONResponse(accepted.model_dump(), status_code=200) if accepted.duplicate else accepted

    async def command(scope: Scope, complaint_id: str, check, payload, done) -> JSONResponse:
        case = await case_in_scope(scope, complaint_id)
        try:
            check(case)
        except CaseStateConflict as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
        sent = await send_command(db=own_db, relay=command_relay, settings=settings, case=case, payload=payload)
        after = await wait_for_case(archive_db, scope, case["complaint_id"], done, settings.command_wait_seconds)
        if after is None:
            return JSONResponse({"command_id": str(sent.event_id), "status": "accepted"}, status_code=202)
        return JSONResponse({"command_id": str(sent.event_id), "status": after["status"],
                             "complaint": jsonable(after)}, status_code=200)

    @router.get("/complaints/{complaint_id}/originals/{index}", tags=["cases 投诉"],
                summary="原件 An original (scan, fax, email, transcript, recording, attachment)")
    async def get_original(scope: ScopeDep, complaint_id: str, index: int) -> Response:
        case = await case_in_scope(scope, complaint_id)
        items = case.get("attachments") or []
        if not 0 <= index < len(items):
            raise HTTPException(status_code=404, detail="original not found")
        return await fetch_original(items[index], settings, intake)

    @router.post("/complaints/{complaint_id}/classification", tags=["cases 投诉"],
                 summary="更正判定 Correct the classification (kept for the next training run)",
                 responses={202: {"description": "Accepted; not yet visible"}, 409: {"description": "Not triaged"},
                            422: {"description": "Unknown subcategory or inconsistent severity"}})
    async def correct(scope: ScopeDep, complaint_id: str, body: CorrectionIn) -> JSONResponse:
        try:
            payload = CorrectClassification(**body.model_dump())
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return await command(scope, complaint_id, check_can_correct, payload,
                             lambda c: c.get("corrected_by") == body.by and c.get("subcategory") == body.subcategory)

    @router.post("/complaints/{complaint_id}/resolve", tags=["cases 投诉"], summary="处理完毕 Resolve",
                 responses={202: {"description": "Accepted; not yet visible"}, 409: {"description": "Wrong state"}})
    async def resolve(scope: ScopeDep, complaint_id: str, body: ResolveIn) -> JSONResponse:
        payload = ResolveComplaint(note=body.note, by=body.by)
        return await command(scope, complaint_id, check_can_resolve, payload,
                             lambda c: c["status"] != "assigned")

    def send_back_window_end(case: dict[str, Any]) -> datetime:
        group = org.group(case["group_id"])
        return add_working_days(case["assigned_at"], group.send_back_days if group else 2)

    @router.post("/complaints/{complaint_id}/acknowledge", tags=["cases 投诉"], summary="接单 Take the case",
                 responses={202: {"description": "Accepted; not yet visible"}, 409: {"description": "Wrong state"}})
    async def acknowledge(scope: ScopeDep, complaint_id: str, body: ByIn) -> JSONResponse:
        return await command(scope, complaint_id, check_can_progress("acknowledge"),
                             AcknowledgeComplaint(by=body.by), lambda c: "acknowledge" in c.get("met", []))

    @router.post("/complaints/{complaint_id}/first-response", tags=["cases 投诉"],
                 summary="到场 On site / first response",
                 responses={202: {"description": "Accepted; not yet visible"}, 409: {"description": "Wrong state"}})
    async def first_response(scope: ScopeDep, complaint_id: str, body: FirstResponseIn) -> JSONResponse:
        return await command(scope, complaint_id, check_can_progress("first_response"),
                             RecordFirstResponse(by=body.by, note=body.note),
                             lambda c: "first_response" in c.get("met", []))

    @router.post("/complaints/{complaint_id}/send-back", tags=["cases 投诉"], summary="退单 Send a case back",
                 responses={202: {"description": "Accepted; not yet visible"},
                            409: {"description": "Not the assignee, wrong state or past the window"}})
    async def send_back(scope: ScopeDep, complaint_id: str, body: SendBackIn) -> JSONResponse:
        before = await case_in_scope(scope, complaint_id)
        seen = len(before.get("send_backs", []))
        check = check_can_send_back(body.by, send_back_window_end, datetime.now(UTC))
        return await command(scope, complaint_id, check, SendBackComplaint(**body.model_dump()),
                             lambda c: len(c.get("send_backs", [])) > seen)

    @router.post("/complaints/{complaint_id}/reassign", tags=["cases 投诉"], summary="改派 Reassign by hand",
                 dependencies=[Depends(require(settings, "supervisor", "estate_manager", "group_admin"))],
                 responses={202: {"description": "Accepted; not yet visible"}, 409: {"description": "Wrong state"},
                            422: {"description": "Not staff of the estate"}})
    async def reassign(scope: ScopeDep, complaint_id: str, body: ReassignIn) -> JSONResponse:
        case = await case_in_scope(scope, complaint_id)
        person = org.person(body.to_staff_id)
        if person is None or person.estate != case["estate_id"]:
            raise HTTPException(status_code=422, detail=f"{body.to_staff_id} is not staff of {case['estate_id']}")
        return await command(scope, complaint_id, check_can_reassign, ReassignComplaint(**body.model_dump()),
                             lambda c: (c.get("assignee") or {}).get("staff_id") == body.to_staff_id)

    @router.post("/complaints/{complaint_id}/pause", tags=["cases 投诉"], summary="暂停计时 Pause the clocks",
                 responses={202: {"description": "Accepted; not yet visible"}, 409: {"description": "Wrong state"}})
    async def pause(scope: ScopeDep, complaint_id: str, body: PauseIn) -> JSONResponse:
        return await command(scope, complaint_id, check_can_pause, PauseClocks(**body.model_dump()),
                             lambda c: bool(c.get("paused")))

    @router.post("/complaints/{complaint_id}/resume", tags=["cases 投诉"], summary="恢复计时 Resume the clocks",
                 responses={202: {"description": "Accepted; not yet visible"}, 409: {"description": "Not paused"}})
    async def resume(scope: ScopeDep, complaint_id: str, body: ByIn) -> JSONResponse:
        return await command(scope, complaint_id, check_can_resume, ResumeClocks(by=body.by),
                             lambda c: not c.get("paused"))

    @router.post("/complaints/{complaint_id}/callbacks", tags=["cases 投诉"], summary="记录回访 Record a callback",
                 responses={202: {"description": "Accepted; not yet visible"}, 409: {"description": "Wrong state"}})
    async def callback(scope: ScopeDep, complaint_id: str, body: CallbackIn) -> JSONResponse:
        try:
            payload = RecordCallback(**body.model_dump())
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        before = await case_in_scope(scope, complaint_id)
        seen = len(before.get("callbacks", []))
        return await command(scope, complaint_id, check_can_record_callback, payload,
                             lambda c: len(c.get("callbacks", [])) > seen)

    return router


def jsonable(doc: dict[str, Any]) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(doc)


def build_docs_router(settings: OperatorApiSettings) -> APIRouter:
    router = APIRouter(tags=["docs"])
    cache: dict[str, Any] = {}

    @router.get("/asyncapi.json", summary="AsyncAPI document of the events and commands")
    async def asyncapi() -> dict[str, Any]:
        if "doc" not in cache:
            cache["doc"] = build_spec(settings)
        return cache["doc"]

    return router
