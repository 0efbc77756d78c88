"""Routing (派单规则): which department, which person, and who else must know; every decision says why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.org import OrgDirectory, Staff


@dataclass(frozen=True)
class Route:
    department: str
    rule: str
    skill: str = ""


def route(org: OrgDirectory, estate_id: str, category: str, subcategory: str, valid: bool,
          exclude: tuple[str, ...] = ()) -> Route:
    """Subcategory rule first, then category (estate overrides merged over the group's); invalid → the desk."""
    if estate_id not in org.estates:
        raise LookupError(f"unknown estate {estate_id!r}")
    rules = org.routing_for(estate_id)
    skill = rules.skills.get(subcategory, "")
    if not valid:
        r = Route(rules.invalid, "无效投诉 invalid complaint → explain and forward")
    elif subcategory in rules.subcategory:
        r = Route(rules.subcategory[subcategory], f"subcategory {subcategory}", skill)
    elif category in rules.category:
        r = Route(rules.category[category], f"category {category}", skill)
    else:
        r = Route(rules.default, "default", skill)
    if r.department in exclude:  # sent back by that department: the dispatch desk decides instead
        return Route(rules.default if rules.default not in exclude else rules.invalid,
                     f"{r.rule} was sent back by {r.department} → dispatch desk")
    return r


@dataclass(frozen=True)
class Candidate:
    staff_id: str
    load: int
    cap: int
    on_shift: bool
    skilled: bool


@dataclass(frozen=True)
class Pick:
    person: Staff | None  # None: everyone is at their cap → the case waits (待派)
    supervisor_id: str
    reason: str
    notify: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)


def supervisor_of(org: OrgDirectory, person: Staff, at: datetime) -> str:
    """The person's own supervisor, else an on-duty supervisor of the department, else the estate manager."""
    if person.supervisor_id and org.person(person.supervisor_id):
        return person.supervisor_id
    sups = [s for s in org.staff_in(person.estate, person.department) if s.role == "supervisor"]
    on = [s for s in sups if org.on_duty(s, at)] or sups
    if on:
        return sorted(on, key=lambda s: s.id)[0].id
    estate = org.estate(person.estate)
    return estate.manager_id if estate and estate.manager_id != person.id else ""


def pick_handler(org: OrgDirectory, estate_id: str, r: Route, load: dict[str, int], at: datetime, *,
                 emergency: bool = False, exclude_staff: tuple[str, ...] = ()) -> Pick:
    """The handler on shift with the skill and the least open work, under their cap.

    Emergencies go to whoever is on shift in the department regardless of cap, and their supervisor is
    told at once. With nobody on shift (a general complaint at night), the rota's next handler gets it.
    With everybody at their cap, the case waits and goes to the first person who frees up (oldest first).
    """
    group = org.estates[estate_id][0]
    tried: list[str] = []
    for dept in dict.fromkeys([r.department, org.routing_for(estate_id).default]):
        staff = [s for s in org.staff_in(estate_id, dept) if s.id not in exclude_staff]
        handlers = [s for s in staff if s.role == "handler" and s.on_duty] or [s for s in staff if s.on_duty]
        if not handlers:
            tried.append(f"{dept}: nobody")
            continue
        if not emergency:  # on-call staff (nights, holidays) take emergencies only
            handlers = [s for s in handlers if not org.only_on_call(s)] or handlers
        cands = tuple(Candidate(s.id, load.get(s.id, 0), s.max_open or group.max_open_per_person,
                                org.on_duty(s, at, on_call=emergency), bool(r.skill) and r.skill in s.skills)
                      for s in handlers)
        on_shift = [c for c in cands if c.on_shift]
        pool = on_shift or ([] if emergency else list(cands))
        if not pool:
            tried.append(f"{dept}: nobody on shift")
            continue
        skilled = [c for c in pool if c.skilled]
        pool = skilled or pool
        under = pool if emergency else [c for c in pool if c.load < c.cap]
        loads = ", ".join(f"{c.staff_id}={c.load}/{c.cap}{'' if c.on_shift else '(off shift)'}"
                          f"{'★' if c.skilled else ''}" for c in cands)
        skill_note = f"; skill {r.skill}: {'matched' if skilled else 'nobody has it'}" if r.skill else ""
        shift_note = "" if on_shift else "; nobody on shift now → next shift's handler"
        if not under:
            return Pick(None, "", f"rule {r.rule} → {dept}; candidates {loads}{skill_note}; everyone at their "
                                  f"cap → waits for the first free handler (oldest first)", candidates=cands)
        chosen_c = min(under, key=lambda c: (c.load, c.staff_id))
        chosen = org.person(chosen_c.staff_id)
        assert chosen is not None
        sup = supervisor_of(org, chosen, at)
        notify = (sup,) if emergency and sup else ()
        why = (f"rule {r.rule} → {dept}; candidates {loads}{skill_note}{shift_note}; least open work: {chosen.id}"
               + (f"; 特急 emergency: supervisor {sup} notified at once" if notify else ""))
        return Pick(chosen, sup, why, notify, cands)
    estate = org.estate(estate_id)
    manager = org.person(estate.manager_id) if estate else None
    if manager is None:  # an estate onboarded without its people yet: the case waits, it is never dropped
        return Pick(None, "", f"rule {r.rule}; {'; '.join(tried)}; no estate manager on file → waits until "
                              f"staff are added (待派)")
    return Pick(manager, "", f"rule {r.rule}; {'; '.join(tried)} → estate manager {manager.id}",
                (manager.id,) if emergency else ())


def escalation_target(org: OrgDirectory, estate_id: str, role: str, assignee_id: str, at: datetime) -> Staff | None:
    """Who receives an escalation of this level (督办): supervisor, estate manager, region quality."""
    if role == "supervisor":
        person = org.person(assignee_id)
        sup = supervisor_of(org, person, at) if person else ""
        return org.person(sup) if sup else None
    if role == "estate_manager":
        estate = org.estate(estate_id)
        return org.person(estate.manager_id) if estate and estate.manager_id else None
    quality = [s for s in org.region_staff(org.region_of(estate_id)) if s.role == "region_quality"]
    on = [s for s in quality if org.on_duty(s, at)] or quality
    return sorted(on, key=lambda s: s.id)[0] if on else None
