"""The organisation directory (组织架构): group → region → estate → department → staff, with rotas and rules.

The YAML seed (`deploy/org_seed.yaml`) is validated as `OrgSeed`; `OrgDirectory` is the live, indexed view
every service reads. The assignment service owns changes (API, Excel/CSV import) and publishes them as
`DirectoryChanged` events; every other service applies them to its own view (`apply_change`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.terms import SUBCATEGORY_OF

ROOT = Path(__file__).resolve().parents[1]

ROLES = ("handler", "supervisor", "estate_manager", "region_quality", "operator")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_ID = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(v: str) -> str:
    if not _HHMM.match(v):
        raise ValueError(f"time {v!r} is not HH:MM (24-hour)")
    return v


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> tuple[float, bool]:
    """'15m' → (900, False); '5wd' → (5, True): working days are counted on the calendar, not in seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(wd|s|m|h|d)\s*", text or "")
    if not m:
        raise ValueError(f"duration {text!r}: use a number with s, m, h, d or wd (working days)")
    n, unit = float(m.group(1)), m.group(2)
    if n <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return (n, True) if unit == "wd" else (n * _UNITS[unit], False)


class Routing(_M):
    """Category/subcategory → department kind; subcategory wins. Estates may override single entries."""

    subcategory: dict[str, str] = Field(default_factory=dict)
    category: dict[str, str] = Field(default_factory=dict)
    skills: dict[str, str] = Field(default_factory=dict, description="subcategory → skill a handler should have")
    invalid: str = Field("service_desk", pattern=r"^[a-z][a-z_]{0,39}$")
    default: str = Field("service_desk", pattern=r"^[a-z][a-z_]{0,39}$")

    @field_validator("subcategory", "skills")
    @classmethod
    def _known_subcategories(cls, v: dict[str, str]) -> dict[str, str]:
        return _codes(v, SUBCATEGORY_OF, "subcategory")

    @field_validator("category")
    @classmethod
    def _known_categories(cls, v: dict[str, str]) -> dict[str, str]:
        return _codes(v, set(SUBCATEGORY_OF.values()), "category")


_CODE = re.compile(r"^[a-z][a-z_]{0,39}$")


def _codes(v: dict[str, str], known: Any, what: str) -> dict[str, str]:
    """Rule keys are codes we know and values are plain codes: nothing else ever reaches a stored document
    (a `$`-prefixed or dotted key would be a MongoDB operator or path)."""
    for key, value in v.items():
        if key not in known:
            raise ValueError(f"unknown {what} {key!r}")
        if not _CODE.match(str(value)):
            raise ValueError(f"{what} {key}: {value!r} is not a code (lower-case letters and _)")
    return v


class ClockRule(_M):
    """One clock's budget: '5m', '2h', '2d' (24 h days) or '5wd' (working days)."""

    acknowledge: str
    first_response: str
    resolve: str
    followup: str = "1wd"
    mode: Literal["24x7", "working"] = "working"

    @field_validator("acknowledge", "first_response", "resolve", "followup")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v


class EscalationStep(_M):
    at: float = Field(gt=0, description="fraction of the clock's budget when this step fires (1.0 = the deadline)")
    to: Literal["supervisor", "estate_manager", "region_quality"]


class SlaPolicy(_M):
    """Deadlines per severity (DOMAIN.md), warning ratio and the escalation ladder (handler → … → region)."""

    emergency: ClockRule = ClockRule(acknowledge="5m", first_response="15m", resolve="24h", followup="1d",
                                     mode="24x7")
    major: ClockRule = ClockRule(acknowledge="30m", first_response="2h", resolve="2d", followup="1wd", mode="24x7")
    general: ClockRule = ClockRule(acknowledge="2h", first_response="24h", resolve="5wd", followup="1wd")
    minor: ClockRule = ClockRule(acknowledge="2h", first_response="24h", resolve="3wd", followup="1wd")
    warn_at: float = Field(0.8, gt=0, lt=1)
    escalation: list[EscalationStep] = Field(default_factory=lambda: [
        EscalationStep(at=1.0, to="supervisor"), EscalationStep(at=1.5, to="estate_manager"),
        EscalationStep(at=2.0, to="region_quality")])


class Shift(_M):
    """A duty shift in the estate's local time; end before start runs overnight."""

    id: str = Field(pattern=_ID)
    name: str = ""
    start: str = "00:00"
    end: str = "00:00"
    days: Literal["all", "workdays", "rest_days"] = "all"
    on_call: bool = Field(False, description="值班: takes emergencies only; other cases wait for a regular shift")

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str) -> str:
        return _hhmm(v)


DEFAULT_SHIFTS = [
    Shift(id="day", name="白班 day", start="08:00", end="18:00", days="workdays"),
    Shift(id="night", name="夜间值班 night on-call", start="18:00", end="08:00", days="all", on_call=True),
    Shift(id="rest_day", name="节假日值班 rest-day on-call", start="08:00", end="18:00", days="rest_days",
          on_call=True),
    Shift(id="all", name="全天 24h", start="00:00", end="00:00", days="all"),
]


class Estate(_M):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=100)
    name_en: str = ""
    city: str = ""
    manager_id: str = ""
    aliases: list[str] = Field(default_factory=list)
    phone_lines: list[str] = Field(default_factory=list)
    fax_numbers: list[str] = Field(default_factory=list)
    working_hours: str = Field("08:00-18:00", description="service desk hours for 'working' clocks")
    routing: Routing | None = Field(None, description="entries that override the group's rules")
    sla: SlaPolicy | None = Field(None, description="the estate's own deadlines, replacing the group's")

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        start, sep, end = v.partition("-")
        if not sep or _hhmm(start) >= _hhmm(end):
            raise ValueError(f"working hours {v!r} must be HH:MM-HH:MM within one day")
        return v


class Region(_M):
    id: str = Field(pattern=_ID)
    name: str
    name_en: str = ""
    estates: list[Estate] = Field(default_factory=list)


class Group(_M):
    id: str = Field(pattern=_ID)
    name: str
    name_en: str = ""
    regions: list[Region] = Field(default_factory=list)
    routing: Routing = Routing()
    sla: SlaPolicy = SlaPolicy()
    shifts: list[Shift] = Field(default_factory=lambda: list(DEFAULT_SHIFTS))
    max_open_per_person: int = Field(8, ge=1, description="cap of open cases per handler (emergencies exceed it)")
    send_back_days: int = Field(2, ge=0, description="working days a handler has to send a case back (退单)")
    hotlines: list[str] = Field(default_factory=list)
    fax_numbers: list[str] = Field(default_factory=list)
    default_estate: str = ""


class DepartmentKind(_M):
    kind: str
    name: str
    name_en: str = ""


class Staff(_M):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=100)
    estate: str = Field("", description="the estate; empty for region staff (region quality)")
    region: str = Field("", description="the region, for region staff")
    department: str = ""
    role: Literal["handler", "supervisor", "estate_manager", "region_quality", "operator"] = "handler"
    skills: list[str] = Field(default_factory=list)
    shifts: list[str] = Field(default_factory=list, description="shift ids; none: on duty whenever on_duty")
    on_duty: bool = Field(True, description="false while on leave or off rota")
    supervisor_id: str = ""
    max_open: int | None = Field(None, ge=1)
    phone: str = ""


class CalendarNotice(BaseModel):
    """The State Council's holiday notice for a year (国务院办公厅放假通知), entered when the package lags."""

    model_config = ConfigDict(extra="forbid")
    holidays: list[date] = Field(description="放假日期 days off")
    workdays: list[date] = Field(default_factory=list, description="调休上班 make-up working days")


class EstatePlacement(BaseModel):
    """An estate with the region it belongs to (created when new), for the directory API."""

    model_config = ConfigDict(extra="forbid")
    region_id: str = Field(pattern=_ID)
    region_name: str = ""
    estate: Estate


class OrgSeed(_M):
    groups: list[Group]
    departments: list[DepartmentKind]
    staff: list[Staff]


class OrgDirectory:
    """The live directory: indexed for routing at the scale of a thousand estates and tens of thousands of staff."""

    def __init__(self, seed: OrgSeed) -> None:
        self.departments = list(seed.departments)
        self._groups: dict[str, Group] = {}
        self.regions: dict[str, tuple[str, Region]] = {}
        self.estates: dict[str, tuple[Group, Estate]] = {}
        self._estate_region: dict[str, str] = {}
        self.staff_by_id: dict[str, Staff] = {}
        self._by_estate_dept: dict[tuple[str, str], dict[str, Staff]] = {}
        self._by_estate: dict[str, dict[str, Staff]] = {}
        self._by_region: dict[str, dict[str, Staff]] = {}
        self.version = 0
        for g in seed.groups:
            self.put_group(g)
        for s in seed.staff:
            self.put_staff(s)

    # ---- reading -------------------------------------------------------------------------------------
    @property
    def groups(self) -> list[Group]:
        return list(self._groups.values())

    @property
    def staff(self) -> list[Staff]:
        return list(self.staff_by_id.values())

    def group(self, group_id: str) -> Group | None:
        return self._groups.get(group_id)

    def group_of(self, estate_id: str) -> str | None:
        found = self.estates.get(estate_id)
        return found[0].id if found else None

    def estate(self, estate_id: str) -> Estate | None:
        found = self.estates.get(estate_id)
        return found[1] if found else None

    def region_of(self, estate_id: str) -> str:
        return self._estate_region.get(estate_id, "")

    def estates_of(self, group_id: str) -> list[Estate]:
        return [e for g, e in self.estates.values() if g.id == group_id]

    def department_name(self, kind: str) -> str:
        return next((d.name for d in self.departments if d.kind == kind), kind)

    def staff_in(self, estate_id: str, department: str) -> list[Staff]:
        return list(self._by_estate_dept.get((estate_id, department), {}).values())

    def staff_of_estate(self, estate_id: str) -> list[Staff]:
        return list(self._by_estate.get(estate_id, {}).values())

    def region_staff(self, region_id: str) -> list[Staff]:
        return list(self._by_region.get(region_id, {}).values())

    def person(self, staff_id: str) -> Staff | None:
        return self.staff_by_id.get(staff_id)

    def routing_for(self, estate_id: str) -> Routing:
        group, estate = self.estates[estate_id]
        if estate.routing is None:
            return group.routing
        g, o = group.routing, estate.routing
        return Routing(subcategory={**g.subcategory, **o.subcategory}, category={**g.category, **o.category},
                       skills={**g.skills, **o.skills}, invalid=o.invalid if "invalid" in o.model_fields_set
                       else g.invalid, default=o.default if "default" in o.model_fields_set else g.default)

    def sla_for(self, estate_id: str) -> SlaPolicy:
        group, estate = self.estates[estate_id]
        return estate.sla or group.sla

    def on_duty(self, person: Staff, at: datetime, *, on_call: bool = True) -> bool:
        """On the rota at `at` (estate local time), and not on leave; on_call=False ignores on-call shifts."""
        if not person.on_duty:
            return False
        if not person.shifts:
            return True
        shifts = self._shifts_of(person)
        return any(shift_covers(s, at) for s in shifts if on_call or not s.on_call)

    def only_on_call(self, person: Staff) -> bool:
        """Someone whose every shift is an on-call one (emergencies only)."""
        shifts = self._shifts_of(person)
        return bool(shifts) and all(s.on_call for s in shifts)

    def _shifts_of(self, person: Staff) -> list[Shift]:
        group = self._group_for_staff(person)
        known = {s.id: s for s in (group.shifts if group else DEFAULT_SHIFTS)}
        return [known[s] for s in person.shifts if s in known]

    def _group_for_staff(self, person: Staff) -> Group | None:
        if person.estate in self.estates:
            return self.estates[person.estate][0]
        found = self.regions.get(person.region)
        return self._groups.get(found[0]) if found else None

    # ---- changing ------------------------------------------------------------------------------------
    def put_group(self, group: Group) -> None:
        """Add or replace a group with its regions and estates (the seed and group-level edits)."""
        old = self._groups.get(group.id)
        if old is not None:
            for r in old.regions:
                self.regions.pop(r.id, None)
                for e in r.estates:
                    self.estates.pop(e.id, None)
        self._groups[group.id] = group
        for r in group.regions:
            self._index_region(group, r)
        self.version += 1

    def _index_region(self, group: Group, region: Region) -> None:
        self.regions[region.id] = (group.id, region)
        for e in region.estates:
            self.estates[e.id] = (group, e)
            self._estate_region[e.id] = region.id

    def put_estate(self, group_id: str, region_id: str, region_name: str, estate: Estate) -> None:
        """Add or replace one estate under a region of a group (created when new).

        Touches only the estate and its old and new region: a whole group's import (8,000 estates) used to
        rebuild the group at every estate, which took minutes at every start of every service. The group in
        other estates' entries keeps the same rules; read a group's regions through `group()` or `regions`."""
        group = self._groups[group_id]
        old_region = self._estate_region.get(estate.id)
        regions = list(group.regions)
        where = {r.id: i for i, r in enumerate(regions)}
        if old_region is not None and old_region != region_id and old_region in where:
            i = where[old_region]
            regions[i] = regions[i].model_copy(update={"estates": [e for e in regions[i].estates
                                                                   if e.id != estate.id]})
            self.regions[old_region] = (group_id, regions[i])
        if region_id in where:
            i = where[region_id]
            r = regions[i]
            regions[i] = r.model_copy(update={"name": region_name or r.name,
                                              "estates": [e for e in r.estates if e.id != estate.id] + [estate]})
        else:
            regions.append(Region(id=region_id, name=region_name or region_id, estates=[estate]))
        changed = group.model_copy(update={"regions": regions})
        self._groups[group_id] = changed
        self.regions[region_id] = (group_id, regions[where.get(region_id, len(regions) - 1)])
        self.estates[estate.id] = (changed, estate)
        self._estate_region[estate.id] = region_id
        self.version += 1

    def put_shift(self, group_id: str, shift: Shift) -> Group:
        group = self._groups[group_id]
        shifts = [s for s in group.shifts if s.id != shift.id] + [shift]
        changed = group.model_copy(update={"shifts": shifts})
        self._groups[group_id] = changed
        for gid, est in list(self.estates.values()):
            if gid.id == group_id:
                self.estates[est.id] = (changed, est)
        self.version += 1
        return changed

    def check_staff(self, group_id: str, person: Staff) -> list[str]:
        """Why a person cannot be filed under this group (empty when they can)."""
        problems = []
        if person.estate and self.group_of(person.estate) != group_id:
            problems.append(f"项目不存在 estate {person.estate!r} is not in the group")
        if person.region and (self.regions.get(person.region) or ("",))[0] != group_id:
            problems.append(f"区域不存在 region {person.region!r} is not in the group")
        if person.role == "region_quality" and not person.region:
            problems.append("区域品质需要区域 region quality staff need a region")
        if person.role != "region_quality" and not person.estate:
            problems.append("需要项目 staff other than region quality need an estate")
        if person.estate and not any(d.kind == person.department for d in self.departments):
            problems.append(f"部门不存在 unknown department {person.department!r}")
        group = self.group(group_id)
        known = {s.id for s in (group.shifts if group else [])}
        problems += [f"班次不存在 unknown shift {s!r}" for s in person.shifts if s not in known]
        return problems

    def put_staff(self, person: Staff) -> None:
        self.remove_staff(person.id)
        self.staff_by_id[person.id] = person
        if person.estate:
            self._by_estate_dept.setdefault((person.estate, person.department), {})[person.id] = person
            self._by_estate.setdefault(person.estate, {})[person.id] = person
        if person.region:
            self._by_region.setdefault(person.region, {})[person.id] = person
        self.version += 1

    def remove_staff(self, staff_id: str) -> None:
        old = self.staff_by_id.pop(staff_id, None)
        if old is None:
            return
        self._by_estate_dept.get((old.estate, old.department), {}).pop(staff_id, None)
        self._by_estate.get(old.estate, {}).pop(staff_id, None)
        self._by_region.get(old.region, {}).pop(staff_id, None)
        self.version += 1

    def apply_change(self, change: dict[str, Any]) -> None:
        """Apply one DirectoryChanged payload (as a dict) published by the assignment service."""
        entity, data = change["entity"], change.get("data") or []
        if entity == "group":  # rules and policies; the group's estates travel as estate changes
            for d in data:
                existing = self.group(d["id"])
                group = Group.model_validate({**d, "regions": []})
                self.put_group(group.model_copy(update={"regions": existing.regions if existing else []}))
        elif entity == "estate":
            for d in data:
                self.put_estate(d["group_id"], d["region_id"], d.get("region_name", ""),
                                Estate.model_validate(d["estate"]))
        elif entity == "staff":
            for d in data:
                self.put_staff(Staff.model_validate(d))
        elif entity == "staff_removed":
            for d in data:
                self.remove_staff(d["id"])
        elif entity == "calendar":
            from shared import workcal

            for d in data:
                workcal.set_notice(int(d["year"]), d.get("holidays", []), d.get("workdays", []))


def shift_covers(shift: Shift, at: datetime) -> bool:
    """Whether a shift is running at `at` (aware datetime, read in the estate's local time)."""
    from shared.workcal import LOCAL_TZ, is_workday

    local = at.astimezone(LOCAL_TZ)
    start, end = time.fromisoformat(shift.start), time.fromisoformat(shift.end)
    now = local.time()
    if start < end:
        day, inside = local.date(), start <= now < end
    elif start == end or now >= start:
        day, inside = local.date(), True
    else:  # the small hours of an overnight shift belong to the day it started
        day, inside = local.date() - timedelta(days=1), now < end
    if not inside:
        return False
    if shift.days == "all":
        return True
    return is_workday(day) == (shift.days == "workdays")


def digits(number: str) -> str:
    return "".join(ch for ch in number or "" if ch.isdigit())


def line_owner(org: OrgDirectory, number: str, kind: str) -> tuple[str, str | None] | None:
    """Which (group, estate) a called phone line or fax number belongs to; estate None for a group line."""
    wanted = digits(number)
    if not wanted:
        return None
    for group, estate in org.estates.values():
        if wanted in {digits(n) for n in getattr(estate, kind)}:
            return group.id, estate.id
    group_kind = "hotlines" if kind == "phone_lines" else "fax_numbers"
    for group in org.groups:
        if wanted in {digits(n) for n in getattr(group, group_kind)}:
            return group.id, None
    return None


def estate_named_in(org: OrgDirectory, group_id: str, text: str) -> str | None:
    """An estate of the group whose name or alias the text mentions (the longest match wins)."""
    best: tuple[int, str] | None = None
    for e in org.estates_of(group_id):
        for name in [e.name, *e.aliases]:
            if name and name in text and (best is None or len(name) > best[0]):
                best = (len(name), e.id)
    return best[1] if best else None


def load_org(path: str | Path) -> OrgDirectory:
    p = Path(path)
    if not p.is_absolute():
        p = ROOT / p
    return OrgDirectory(OrgSeed.model_validate(yaml.safe_load(p.read_text(encoding="utf-8"))))
