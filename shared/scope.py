"""The caller's scope: a group and, within it, the estates they may see. Every query and command takes one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scope:
    group_id: str
    estate_ids: frozenset[str] | None = None  # None: every estate of the group

    def allows(self, group_id: str, estate_id: str) -> bool:
        return group_id == self.group_id and (self.estate_ids is None or estate_id in self.estate_ids)

    def mongo_filter(self) -> dict[str, Any]:
        flt: dict[str, Any] = {"group_id": self.group_id}
        if self.estate_ids is not None:  # one estate as an equality: a filter every MongoDB-wire server pushes down
            ids = sorted(self.estate_ids)
            flt["estate_id"] = ids[0] if len(ids) == 1 else {"$in": ids}
        return flt
