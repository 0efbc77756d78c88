"""Entry points of assignment: Kafka handlers, the timer sweep, and the internal directory API."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from services.assignment import handlers, importer
from services.assignment.directory import DirectoryStore
from services.assignment.loads import CaseStore
from shared import workcal
from shared.aggregate import AggregateStore
from shared.contracts import (
    AcknowledgeComplaint,
    ComplaintClosed,
    ComplaintReopened,
    ComplaintTriaged,
    Envelope,
    FollowUpRecorded,
    PauseClocks,
    ReassignComplaint,
    RecordFirstResponse,
    ResolveComplaint,
    ResumeClocks,
    SendBackComplaint,
)
from shared.masking import mask_phone
from shared.messaging import subscribe
from shared.org import CalendarNotice, EstatePlacement, OrgDirectory, Routing, Shift, SlaPolicy, Staff
from shared.runtime import Runtime

log = logging.getLogger(__name__)


ESTATE_WAIT_SECONDS = 15.0


async def _estate_known(org: OrgDirectory, estate_id: str, wait: float = ESTATE_WAIT_SECONDS) -> None:
    """An estate onboarded through another instance reaches this one by the directory feed: a complaint for it
    can arrive first (the intakes learn it from the same feed). Wait a little rather than park the complaint."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while estate_id not in org.estates and loop.time() < deadline:
        await asyncio.sleep(0.2)


def register(rt: Runtime, store: AggregateStore, org: OrgDirectory) -> None:
    async def on_triaged(event: Envelope[Any]) -> None:
        if isinstance(event.payload, ComplaintTriaged):
            await _estate_known(org, event.estate_id)
            await handlers.assign_triaged(event, store=store, org=org)

    async def on_followup(event: Envelope[Any]) -> None:
        p = event.payload
        if isinstance(p, ComplaintReopened):
            await handlers.reassign_reopened(event, store=store, org=org)
        elif isinstance(p, ComplaintClosed) or (isinstance(p, FollowUpRecorded) and p.reached):
            await handlers.followup_done(event, store=store, org=org)

    async def on_command(event: Envelope[Any]) -> None:
        p = event.payload
        if isinstance(p, ResolveComplaint):
            await handlers.resolve(event, store=store, org=org)
        elif isinstance(p, AcknowledgeComplaint | RecordFirstResponse):
            await handlers.record_progress(event, store=store, org=org)
        elif isinstance(p, SendBackComplaint):
            await handlers.send_back(event, store=store, org=org)
        elif isinstance(p, ReassignComplaint):
            await handlers.reassign(event, store=store, org=org)
        elif isinstance(p, PauseClocks):
            await handlers.pause_clocks(event, store=store, org=org)
        elif isinstance(p, ResumeClocks):
            await handlers.resume_clocks(event, store=store, org=org)

    subscribe(rt.broker, rt.settings, rt.name, "complaint.triaged", on_triaged)
    subscribe(rt.broker, rt.settings, rt.name, "complaint.followup", on_followup)
    subscribe(rt.broker, rt.settings, rt.name, "command.assignment", on_command)


def timer_loop(store: CaseStore, org: OrgDirectory, every: float, full_every: float = 3600.0):
    """Sweep the stored timers; a restart simply sweeps again, so a due timer is never missed.

    Each tick reads the minutes since the last tick (usually one), by key from the timer book; first thing and
    every `full_every` seconds the sweep reads every case instead (a safety net: on FerretDB v1 it decodes every
    case the service holds)."""
    async def run() -> None:
        loop = asyncio.get_running_loop()
        next_full = loop.time()
        last: int | None = None  # the minute of the last good tick
        while True:
            try:
                now = handlers.now_utc()
                full = last is None or loop.time() >= next_full
                # from the minute before the last tick's: a slot computed just before a minute turned is read
                slots = None if full else range(last - 1, handlers.timer_slot(now) + 1)  # type: ignore[operator]
                fired = await handlers.fire_due_timers(store, org, now, slots=slots)
                if full:
                    next_full = loop.time() + full_every
                last = handlers.timer_slot(now)
                if fired:
                    log.info("fired timers on %d case(s)", fired)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - an outage delays timers; the next sweep catches up
                log.warning("timer sweep failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(every)

    return run


def _estate_row(org: OrgDirectory, estate_id: str) -> dict[str, Any]:
    _, e = org.estates[estate_id]
    region = org.region_of(estate_id)
    return {"id": e.id, "name": e.name, "name_en": e.name_en, "city": e.city, "region_id": region,
            "region_name": org.regions[region][1].name if region in org.regions else "",
            "manager_id": e.manager_id, "working_hours": e.working_hours, "sla_override": e.sla is not None,
            "routing_override": e.routing is not None, "staff": len(org.staff_of_estate(e.id))}


def _staff_row(org: OrgDirectory, s: Staff, at: datetime) -> dict[str, Any]:
    return {**s.model_dump(exclude={"phone"}), "phone": mask_phone(s.phone), "on_shift": org.on_duty(s, at),
            "department_name": org.department_name(s.department)}


def build_directory_router(org: OrgDirectory, directory: DirectoryStore, store: AggregateStore) -> APIRouter:
    """Internal: the operator API calls these after checking the caller's scope."""
    router = APIRouter(prefix="/internal/directory/{group_id}", tags=["directory 组织架构"])

    async def staffed(estates: set[str]) -> None:
        """New or returning people take waiting cases of their estates, oldest first."""
        for estate_id in sorted(e for e in estates if e):
            await handlers.dispatch_waiting(store, org, estate_id)

    def group_or_404(group_id: str) -> None:
        if org.group(group_id) is None:
            raise HTTPException(404, f"group {group_id!r} not found")

    def estate_or_404(group_id: str, estate_id: str) -> None:
        if org.group_of(estate_id) != group_id:
            raise HTTPException(404, f"estate {estate_id!r} not found")

    @router.get("/estates", summary="项目 Estates with their region and overrides")
    async def estates(group_id: str, page: int = Query(1, ge=1), page_size: int = Query(100, ge=1, le=1000)):
        group_or_404(group_id)
        ids = sorted(e.id for e in org.estates_of(group_id))
        return {"total": len(ids), "items": [_estate_row(org, i) for i in ids[(page - 1) * page_size:
                                                                              page * page_size]]}

    @router.get("/estates/{estate_id}", summary="项目详情 One estate: rules, deadlines, hours")
    async def estate(group_id: str, estate_id: str):
        estate_or_404(group_id, estate_id)
        return {**_estate_row(org, estate_id), "routing": org.routing_for(estate_id).model_dump(),
                "sla": org.sla_for(estate_id).model_dump()}

    @router.put("/estates/{estate_id}", summary="项目维护 Add or change one estate")
    async def put_estate(group_id: str, estate_id: str, body: EstatePlacement):
        group_or_404(group_id)
        if body.estate.id != estate_id:
            raise HTTPException(422, "the id in the path and the body differ")
        owner = org.group_of(estate_id)
        if owner not in (None, group_id):
            raise HTTPException(409, f"estate id {estate_id!r} is taken")
        region = org.regions.get(body.region_id)
        if region is not None and region[0] != group_id:
            raise HTTPException(409, f"region id {body.region_id!r} is taken")
        name = body.region_name or (region[1].name if region else body.region_id)
        await directory.put_estates(group_id, [(body.region_id, name, body.estate)], "api")
        return _estate_row(org, estate_id)

    @router.get("/staff", summary="人员 Staff, with who is on shift now")
    async def staff(group_id: str, estate_id: str | None = None, department: str | None = None,
                    role: str | None = None, on_shift: bool | None = None):
        group_or_404(group_id)
        at = datetime.now(UTC)
        if estate_id is not None:
            estate_or_404(group_id, estate_id)
            people = org.staff_of_estate(estate_id)
        else:
            estates = {e.id for e in org.estates_of(group_id)}
            regions = {r.id for g in [org.group(group_id)] if g for r in g.regions}
            people = [s for s in org.staff if s.estate in estates or s.region in regions]
        rows = [_staff_row(org, s, at) for s in people if (department is None or s.department == department)
                and (role is None or s.role == role)]
        return [r for r in rows if on_shift is None or r["on_shift"] == on_shift]

    @router.put("/staff/{staff_id}", summary="人员 Add or change one person (rota, skills, leave)")
    async def put_staff(group_id: str, staff_id: str, body: Staff):
        group_or_404(group_id)
        if body.id != staff_id:
            raise HTTPException(422, "the id in the path and the body differ")
        problems = org.check_staff(group_id, body)
        if problems:
            raise HTTPException(422, "; ".join(problems))
        await directory.put_staff(group_id, [body], "api")
        await staffed({body.estate})
        return _staff_row(org, body, datetime.now(UTC))

    @router.post("/import/{kind}", summary="批量导入 Import estates or staff from Excel/CSV")
    async def import_file(group_id: str, kind: Literal["estates", "staff"], file: UploadFile,
                          mode: Literal["partial", "all_or_nothing"] = "partial", dry_run: bool = False):
        group_or_404(group_id)
        data = await file.read()
        name = file.filename or "upload"
        try:
            parse = importer.import_estates if kind == "estates" else importer.import_staff
            result = await run_in_threadpool(parse, data, name, org, group_id)  # openpyxl is slow on big sheets
        except importer.ImportFormatError as exc:
            raise HTTPException(422, str(exc)) from exc
        report = result.to_dict()
        load = not dry_run and (mode == "partial" or not result.errors)
        if load:
            if kind == "estates":
                await directory.put_estates(group_id, [(r.region_id, r.region_name, r.estate)
                                                       for r in result.estates], f"import:{name}")
            else:
                await directory.put_staff(group_id, [s for _, s in result.staff], f"import:{name}")
                await staffed({s.estate for _, s in result.staff})
        report["loaded"] = report["loaded"] if load else 0
        report["mode"], report["dry_run"] = mode, dry_run
        return report

    @router.put("/shifts/{shift_id}", summary="班次 Add or change a duty shift of the group")
    async def put_shift(group_id: str, shift_id: str, body: Shift):
        group_or_404(group_id)
        if body.id != shift_id:
            raise HTTPException(422, "the id in the path and the body differ")
        await directory.put_shift(group_id, body)
        return org.group(group_id).shifts  # type: ignore[union-attr]

    @router.put("/sla", summary="时限 The group's deadlines, warning share and escalation ladder")
    async def group_sla(group_id: str, body: SlaPolicy):
        group_or_404(group_id)
        await directory.set_group_policy(group_id, sla=body)
        return body

    @router.put("/routing", summary="派单规则 The group's routing rules")
    async def group_routing(group_id: str, body: Routing):
        group_or_404(group_id)
        await directory.set_group_policy(group_id, routing=body)
        return body

    @router.put("/estates/{estate_id}/sla", summary="项目时限 The estate's own deadlines (null: the group's)")
    async def estate_sla(group_id: str, estate_id: str, body: SlaPolicy | None = None):
        estate_or_404(group_id, estate_id)
        await directory.set_estate_policy(group_id, estate_id, sla=body)
        return org.sla_for(estate_id)

    @router.put("/estates/{estate_id}/routing", summary="项目派单规则 Entries overriding the group's rules")
    async def estate_routing(group_id: str, estate_id: str, body: Routing | None = None):
        estate_or_404(group_id, estate_id)
        await directory.set_estate_policy(group_id, estate_id, routing=body)
        return org.routing_for(estate_id)

    @router.get("/calendar/{year}", summary="工作日历 Working calendar of a year and where it comes from")
    async def calendar(group_id: str, year: Annotated[int, Path(ge=2000, le=2100)]):
        group_or_404(group_id)
        days = [d for d in (date(year, 1, 1) + timedelta(days=i) for i in range(366)) if d.year == year]
        off_weekdays = [d.isoformat() for d in days if d.weekday() < 5 and not workcal.is_workday(d)]
        on_weekends = [d.isoformat() for d in days if d.weekday() >= 5 and workcal.is_workday(d)]
        return {"year": year, "source": workcal.coverage(year), "holidays_on_weekdays": off_weekdays,
                "make_up_workdays": on_weekends}

    @router.put("/calendar/{year}", summary="录入国务院放假通知 Enter the State Council holiday notice")
    async def put_calendar(group_id: str, year: Annotated[int, Path(ge=2000, le=2100)], body: CalendarNotice):
        group_or_404(group_id)
        try:
            await directory.set_calendar(group_id, year, [d.isoformat() for d in body.holidays],
                                         [d.isoformat() for d in body.workdays])
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return await calendar(group_id, year)

    @router.get("/cases/{complaint_id}", summary="派单状态 Assignment state of a case: clocks and next timer")
    async def case_state(group_id: str, complaint_id: str, request: Request):
        doc = await store.get(complaint_id)
        if doc is None or doc.get("group_id") != group_id:
            raise HTTPException(404, "case not found")
        return {k: v for k, v in doc.items() if k not in ("outbox", "processed")}

    return router
