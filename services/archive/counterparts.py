"""The customer archive (客户档案): one file per household (一户一档) or organisation, grouped by counterpart type.

A household is recognised across channels by its phone number or its unit in an estate: both are keys in
`counterpart_keys` pointing at one file, so a web complaint with a unit and a phone call from the same number
land in the same file. Organisations (owners' committee, developer, government, utility, contractor, …) are
filed by their name. A file lists case ids and communication ids; the records themselves stay where they are.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.archive.domain import phone_key as archive_phone_key

HOUSEHOLD_TYPES = ("owner", "tenant")
TYPES = ("owner", "tenant", "owners_committee", "developer", "government", "residents_committee", "utility",
         "contractor")
TYPE_ZH = {"owner": "业主", "tenant": "租户", "owners_committee": "业主委员会", "developer": "建设单位",
           "government": "政府部门", "residents_committee": "居委会", "utility": "市政公用单位", "contractor": "承包商"}
_NUMS = re.compile(r"\d+")


def files(db: AsyncDatabase):
    return db["counterparts"]


def keys(db: AsyncDatabase):
    return db["counterpart_keys"]


def phone_key(phone: str) -> str:
    """The archive's phone key, when the number is long enough to identify a household."""
    key = archive_phone_key(phone)
    return key if len(key) >= 7 else ""


def unit_key(unit: str) -> str:
    """3栋2单元1201 and 3-2-1201 are the same flat: the numbers in order."""
    nums = _NUMS.findall(unit or "")
    return "-".join(str(int(n)) for n in nums) if len(nums) >= 2 else ""


def household_keys(group_id: str, estate_id: str, phone: str, unit: str) -> list[str]:
    out = []
    if phone_key(phone):
        out.append(f"{group_id}:phone:{phone_key(phone)}")
    if unit_key(unit) and estate_id:
        out.append(f"{group_id}:unit:{estate_id}:{unit_key(unit)}")
    return out


def org_key(group_id: str, kind: str, name: str) -> str:
    compact = re.sub(r"\s+", "", name)
    return f"{group_id}:{kind}:{compact}"


async def resolve(db: AsyncDatabase, group_id: str, kind: str, *, estate_id: str = "", name: str = "",
                  phone: str = "", unit: str = "", add_to: dict[str, str] | None = None) -> str | None:
    """The file id for a counterpart, creating the file and its keys when new. `add_to`: ids to add to the
    file's lists (a case, a communication) in the same write."""
    if kind in HOUSEHOLD_TYPES:
        wanted = household_keys(group_id, estate_id, phone, unit)
    else:
        wanted = [org_key(group_id, kind, name)] if name.strip() else []
    if not wanted:
        return None
    found = await keys(db).find({"_id": {"$in": wanted}}).to_list(None)
    file_id = min((f["file_id"] for f in found), default=None) or f"cp-{wanted[0]}"
    known = {f["_id"] for f in found}
    for k in (k for k in wanted if k not in known):  # a key known already stays with the first file
        with contextlib.suppress(DuplicateKeyError):  # filed meanwhile by another instance: the same
            await keys(db).insert_one({"_id": k, "file_id": file_id})
    now = datetime.now(UTC)
    ptype = "household" if kind in HOUSEHOLD_TYPES else kind
    add = {k: v for k, v in {"estate_ids": estate_id, "phones": phone_key(phone), "units": unit, "names": name,
                             "roles": kind, **(add_to or {})}.items() if v}
    await files(db).update_one({"_id": file_id}, {"$set": {"group_id": group_id, "type": ptype, "updated_at": now},
                                                  "$addToSet": add}, upsert=True)
    return file_id


async def file_case(db: AsyncDatabase, record: dict[str, Any]) -> None:
    c = record.get("complainant") or {}
    if not (c.get("phone") or c.get("unit")):
        return
    kind = "owner"
    await resolve(db, record["group_id"], kind, estate_id=record["estate_id"], name=c.get("name", ""),
                  phone=c.get("phone", ""), unit=c.get("unit", ""), add_to={"case_ids": record["_id"]})


async def file_communication(db: AsyncDatabase, group_id: str, estate_id: str, p: dict[str, Any]) -> str | None:
    return await resolve(db, group_id, p["counterpart_type"], estate_id=estate_id, name=p["counterpart_name"],
                         phone=p.get("phone", ""), unit=p.get("unit", ""),
                         add_to={"communication_ids": p["communication_id"]})
