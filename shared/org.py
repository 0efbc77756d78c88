"""The organisation directory (group → region → estate → department → staff) read from the YAML seed."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parents[1]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Estate(_M):
    id: str
    name: str
    name_en: str = ""
    city: str = ""
    manager_id: str = ""
    aliases: list[str] = Field(default_factory=list)
    phone_lines: list[str] = Field(default_factory=list)
    fax_numbers: list[str] = Field(default_factory=list)


class Region(_M):
    id: str
    name: str
    name_en: str = ""
    estates: list[Estate]


class Routing(_M):
    subcategory: dict[str, str] = Field(default_factory=dict)
    category: dict[str, str] = Field(default_factory=dict)
    invalid: str = "service_desk"
    default: str = "service_desk"


class Group(_M):
    id: str
    name: str
    name_en: str = ""
    regions: list[Region]
    routing: Routing
    hotlines: list[str] = Field(default_factory=list)
    fax_numbers: list[str] = Field(default_factory=list)
    default_estate: str = ""


class DepartmentKind(_M):
    kind: str
    name: str
    name_en: str = ""


class Staff(_M):
    id: str
    name: str
    estate: str
    department: str
    role: str = "handler"
    on_duty: bool = True


class OrgDirectory(_M):
    groups: list[Group]
    departments: list[DepartmentKind]
    staff: list[Staff]

    @cached_property
    def estates(self) -> dict[str, tuple[Group, Estate]]:
        return {e.id: (g, e) for g in self.groups for r in g.regions for e in r.estates}

    def group_of(self, estate_id: str) -> str | None:
        found = self.estates.get(estate_id)
        return found[0].id if found else None

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)

    def estates_of(self, group_id: str) -> list[Estate]:
        return [e for g, e in self.estates.values() if g.id == group_id]

    def department_name(self, kind: str) -> str:
        return next((d.name for d in self.departments if d.kind == kind), kind)

    def staff_in(self, estate_id: str, department: str) -> list[Staff]:
        return [s for s in self.staff if s.estate == estate_id and s.department == department]

    def person(self, staff_id: str) -> Staff | None:
        return next((s for s in self.staff if s.id == staff_id), None)


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
    return OrgDirectory.model_validate(yaml.safe_load(p.read_text(encoding="utf-8")))
