"""The organisation directory's owner: stored changes over the YAML seed, published as DirectoryChanged events.

Estates, staff, group rules and deadline policies, and the State Council holiday notices live in the
assignment database (`dir_*` collections). At start they are laid over the seed; each change is saved first,
then published through an outbox document (`dir_changes`) so every other service applies it to its view.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from shared import workcal
from shared.contracts import DirectoryChanged, Envelope
from shared.org import Estate, Group, OrgDirectory, Routing, Shift, SlaPolicy, Staff
from shared.outbox import OutboxRelay, outbox_doc
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
CHUNK = 200  # entities per event: a few tens of kilobytes, well under Kafka's message limit


class DirectoryStore:
    def __init__(self, db: AsyncDatabase, relay: OutboxRelay, settings: ServiceSettings, org: OrgDirectory) -> None:
        self.db = db
        self.relay = relay
        self.settings = settings
        self.org = org

    async def load(self) -> None:
        """Lay stored changes over the seed: groups' rules, then estates, then staff, then holiday notices."""
        async for row in self.db["dir_groups"].find({}):
            group = self.org.group(row["_id"])
            if group is not None:
                self.org.put_group(group.model_copy(update=_group_update(row, group)))
        async for row in self.db["dir_estates"].find({}).sort("seq", 1):
            if self.org.group(row["group_id"]) is not None:
                self.org.put_estate(row["group_id"], row["region_id"], row.get("region_name", ""),
                                    Estate.model_validate(row["estate"]))
        async for row in self.db["dir_staff"].find({}):
            if row.get("removed"):
                self.org.remove_staff(row["_id"])
            else:
                self.org.put_staff(Staff.model_validate(row["staff"]))
        async for row in self.db["dir_calendar"].find({}):
            workcal.set_notice(int(row["_id"]), row["holidays"], row["workdays"])
        coming = datetime.now(workcal.LOCAL_TZ).year + 1
        if workcal.coverage(coming) == "fallback":
            log.warning("the holiday calendar does not cover %s yet: enter the State Council notice when it is "
                        "published (PUT /api/v1/directory/calendar/%s); until then Mon-Fri minus fixed holidays",
                        coming, coming)

    async def publish(self, group_id: str, entity: str, data: list[dict[str, Any]], source: str) -> int:
        """Save one outbox document per chunk and publish; returns the number of events."""
        n = 0
        for i in range(0, len(data), CHUNK):
            env = Envelope[DirectoryChanged](
                type="DirectoryChanged", correlation_id=uuid.uuid4(), group_id=group_id, estate_id="*",
                complaint_id=f"directory:{group_id}",
                payload=DirectoryChanged(entity=entity, data=data[i:i + CHUNK], source=source))
            doc = {"_id": str(env.event_id), "at": datetime.now(UTC), "group_id": group_id, "entity": entity,
                   "count": len(data[i:i + CHUNK]), "source": source,
                   **outbox_doc(self.settings, [env])}
            await self.db["dir_changes"].insert_one(doc)
            await self.relay.try_flush(doc["_id"], doc["outbox"])
            n += 1
        return n

    async def put_estates(self, group_id: str, rows: list[tuple[str, str, Estate]], source: str) -> None:
        """rows: (region_id, region_name, estate)."""
        if not rows:
            return
        now = datetime.now(UTC)
        seq = await self.db["dir_estates"].count_documents({})
        ops = [UpdateOne({"_id": e.id}, {"$set": {"group_id": group_id, "region_id": rid, "region_name": rname,
                                                   "estate": e.model_dump(), "updated_at": now, "seq": seq + i}},
                         upsert=True) for i, (rid, rname, e) in enumerate(rows)]
        await self.db["dir_estates"].bulk_write(ops, ordered=False)
        for rid, rname, e in rows:
            self.org.put_estate(group_id, rid, rname, e)
        await self.publish(group_id, "estate", [{"group_id": group_id, "region_id": rid, "region_name": rname,
                                                 "estate": e.model_dump()} for rid, rname, e in rows], source)

    async def put_staff(self, group_id: str, people: list[Staff], source: str) -> None:
        if not people:
            return
        now = datetime.now(UTC)
        ops = [UpdateOne({"_id": s.id}, {"$set": {"group_id": group_id, "staff": s.model_dump(), "removed": False,
                                                   "updated_at": now}}, upsert=True) for s in people]
        await self.db["dir_staff"].bulk_write(ops, ordered=False)
        for s in people:
            self.org.put_staff(s)
        await self.publish(group_id, "staff", [s.model_dump() for s in people], source)

    async def set_group_policy(self, group_id: str, *, sla: SlaPolicy | None = None,
                               routing: Routing | None = None, source: str = "api") -> None:
        update: dict[str, Any] = {}
        if sla is not None:
            update["sla"] = sla.model_dump()
        if routing is not None:
            update["routing"] = routing.model_dump()
        await self.db["dir_groups"].update_one({"_id": group_id}, {"$set": update}, upsert=True)
        group = self.org.group(group_id)
        assert group is not None
        changed = group.model_copy(update=_group_update(update))
        self.org.put_group(changed)
        await self.publish(group_id, "group", [changed.model_dump(exclude={"regions"})], source)

    async def put_shift(self, group_id: str, shift: Shift) -> None:
        await self.db["dir_groups"].update_one({"_id": group_id}, {"$set": {f"shifts_by_id.{shift.id}":
                                                                            shift.model_dump()}}, upsert=True)
        changed = self.org.put_shift(group_id, shift)
        await self.publish(group_id, "group", [changed.model_dump(exclude={"regions"})], "api")

    async def set_estate_policy(self, group_id: str, estate_id: str, *, sla: SlaPolicy | None | bool = False,
                                routing: Routing | None | bool = False, source: str = "api") -> Estate:
        """Override (or with None clear) an estate's deadlines or routing; False leaves that part alone."""
        group, estate = self.org.estates[estate_id]
        update: dict[str, Any] = {}
        if sla is not False:
            update["sla"] = sla
        if routing is not False:
            update["routing"] = routing
        changed = estate.model_copy(update=update)
        region_id = self.org.region_of(estate_id)
        region_name = self.org.regions[region_id][1].name
        await self.put_estates(group.id, [(region_id, region_name, changed)], source)
        return changed

    async def set_calendar(self, group_id: str, year: int, holidays: list[str], workdays: list[str]) -> None:
        workcal.set_notice(year, holidays, workdays)  # validates before anything is stored
        await self.db["dir_calendar"].update_one(
            {"_id": str(year)}, {"$set": {"holidays": sorted(holidays), "workdays": sorted(workdays),
                                          "updated_at": datetime.now(UTC)}}, upsert=True)
        await self.publish(group_id, "calendar", [{"year": year, "holidays": sorted(holidays),
                                                   "workdays": sorted(workdays)}], "api")


def _group_update(row: dict[str, Any], group: Group | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if row.get("shifts_by_id") and group is not None:
        stored = {k: Shift.model_validate(v) for k, v in row["shifts_by_id"].items()}
        out["shifts"] = [s for s in group.shifts if s.id not in stored] + list(stored.values())
    if row.get("sla"):
        out["sla"] = SlaPolicy.model_validate(row["sla"])
    if row.get("routing"):
        out["routing"] = Routing.model_validate(row["routing"])
    return out
