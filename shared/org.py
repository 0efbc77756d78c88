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


def load_org(path: str | Path) -> OrgDirectory:
    p = Path(path)
    if not p.is_absolute():
        p = ROOT / p
    return OrgDirectory.model_validate(yaml.safe_load(p.read_text(encoding="utf-8")))
