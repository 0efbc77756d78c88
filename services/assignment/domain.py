"""Routing and deadline rules: which department, which person, and when each clock runs out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.org import OrgDirectory, Staff
from shared.terms import Severity
from shared.workcal import add_working_days


@dataclass(frozen=True)
class Route:
    department: str
    rule: str


def route(org: OrgDirectory, group_id: str, category: str, subcategory: str, valid: bool) -> Route:
    """Subcategory rule first, then category; invalid complaints go to the desk that explains and forwards."""
    group = org.group(group_id)
    if group is None:
        raise LookupError(f"unknown group {group_id!r}")
    rules = group.routing
    if not valid:
        return Route(rules.invalid, "invalid complaint → explain and forward")
    if subcategory in rules.subcategory:
        return Route(rules.subcategory[subcategory], f"subcategory {subcategory}")
    if category in rules.category:
        return Route(rules.category[category], f"category {category}")
    return Route(rules.default, "default")


@dataclass(frozen=True)
class Pick:
    person: Staff
    supervisor_id: str
    reason: str


def pick_handler(org: OrgDirectory, estate_id: str, r: Route, load: dict[str, int]) -> Pick:
    """The on-duty handler of the department with the least open work; fall back to the desk, then the manager."""
    tried = []
    for dept in dict.fromkeys([r.department, "service_desk"]):
        staff = org.staff_in(estate_id, dept)
        on_duty = [s for s in staff if s.on_duty and s.role == "handler"] or [s for s in staff if s.on_duty]
        tried.append(f"{dept}: {len(on_duty)} on duty")
        if on_duty:
            chosen = min(on_duty, key=lambda s: (load.get(s.id, 0), s.id))
            sup = next((s.id for s in staff if s.role == "supervisor" and s.on_duty), "")
            loads = ", ".join(f"{s.id}={load.get(s.id, 0)}" for s in on_duty)
            return Pick(chosen, sup, f"rule {r.rule} → {dept}; candidates {loads}; least open work: {chosen.id}")
    _, estate = org.estates[estate_id]
    manager = org.person(estate.manager_id)
    if manager is None:
        raise LookupError(f"nobody to assign in {estate_id}: {'; '.join(tried)}")
    return Pick(manager, "", f"rule {r.rule}; nobody on duty ({'; '.join(tried)}) → estate manager")


# severity -> (acknowledge, first response, resolve); resolve in working days for general/minor (DOMAIN.md)
SLA_TABLE: dict[Severity, tuple[timedelta, timedelta, timedelta | int]] = {
    Severity.emergency: (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=24)),
    Severity.major: (timedelta(minutes=30), timedelta(hours=2), timedelta(days=2)),
    Severity.general: (timedelta(hours=2), timedelta(hours=24), 5),
    Severity.minor: (timedelta(hours=2), timedelta(hours=24), 3),
}


def sla_due(severity: Severity, start: datetime) -> dict[str, datetime]:
    ack, first, resolve = SLA_TABLE[severity]
    resolve_due = add_working_days(start, resolve) if isinstance(resolve, int) else start + resolve
    return {"acknowledge_due": start + ack, "first_response_due": start + first, "resolve_due": resolve_due}
