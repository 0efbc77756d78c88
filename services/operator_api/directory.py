"""Directory administration through the operator API: scope-checked, then handed to the assignment service.

The assignment service owns the directory (it routes on it); these routes check that the caller's scope
covers the group or estate and forward the request to its internal API.
"""


import json
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, HTTPException, Path, Query, UploadFile
from fastapi.responses import Response
from pymongo.asynchronous.database import AsyncDatabase

from services.archive import queries
from services.operator_api.config import OperatorApiSettings
from services.operator_api.entrypoints import require, scope_dependency
from shared.org import CalendarNotice, EstatePlacement, OrgDirectory, Routing, Shift, SlaPolicy, Staff
from shared.runtime import internal_client
from shared.scope import Scope


def build_directory_router(org: OrgDirectory, settings: OperatorApiSettings) -> APIRouter:
    router = APIRouter(prefix="/api/v1/directory", tags=["directory 组织架构"])
    ScopeDep = Annotated[Scope, Depends(scope_dependency(org, settings))]
    admin = [Depends(require(settings, "group_admin"))]
    managers = [Depends(require(settings, "group_admin", "estate_manager"))]

    async def forward(scope: Scope, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json_body: Any = None, files: dict[str, Any] | None = None) -> httpx.Response:
        url = f"{settings.assignment_url}/internal/directory/{scope.group_id}/{path}"
        try:
            async with internal_client(settings, 120) as client:
                return await client.request(method, url, params={k: v for k, v in (params or {}).items()
                                                                  if v is not None},
                                            json=json_body, files=files)
        except httpx.HTTPError as exc:
            raise HTTPException(503, f"the directory (assignment service) is not answering: {exc}") from exc

    def relay(r: httpx.Response) -> Response:
        return Response(r.content, status_code=r.status_code, media_type=r.headers.get("content-type"))

    def estate_in_scope(scope: Scope, estate_id: str) -> None:
        if not scope.allows(scope.group_id, estate_id):
            raise HTTPException(404, f"estate {estate_id!r} not found")

    def whole_group(scope: Scope) -> None:
        if scope.estate_ids is not None and set(scope.estate_ids) != {e.id for e in org.estates_of(scope.group_id)}:
            raise HTTPException(403, "group-wide directory changes need a group-wide scope")

    @router.get("/estates", summary="项目列表 Estates with region, overrides and staff count")
    async def estates(scope: ScopeDep, page: int = Query(1, ge=1), page_size: int = Query(100, ge=1, le=1000)):
        r = await forward(scope, "GET", "estates", params={"page": page, "page_size": page_size})
        if r.status_code != 200 or scope.estate_ids is None:
            return relay(r)
        data = r.json()
        data["items"] = [e for e in data["items"] if e["id"] in scope.estate_ids]
        return data

    @router.get("/estates/{estate_id}", summary="项目详情 An estate's rules, deadlines and hours")
    async def estate(scope: ScopeDep, estate_id: str):
        estate_in_scope(scope, estate_id)
        return relay(await forward(scope, "GET", f"estates/{estate_id}"))

    @router.put("/estates/{estate_id}", dependencies=admin,
                summary="项目维护 Add or change one estate (and its region)")
    async def put_estate(scope: ScopeDep, estate_id: str, body: EstatePlacement):
        if org.group_of(estate_id) is not None:
            estate_in_scope(scope, estate_id)
        else:
            whole_group(scope)
        return relay(await forward(scope, "PUT", f"estates/{estate_id}", json_body=body.model_dump()))

    @router.get("/staff", summary="人员 Staff and who is on shift now (phones masked)")
    async def staff(scope: ScopeDep, estate_id: str | None = Query(None, max_length=64),
                    department: str | None = Query(None, max_length=64), role: str | None = Query(None, max_length=32),
                    on_shift: bool | None = None):
        if estate_id is not None:
            estate_in_scope(scope, estate_id)
        r = await forward(scope, "GET", "staff", params={"estate_id": estate_id, "department": department,
                                                         "role": role, "on_shift": on_shift})
        if r.status_code != 200 or scope.estate_ids is None:
            return relay(r)
        return [s for s in r.json() if s["estate"] in scope.estate_ids]

    @router.put("/staff/{staff_id}", dependencies=managers,
                summary="人员维护 Add or change a person: rota, skills, leave, cap")
    async def put_staff(scope: ScopeDep, staff_id: str, body: Staff):
        if body.estate:
            estate_in_scope(scope, body.estate)
        else:
            whole_group(scope)
        return relay(await forward(scope, "PUT", f"staff/{staff_id}", json_body=body.model_dump()))

    @router.post("/import/{kind}", dependencies=admin,
                 summary="批量导入 Import estates or staff from Excel (.xlsx) or CSV",
                 description="Good rows load and bad rows are reported by spreadsheet row number (mode=partial); "
                             "mode=all_or_nothing loads nothing when any row is bad; dry_run only checks.")
    async def import_file(scope: ScopeDep, kind: Literal["estates", "staff"], file: UploadFile,
                          mode: Literal["partial", "all_or_nothing"] = "partial", dry_run: bool = False):
        whole_group(scope)
        data = await file.read()
        return relay(await forward(scope, "POST", f"import/{kind}", params={"mode": mode, "dry_run": str(dry_run)},
                                   files={"file": (file.filename or "upload", data, file.content_type)}))

    @router.put("/shifts/{shift_id}", dependencies=admin,
                summary="班次 Add or change a duty shift of the group (local time)")
    async def put_shift(scope: ScopeDep, shift_id: str, body: Shift):
        whole_group(scope)
        return relay(await forward(scope, "PUT", f"shifts/{shift_id}", json_body=body.model_dump()))

    @router.put("/sla", dependencies=admin,
                summary="集团时限 The group's deadlines, warning share and escalation ladder")
    async def group_sla(scope: ScopeDep, body: SlaPolicy):
        whole_group(scope)
        return relay(await forward(scope, "PUT", "sla", json_body=json.loads(body.model_dump_json())))

    @router.put("/routing", dependencies=admin, summary="集团派单规则 The group's routing rules")
    async def group_routing(scope: ScopeDep, body: Routing):
        whole_group(scope)
        return relay(await forward(scope, "PUT", "routing", json_body=body.model_dump()))

    @router.put("/estates/{estate_id}/sla", dependencies=managers,
                summary="项目时限 An estate's own deadlines (null: back to the group's)")
    async def estate_sla(scope: ScopeDep, estate_id: str, body: SlaPolicy | None = None):
        estate_in_scope(scope, estate_id)
        return relay(await forward(scope, "PUT", f"estates/{estate_id}/sla",
                                   json_body=json.loads(body.model_dump_json()) if body else None))

    @router.put("/estates/{estate_id}/routing", dependencies=admin, summary="项目派单规则 An estate's overriding rules")
    async def estate_routing(scope: ScopeDep, estate_id: str, body: Routing | None = None):
        estate_in_scope(scope, estate_id)
        return relay(await forward(scope, "PUT", f"estates/{estate_id}/routing",
                                   json_body=body.model_dump() if body else None))

    @router.get("/calendar/{year}", summary="工作日历 A year's holidays, make-up days and their source")
    async def calendar(scope: ScopeDep, year: Annotated[int, Path(ge=2000, le=2100)]):
        return relay(await forward(scope, "GET", f"calendar/{year}"))

    @router.put("/calendar/{year}", dependencies=admin,
                summary="录入放假通知 Enter the State Council's holiday notice for a year")
    async def put_calendar(scope: ScopeDep, year: Annotated[int, Path(ge=2000, le=2100)], body: CalendarNotice):
        whole_group(scope)
        return relay(await forward(scope, "PUT", f"calendar/{year}", json_body=json.loads(body.model_dump_json())))

    return router


def build_clock_router(org: OrgDirectory, settings: OperatorApiSettings, archive_db: AsyncDatabase) -> APIRouter:
    """The assignment service's view of a case: clocks, budgets used, the next timer."""
    router = APIRouter(prefix="/api/v1", tags=["cases 投诉"])
    ScopeDep = Annotated[Scope, Depends(scope_dependency(org, settings))]

    @router.get("/complaints/{complaint_id}/clocks", summary="时限 The case's clocks and next timer")
    async def clocks(scope: ScopeDep, complaint_id: str):
        case = await queries.get_case(archive_db, scope, complaint_id)
        if case is None:
            raise HTTPException(404, "complaint not found")
        url = f"{settings.assignment_url}/internal/directory/{scope.group_id}/cases/{case['complaint_id']}"
        try:
            async with internal_client(settings, 10) as client:
                r = await client.get(url)
        except httpx.HTTPError as exc:
            raise HTTPException(503, f"assignment is not answering: {exc}") from exc
        if r.status_code != 200:
            raise HTTPException(404, "no clocks for this case yet")
        doc = r.json()
        return {"clocks": doc.get("clocks", {}), "next_timer_at": doc.get("next_timer_at"),
                "paused_at": doc.get("paused_at"), "status": doc.get("status")}

    return router
