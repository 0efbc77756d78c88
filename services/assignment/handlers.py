"""Assignment handlers: assign, wait for a free handler, send back, reassign, progress, clocks and escalation.

Every change to a case is one load-decide-save on its document (AggregateStore): the decision, its events
(outbox) and the message id (dedupe) are written together, so a redelivered message or a timer that fires
again after a crash changes nothing the second time.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from services.assignment import sla
from services.assignment.domain import Pick, Route, escalation_target, pick_handler, route, supervisor_of
from services.assignment.loads import CaseStore
from shared import metrics
from shared.aggregate import UNREAD, AggregateStore, Decision
from shared.contracts import (
    AcknowledgeComplaint,
    Assignee,
    Candidate,
    ClocksPaused,
    ClocksResumed,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintQueued,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintSentBack,
    ComplaintTriaged,
    Envelope,
    PauseClocks,
    ProgressRecorded,
    ReassignComplaint,
    RecordFirstResponse,
    ResolveComplaint,
    ResumeClocks,
    SendBackComplaint,
    SlaDue,
    SlaWarning,
)
from shared.org import OrgDirectory
from shared.terms import Severity, zh
from shared.workcal import LOCAL_TZ, add_working_days

log = logging.getLogger(__name__)
OPEN = ("assigned",)


def now_utc() -> datetime:
    return datetime.now(UTC)


async def open_load(store: CaseStore, estate_id: str) -> dict[str, int]:
    """Open cases per person in an estate, from the store's `loads` book (services.assignment.loads)."""
    return await store.book.counts(estate_id)


def sla_of(clocks: dict[str, dict[str, Any]]) -> SlaDue:
    return SlaDue(**{f"{name}_due": (clocks.get(name) or {}).get("due_at") for name in sla.CLOCKS})


def _clock_fields(org: OrgDirectory, estate_id: str, clocks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    at = sla.next_timer(clocks, org.sla_for(estate_id))
    # a timer already due (a letter scanned days later) goes in this minute's slot, not a minute swept before
    return {"clocks": clocks, "next_timer_at": at, "timer_slot": timer_slot(max(at, now_utc())) if at else None}


def timer_slot(at: datetime) -> int:
    """The minute a timer falls due in: sweeps read a minute by equality, which every MongoDB-wire server can
    filter on (FerretDB v1 does a range in its own code over the whole collection)."""
    return int(at.timestamp() // 60)


def new_clocks(org: OrgDirectory, estate_id: str, severity: Severity, start: datetime) -> dict[str, dict[str, Any]]:
    rule = getattr(org.sla_for(estate_id), severity.value)
    return sla.start_clocks(rule, org.estate(estate_id).working_hours, start)  # type: ignore[union-attr]


def _assigned(pick: Pick, org: OrgDirectory, severity: Severity, round_no: int, clocks: dict[str, Any],
              kind: str, department: str, by: str = "") -> ComplaintAssigned:
    p = pick.person
    assert p is not None
    return ComplaintAssigned(
        round=round_no, severity=severity, supervisor_id=pick.supervisor_id, reason=pick.reason, kind=kind,
        department=department, notify=list(pick.notify), by=by,
        candidates=[Candidate(**vars(c)) for c in pick.candidates],
        assignee=Assignee(staff_id=p.id, name=p.name, department_id=p.department,
                          department_name=org.department_name(p.department)),
        sla=sla_of(clocks),
    )


def _assignment_fields(a: ComplaintAssigned, at: datetime) -> dict[str, Any]:
    return {"status": "assigned", "round": a.round, "severity": a.severity.value, "supervisor_id": a.supervisor_id,
            "assignee": a.assignee.model_dump(), "assigned_at": at, "queued_at": None}


def _queued_fields(pick: Pick, department: str, at: datetime) -> tuple[dict[str, Any], ComplaintQueued]:
    return ({"status": "waiting", "assignee": None, "queued_at": at, "waiting_department": department},
            ComplaintQueued(department=department, reason=pick.reason))


def _correlation(complaint_id: str, fallback: uuid.UUID) -> uuid.UUID:
    try:
        return uuid.UUID(complaint_id)  # intake gives every complaint a UUID, its correlation id
    except ValueError:
        return fallback


def _own_event(doc: dict[str, Any], payload: Any) -> Envelope[Any]:
    """An event the service raises on its own (a timer, a freed handler), not caused by a message."""
    cid = doc["_id"]
    return Envelope[type(payload)](  # type: ignore[misc]
        type=type(payload).__name__, correlation_id=_correlation(cid, uuid.uuid4()), group_id=doc["group_id"],
        estate_id=doc["estate_id"], complaint_id=cid, payload=payload)


# ---- assignment ------------------------------------------------------------------------------------------

async def assign_triaged(event: Envelope[ComplaintTriaged], *, store: AggregateStore, org: OrgDirectory) -> None:
    t = event.payload
    load = await open_load(store, event.estate_id)
    root = await store.get(t.duplicate_of) if t.duplicate_of else None
    if root is not None and (root.get("status") != "assigned" or root.get("estate_id") != event.estate_id):
        root = None  # the first report is done or elsewhere: this one is worked on its own
    at = event.occurred_at

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is not None:
            return reclassify(doc, event, org, load) if t.corrected_by else Decision()
        r = route(org, event.estate_id, t.category.value, t.subcategory, t.valid)
        clocks = new_clocks(org, event.estate_id, t.severity, at)
        base = {"group_id": event.group_id, "estate_id": event.estate_id, "category": t.category.value,
                "subcategory": t.subcategory, "valid": t.valid, "department": r.department, "severity":
                t.severity.value, "round": 1, "linked_to": root["_id"] if root else None, "sent_back_from": [],
                **_clock_fields(org, event.estate_id, clocks)}
        if root is not None:  # 并单: the person on the first report handles this one with it
            assigned = ComplaintAssigned(
                round=1, severity=t.severity, supervisor_id=root.get("supervisor_id", ""), kind="linked",
                department=root.get("department", r.department), assignee=Assignee(**root["assignee"]),
                sla=sla_of(clocks),
                reason=f"并单 linked to the first report {root['_id']} ({t.link_kind}): handled once, by its handler")
            return Decision(changes={**base, **_assignment_fields(assigned, at)}, events=[event.child(assigned)])
        pick = pick_handler(org, event.estate_id, r, load, at, emergency=t.severity is Severity.emergency)
        if pick.person is None:
            fields, queued = _queued_fields(pick, r.department, at)
            return Decision(changes={**base, **fields}, events=[event.child(queued)])
        assigned = _assigned(pick, org, t.severity, 1, clocks, "initial", r.department)
        return Decision(changes={**base, **_assignment_fields(assigned, at)}, events=[event.child(assigned)])

    # A first judgement makes the case: written without reading first (a redelivery's insert finds it there,
    # reads it and changes nothing). A corrected one changes a case that exists. The first report was just read.
    first = UNREAD if t.corrected_by else None
    if await store.apply(event.complaint_id, str(event.event_id), decide, known=first) and root is not None:
        await store.apply(root["_id"], f"link:{event.complaint_id}",
                          lambda d: Decision(push={"linked": event.complaint_id}) if d else Decision(), known=root)


def reclassify(doc: dict[str, Any], event: Envelope[ComplaintTriaged], org: OrgDirectory, load: dict[str, int]
               ) -> Decision:
    """An operator corrected the judgement: new deadlines for a new severity, a new person for a new department.

    The clocks keep their start (the complainant has waited since then) and what was already met or fired.
    """
    t = event.payload
    if doc.get("status") not in ("assigned", "waiting"):
        return Decision()
    at = event.occurred_at
    severity = t.severity
    r = route(org, doc["estate_id"], t.category.value, t.subcategory, t.valid)
    old = doc["clocks"]
    start = old["acknowledge"]["started_at"]
    clocks = new_clocks(org, doc["estate_id"], severity, start)
    for name, clock in clocks.items():
        before = old.get(name) or {}
        clock["fired"] = list(before.get("fired", []))
        if before.get("met_at") is not None:
            clocks[name] = sla.stop(clock, before["met_at"])
        elif doc.get("paused_at"):
            clocks[name] = sla.pause(clock, doc["paused_at"])
    base = {"severity": severity.value, "category": t.category.value, "subcategory": t.subcategory,
            "valid": t.valid, **_clock_fields(org, doc["estate_id"], clocks)}
    emergency = severity is Severity.emergency
    moved = r.department != doc.get("department") or (emergency and doc.get("status") == "waiting")
    if not moved and doc.get("assignee"):
        a = doc["assignee"]
        person = org.person(a["staff_id"])
        pick = Pick(person, doc.get("supervisor_id", ""), f"判定更正 by {t.corrected_by}: same department, same "
                    f"handler; deadlines for {severity.value}",
                    (doc.get("supervisor_id", ""),) if emergency and doc.get("supervisor_id") else ())
        if person is not None:
            assigned = _assigned(pick, org, severity, doc["round"], clocks, "reclassified", r.department)
            return Decision(changes={**base, **_assignment_fields(assigned, doc["assigned_at"])},
                            events=[event.child(assigned)])
    pick = pick_handler(org, doc["estate_id"], r, load, at, emergency=emergency)
    if pick.person is None:
        fields, queued = _queued_fields(pick, r.department, at)
        return Decision(changes={**base, "department": r.department, **fields}, events=[event.child(queued)])
    pick = dataclasses.replace(pick, reason=f"判定更正 by {t.corrected_by}: {pick.reason}")
    assigned = _assigned(pick, org, severity, doc.get("round", 1), clocks, "reclassified", r.department)
    return Decision(changes={**base, "department": r.department, **_assignment_fields(assigned, at)},
                    events=[event.child(assigned)])


def take_from_queue(doc: dict[str, Any] | None, org: OrgDirectory, load: dict[str, int], at: datetime) -> Decision:
    """A waiting case goes to a handler with room now, if there is one."""
    if doc is None or doc.get("status") != "waiting":
        return Decision()
    r = Route(doc["waiting_department"], "待派 waiting, oldest first")
    pick = pick_handler(org, doc["estate_id"], r, load, at, emergency=doc["severity"] == "emergency",
                        exclude_staff=tuple(doc.get("sent_back_by", [])))
    if pick.person is None:
        return Decision()
    assigned = _assigned(pick, org, Severity(doc["severity"]), doc.get("round", 1), doc["clocks"],
                         "from_queue", doc["waiting_department"])
    return Decision(changes=_assignment_fields(assigned, at), events=[_own_event(doc, assigned)])


async def dispatch_waiting(store: CaseStore, org: OrgDirectory, estate_id: str, limit: int = 20) -> int:
    """Give waiting cases (oldest first, from the estate's book: no scan of the cases) to handlers who have room
    now; returns how many were assigned."""
    done = 0
    for case_id in await store.book.waiting(estate_id, limit):
        load = await open_load(store, estate_id)
        at = now_utc()
        taken: list[Decision] = []

        def decide(doc: dict[str, Any] | None, load: dict[str, int] = load, at: datetime = at,
                   taken: list[Decision] = taken) -> Decision:
            taken[:] = [take_from_queue(doc, org, load, at)]
            return taken[0]

        await store.apply(case_id, f"dispatch:{case_id}:{at.isoformat()}", decide)
        after = await store.get(case_id)
        if (after or {}).get("status") == "waiting":
            break  # nobody has room: older cases keep their place
        if taken and taken[0].changes:
            done += 1
        else:  # the book listed a case no longer waiting: its entry goes
            await store.book.sync(case_id, after or {"estate_id": estate_id})
    return done


ORDER = [Severity.minor, Severity.general, Severity.major, Severity.emergency]


def raised(severity: Severity) -> Severity:
    """One step more urgent (轻微→一般→重大→特急); an emergency stays one."""
    return ORDER[min(ORDER.index(severity) + 1, len(ORDER) - 1)]


async def reassign_reopened(event: Envelope[ComplaintReopened], *, store: AggregateStore,
                            org: OrgDirectory) -> None:
    load = await open_load(store, event.estate_id)
    at = event.occurred_at

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None or doc.get("status") != "resolved" or doc.get("round", 0) >= event.payload.round:
            return Decision()
        severity = raised(Severity(doc["severity"]))  # unsatisfied at the callback: one step more urgent
        clocks = new_clocks(org, event.estate_id, severity, at)
        r = route(org, event.estate_id, doc["category"], doc["subcategory"], doc["valid"])
        pick = pick_handler(org, event.estate_id, r, load, at, emergency=severity is Severity.emergency)
        base = {"round": event.payload.round, "severity": severity.value, "paused_at": None,
                **_clock_fields(org, event.estate_id, clocks)}
        if pick.person is None:
            fields, queued = _queued_fields(pick, r.department, at)
            return Decision(changes={**base, **fields}, events=[event.child(queued)])
        assigned = _assigned(pick, org, severity, event.payload.round, clocks, "reopen", r.department)
        return Decision(changes={**base, **_assignment_fields(assigned, at)}, events=[event.child(assigned)])

    await store.apply(event.complaint_id, str(event.event_id), decide)


def _reject(command: Envelope[Any], reason: str) -> Decision:
    log.info("command %s on %s refused: %s", command.type, command.complaint_id, reason)
    return Decision(push={"rejected_commands": {"command_id": str(command.event_id), "type": command.type,
                                                "reason": reason, "at": now_utc()}})


async def send_back(command: Envelope[SendBackComplaint], *, store: AggregateStore, org: OrgDirectory) -> None:
    """退单: the assignee returns a wrongly routed case within the window; it is routed elsewhere (改派)."""
    c = command.payload
    load = await open_load(store, command.estate_id)
    at = command.occurred_at
    freed: list[str] = []

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None:
            return Decision()
        if doc.get("status") != "assigned":
            return _reject(command, f"case is {doc.get('status')}")
        if doc["assignee"]["staff_id"] != c.by:
            return _reject(command, f"only the assignee {doc['assignee']['staff_id']} can send it back")
        window = org.estates[doc["estate_id"]][0].send_back_days
        if add_working_days(doc["assigned_at"].replace(tzinfo=UTC), window) < at:
            return _reject(command, f"the send-back window of {window} working days has passed")
        current = doc["assignee"]["department_id"]
        sent_from = [*doc.get("sent_back_from", []), current]
        if c.to_department:
            if c.to_department == current or not any(d.kind == c.to_department for d in org.departments):
                return _reject(command, f"cannot send to department {c.to_department!r}")
            r = Route(c.to_department, f"退单 sent back by {c.by}: {c.reason}")
        else:
            r = route(org, doc["estate_id"], doc["category"], doc["subcategory"], doc["valid"],
                      exclude=tuple(sent_from))
        pick = pick_handler(org, doc["estate_id"], r, load, at, emergency=doc["severity"] == "emergency",
                            exclude_staff=(c.by,))
        back = ComplaintSentBack(by=c.by, reason=c.reason, from_department=current, to_department=r.department)
        base = {"sent_back_from": sent_from, "department": r.department,
                "sent_back_by": [*doc.get("sent_back_by", []), c.by]}
        freed.append(doc["estate_id"])
        if pick.person is None:
            fields, queued = _queued_fields(pick, r.department, at)
            return Decision(changes={**base, **fields}, events=[command.child(back), command.child(queued)])
        assigned = _assigned(pick, org, Severity(doc["severity"]), doc["round"], doc["clocks"], "send_back",
                             r.department)
        return Decision(changes={**base, **_assignment_fields(assigned, at)},
                        events=[command.child(back), command.child(assigned)])

    if await store.apply(command.complaint_id, str(command.event_id), decide) and freed:
        await dispatch_waiting(store, org, freed[0])


async def reassign(command: Envelope[ReassignComplaint], *, store: AggregateStore, org: OrgDirectory) -> None:
    """改派 by hand: a supervisor gives the case to a named person of the estate."""
    c = command.payload
    at = command.occurred_at
    load = await open_load(store, command.estate_id)
    freed: list[str] = []

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None:
            return Decision()
        if doc.get("status") not in ("assigned", "waiting"):
            return _reject(command, f"case is {doc.get('status')}")
        person = org.person(c.to_staff_id)
        if person is None or person.estate != doc["estate_id"]:
            return _reject(command, f"{c.to_staff_id} is not staff of {doc['estate_id']}")
        if doc.get("assignee") and doc["assignee"]["staff_id"] == person.id:
            return _reject(command, f"{person.id} already has it")
        sup = supervisor_of(org, person, at)
        reason = (f"改派 by {c.by}: {c.reason}; {person.id} has {load.get(person.id, 0)} open"
                  + ("" if org.on_duty(person, at) else " (off shift now)"))
        pick = Pick(person, sup, reason, (sup,) if doc["severity"] == "emergency" and sup else ())
        assigned = _assigned(pick, org, Severity(doc["severity"]), doc.get("round", 1), doc["clocks"], "reassign",
                             person.department, by=c.by)
        freed.append(doc["estate_id"])
        return Decision(changes={**_assignment_fields(assigned, at), "department": person.department},
                        events=[command.child(assigned)])

    if await store.apply(command.complaint_id, str(command.event_id), decide) and freed:
        await dispatch_waiting(store, org, freed[0])


# ---- progress and clocks -----------------------------------------------------------------------------------

async def record_progress(command: Envelope[AcknowledgeComplaint | RecordFirstResponse], *, store: AggregateStore,
                          org: OrgDirectory) -> None:
    step = "acknowledge" if isinstance(command.payload, AcknowledgeComplaint) else "first_response"
    note = getattr(command.payload, "note", "")
    at = command.occurred_at

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None:
            return Decision()
        if doc.get("status") != "assigned":
            return _reject(command, f"case is {doc.get('status')}")
        clocks = dict(doc["clocks"])
        if clocks[step].get("met_at") is not None:
            return _reject(command, f"{step} already recorded")
        names = ["acknowledge", step] if step == "first_response" else [step]  # on site implies taken
        for name in names:
            clocks[name] = sla.stop(clocks[name], at)
        event = ProgressRecorded(step=step, by=command.payload.by, note=note, late=bool(clocks[step]["breached"]))
        return Decision(changes=_clock_fields(org, doc["estate_id"], clocks), events=[command.child(event)])

    await store.apply(command.complaint_id, str(command.event_id), decide)


async def pause_clocks(command: Envelope[PauseClocks], *, store: AggregateStore, org: OrgDirectory) -> None:
    at = command.occurred_at

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None:
            return Decision()
        if doc.get("status") != "assigned" or doc.get("paused_at"):
            return _reject(command, "already paused" if doc.get("paused_at") else f"case is {doc.get('status')}")
        clocks = {k: sla.pause(v, at) for k, v in doc["clocks"].items()}
        event = ClocksPaused(by=command.payload.by, reason=command.payload.reason)
        return Decision(changes={**_clock_fields(org, doc["estate_id"], clocks), "paused_at": at},
                        events=[command.child(event)])

    await store.apply(command.complaint_id, str(command.event_id), decide)


async def resume_clocks(command: Envelope[ResumeClocks], *, store: AggregateStore, org: OrgDirectory) -> None:
    at = command.occurred_at

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None:
            return Decision()
        if not doc.get("paused_at"):
            return _reject(command, "clocks are not paused")
        clocks = {k: sla.resume(v, at) for k, v in doc["clocks"].items()}
        paused = (at - doc["paused_at"].replace(tzinfo=UTC)).total_seconds()
        event = ClocksResumed(by=command.payload.by, paused_seconds=max(0.0, paused), sla=sla_of(clocks))
        return Decision(changes={**_clock_fields(org, doc["estate_id"], clocks), "paused_at": None},
                        events=[command.child(event)])

    await store.apply(command.complaint_id, str(command.event_id), decide)


async def resolve(command: Envelope[ResolveComplaint], *, store: AggregateStore, org: OrgDirectory) -> None:
    at = command.occurred_at

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None:
            return Decision()
        if doc.get("status") != "assigned":
            return _reject(command, f"case is {doc.get('status')}")
        resolved = ComplaintResolved(round=doc["round"], note=command.payload.note, by=command.payload.by)
        return Decision(changes={"status": "resolved", "resolved_at": now_utc(), "paused_at": None,
                                 **_clock_fields(org, doc["estate_id"], _resolved_clocks(org, doc, at))},
                        push={"resolutions": resolved.model_dump()}, events=[command.child(resolved)])

    applied = await store.apply(command.complaint_id, str(command.event_id), decide)
    root = await store.get(command.complaint_id)
    for linked in (root or {}).get("linked", []):
        await resolve_linked(command, linked, store=store, org=org)
    if applied and root is not None:
        await dispatch_waiting(store, org, root["estate_id"])


def _resolved_clocks(org: OrgDirectory, doc: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Every handling clock stops; the follow-up clock (回访) starts."""
    clocks = {k: sla.stop(sla.resume(v, at), at) for k, v in doc["clocks"].items() if k != "followup"}
    rule = getattr(org.sla_for(doc["estate_id"]), doc["severity"])
    clocks["followup"] = sla.new_clock("followup", rule.followup, rule.mode,
                                       org.estate(doc["estate_id"]).working_hours, at)  # type: ignore[union-attr]
    return clocks


async def resolve_linked(command: Envelope[ResolveComplaint], complaint_id: str, *, store: AggregateStore,
                         org: OrgDirectory) -> None:
    """A report linked to a first report is resolved with it; its own callback follows as usual."""
    at = command.occurred_at

    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None or doc.get("status") != "assigned":
            return Decision()
        resolved = ComplaintResolved(round=doc["round"], by=command.payload.by,
                                     note=f"随首报 {command.complaint_id} 一并处理 resolved with the first report: "
                                          f"{command.payload.note}"[:5000])
        event = command.child(resolved, complaint_id=complaint_id,
                              correlation_id=_correlation(complaint_id, command.correlation_id))
        return Decision(changes={"status": "resolved", "resolved_at": now_utc(), "paused_at": None,
                                 **_clock_fields(org, doc["estate_id"], _resolved_clocks(org, doc, at))},
                        push={"resolutions": resolved.model_dump()}, events=[event])

    await store.apply(complaint_id, f"{command.event_id}:{complaint_id}", decide)


async def followup_done(event: Envelope[Any], *, store: AggregateStore, org: OrgDirectory) -> None:
    """The complainant was reached or the case closed: the follow-up clock is met."""
    def decide(doc: dict[str, Any] | None) -> Decision:
        if doc is None or "followup" not in (doc.get("clocks") or {}):
            return Decision()
        clocks = {**doc["clocks"], "followup": sla.stop(doc["clocks"]["followup"], event.occurred_at)}
        return Decision(changes=_clock_fields(org, doc["estate_id"], clocks))

    await store.apply(event.complaint_id, str(event.event_id), decide)


# ---- timers ------------------------------------------------------------------------------------------------

def fire(doc: dict[str, Any], org: OrgDirectory, now: datetime) -> Decision:
    """Warnings and escalations whose time has come; each step of each clock fires once per round."""
    if doc.get("estate_id") not in org.estates:
        return Decision(changes={"next_timer_at": None, "timer_slot": None})
    policy = org.sla_for(doc["estate_id"])
    clocks = {k: dict(v) for k, v in doc.get("clocks", {}).items()}
    events: list[Envelope[Any]] = []
    assignee = (doc.get("assignee") or {}).get("staff_id", "")
    for name, clock in clocks.items():
        for step in sla.due_steps(clock, policy, now):
            clock["fired"] = [*clock["fired"], step.name]
            due = clock["due_at"]
            if step.name == "warn":
                events.append(_own_event(doc, SlaWarning(clock=name, due_at=due, to=[s for s in (
                    assignee, doc.get("supervisor_id", "")) if s])))
                continue
            target = escalation_target(org, doc["estate_id"], step.to, assignee, now)
            overdue = max(0.0, (now - due).total_seconds()) if due else 0.0
            events.append(_own_event(doc, ComplaintEscalated(
                clock=name, level=sla.LEVEL[step.to], role=step.to, to_staff_id=target.id if target else "",
                to_name=target.name if target else "", due_at=due, overdue_seconds=overdue,
                notice=_notice(org, doc, name, step.to, target.name if target else "", due))))
    if not events:
        return Decision(changes=_clock_fields(org, doc["estate_id"], clocks))
    return Decision(changes=_clock_fields(org, doc["estate_id"], clocks), events=events)


def _notice(org: OrgDirectory, doc: dict[str, Any], clock: str, role: str, to_name: str, due: datetime) -> str:
    estate = org.estate(doc["estate_id"])
    who = (doc.get("assignee") or {}).get("name", "待派")
    local = due.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M")
    where = estate.name if estate else doc["estate_id"]
    return (f"【督办】{where} 投诉 {doc['_id'][:8]}（{zh(doc.get('subcategory', ''))}）"
            f"{zh(clock)}时限 {local} 已到，请{zh(role)}{to_name}督促{who}处理并回复。")


async def fire_due_timers(store: CaseStore, org: OrgDirectory, now: datetime | None = None,
                          batch: int = 200, *, slots: range | None = None) -> int:
    """One sweep: every case whose next timer is due gets its steps fired (stored, so restarts miss nothing).

    With `slots` (minutes, see timer_slot) only timers falling due in those minutes are read (the cases the
    store's timer book lists for them, read by key); without, every case's (the loop does that at start and
    now and then, and finds cases stored before slots existed)."""
    now = now or now_utc()
    if slots is not None:
        ids = await store.timers.cases_in(slots)
        rows = await store.collection.find({"_id": {"$in": ids}}, {"_id": 1, "next_timer_at": 1}).to_list(None) \
            if ids else []
        due = sorted((r for r in rows if r.get("next_timer_at") and r["next_timer_at"].replace(tzinfo=UTC) <= now),
                     key=lambda r: r["next_timer_at"])[:batch]
        await store.timers.forget_before(slots.start)
    else:
        due = await store.collection.find({"next_timer_at": {"$lte": now}}, {"_id": 1, "next_timer_at": 1}) \
            .sort("next_timer_at", 1).limit(batch).to_list(None)
        await store.timers.forget_all_before(timer_slot(now))
    fired = 0
    for row in due:
        stamp = row["next_timer_at"].replace(tzinfo=UTC).isoformat()
        last: list[Decision] = []

        def decide(d: dict[str, Any] | None, last: list[Decision] = last) -> Decision:
            last[:] = [fire(d, org, now) if d else Decision()]
            return last[0]

        if await store.apply(row["_id"], f"timer:{stamp}", decide):
            fired += 1
            for env in last[0].events if last else []:  # counted once they are stored, as they are published
                if isinstance(env.payload, SlaWarning):
                    metrics.SLA_WARNINGS.labels(env.payload.clock).inc()
                elif isinstance(env.payload, ComplaintEscalated):
                    metrics.SLA_BREACHES.labels(env.payload.clock, str(env.payload.level)).inc()
    return fired
