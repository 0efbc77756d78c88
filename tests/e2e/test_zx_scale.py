"""Two instances of every service under a steady stream; one instance of each is killed with SIGKILL.

The second instances join the first ones' consumer groups (Kafka shares the partitions) and their leases
(shared.lease: one instance runs each sweep and poller). Complaints are posted through both web-intake
instances the way a load balancer would (the next instance when one does not answer). Every case of the
stream runs its SLA clocks on seconds, so timers fall due throughout, including while the instance that
fired them lies dead. Then: every accepted complaint is archived once, assigned, with one receipt and one
judgement, and with exactly one deadline warning and three escalations (none lost, none twice); the
killed instances' leases are held by the survivors. Counts are printed.
Named to run after the other end-to-end tests and before the fault test (it stops and starts instances).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
from pymongo import AsyncMongoClient

from deploy.native import stack as native
from tests.e2e.conftest import PORTS, filed
from tests.e2e.test_dispatch import onboard, route_everything_to
from tests.helpers import complaint

SECOND = {name: native.instance_port(name, 2, port) for name, port in PORTS.items()}
RATE_PER_SECOND = 1.5
# the lease whose holder is the instance to kill: the one doing the service's singular work
MAIN_LEASE = {"assignment": "timers", "followup": "notices", "archive": "rollups", "fax_intake": "imap-poll",
              "letter_intake": "scan-inbox"}


class Balanced:
    """A client over both instances of a service: the next instance when one does not answer (a load balancer)."""

    def __init__(self, name: str, headers: dict[str, str] | None = None) -> None:
        self.ports = [PORTS[name], SECOND[name]]
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(30, connect=2), headers=headers or {})
        self.turn = 0
        self.failovers = 0  # requests an instance did not answer, sent on to the other

    async def request(self, method: str, path: str, **kw) -> httpx.Response:
        self.turn += 1
        last: Exception | None = None
        for i in range(len(self.ports)):
            port = self.ports[(self.turn + i) % len(self.ports)]
            try:
                return await self.client.request(method, f"http://127.0.0.1:{port}{path}", **kw)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                last = exc
                self.failovers += 1
        raise last  # type: ignore[misc]

    async def get(self, path: str, **kw) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw) -> httpx.Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw) -> httpx.Response:
        return await self.request("PUT", path, **kw)

    async def aclose(self) -> None:
        await self.client.aclose()


async def holders(mongo: AsyncMongoClient, prefix: str) -> dict[str, dict[str, str]]:
    out = {}
    for name in PORTS:
        out[name] = {d["_id"]: d["holder"] for d in await mongo[f"{prefix}_{name}"]["leases"].find().to_list(None)}
    return out


async def test_with_two_instances_killing_one_of_each_loses_nothing_and_fires_no_timer_twice(center, infra):
    for name, port in PORTS.items():
        native.start_service(center.stack, name, port=port, wait=False, instance=2)
    killed: list[str] = []
    mongo = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    ops = Balanced("operator_api", {"Authorization": f"Bearer {center.admin_token}"})
    web = Balanced("web_intake")
    try:
        for name, port in SECOND.items():
            await asyncio.to_thread(native.wait_for, lambda p=port: native.healthy(p), 90, f"{name}.2")
        estate, _ = await onboard(ops, [  # a fresh estate whose clocks run on seconds (escalation ladder)
            {"staff_id": "h", "name": "维修工", "department": "engineering", "role": "handler", "supervisor_id": "sup",
             "max_open": "1000"},
            {"staff_id": "sup", "name": "工程主管", "department": "engineering", "role": "supervisor"}])
        await route_everything_to(ops, estate, "engineering")
        fast = {"acknowledge": "1h", "first_response": "1h", "resolve": "6s", "mode": "24x7"}
        policy = {"emergency": fast, "major": fast, "general": fast, "minor": fast, "warn_at": 0.5}
        assert (await ops.put(f"/api/v1/directory/estates/{estate}/sla", json=policy)).status_code == 200

        marker = uuid.uuid4().hex[:8]
        accepted: list[str] = []
        refused: Counter[str] = Counter()
        stopping = asyncio.Event()

        async def one(i: int) -> None:
            body = complaint(estate_id=estate, text=f"{i % 9 + 1}号楼道灯坏了好几天没人修 {marker}-{i}",
                             complainant={"name": "业主", "phone": f"139{i:08d}", "unit": f"{i % 9 + 1}栋{i}室"})
            for _ in range(60):
                try:
                    r = await web.post("/api/v1/complaints", json=body, headers={"Idempotency-Key": f"{marker}-{i}"})
                except httpx.HTTPError as exc:
                    refused[type(exc).__name__] += 1
                else:
                    if r.status_code in (200, 202):
                        accepted.append(r.json()["complaint_id"])
                        return
                    refused[str(r.status_code)] += 1
                    # the new estate reaches the intakes by the directory feed: a 422 until it has
                    assert r.status_code in (422, 429, 503), r.text
                await asyncio.sleep(1)
            raise AssertionError(f"submission {i} never accepted")

        async def stream() -> None:
            tasks, i = [], 0
            while not stopping.is_set():
                tasks.append(asyncio.create_task(one(i)))
                i += 1
                await asyncio.sleep(1 / RATE_PER_SECOND)
            await asyncio.gather(*tasks)

        load = asyncio.create_task(stream())
        t_start = time.monotonic()
        await asyncio.sleep(15)
        before = await holders(mongo, center.prefix)
        for name in PORTS:  # kill -9 the instance doing each service's singular work, mid-stream
            lease = MAIN_LEASE.get(name) or next(iter(sorted(before[name])), None)
            holder = before[name].get(lease, f"{name}-1") if lease else f"{name}-1"
            k = int(holder.rsplit("-", 1)[1])
            pid_name = native.instance_name(name, k)
            native.stop(center.stack, pid_name, sig=9, timeout=5)
            killed.append(pid_name)
        t_kill = time.monotonic() - t_start
        await asyncio.sleep(25)
        stopping.set()
        await load

        def survivor(name: str) -> str:
            return f"{name}-1" if native.instance_name(name, 2) in killed else f"{name}-2"

        # every lease the dead held is taken over by its survivor (within the lease, 15 s)
        deadline = time.monotonic() + 60
        while True:
            now = await holders(mongo, center.prefix)
            stuck = {(n, job): h for n, jobs in now.items() for job, h in jobs.items() if h != survivor(n)
                     and job in before.get(n, {})}
            if not stuck or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        assert not stuck, f"leases still with the dead: {stuck}"

        # every case: filed and assigned, one warning and three escalations
        deadline = time.monotonic() + 240
        pending = list(accepted)
        while pending and time.monotonic() < deadline:
            left = []
            for cid in pending:
                r = await ops.get(f"/api/v1/complaints/{cid}")
                case = r.json() if r.status_code == 200 else {"status": r.status_code}
                if not (r.status_code == 200 and filed(case) and len(case.get("escalations", [])) >= 3):
                    left.append((cid, case.get("status"), len(case.get("escalations", [])),
                                 [t["type"] for t in case.get("timeline", [])]))
            pending = [c for c, *_ in left]
            if pending:
                await asyncio.sleep(2)
        assert not pending, f"{len(pending)} of {len(accepted)} not assigned, filed, escalated thrice: {left[:3]}"
        await asyncio.sleep(5)  # room for a duplicate to show
        cases = mongo[f"{center.prefix}_archive"]["cases"]
        docs = await cases.find({"_id": {"$in": accepted}}, {"events.type": 1, "events.event_id": 1}).to_list(None)
        problems = []
        timer_events = Counter()
        for d in docs:
            kinds = Counter(e["type"] for e in d["events"])
            timer_events[(kinds["SlaWarning"], kinds["ComplaintEscalated"])] += 1
            if kinds["ComplaintReceived"] != 1 or kinds["ComplaintTriaged"] != 1 or kinds["ComplaintAssigned"] != 1:
                problems.append((d["_id"], dict(kinds)))
            if kinds["SlaWarning"] != 1 or kinds["ComplaintEscalated"] != 3:
                problems.append((d["_id"], "timers", kinds["SlaWarning"], kinds["ComplaintEscalated"]))
            if len({e["event_id"] for e in d["events"]}) != len(d["events"]):
                problems.append((d["_id"], "an event filed twice"))
        stored = set()
        for service in ("web_intake",):
            stored |= {d["_id"] for d in await mongo[f"{center.prefix}_{service}"]["submissions"].find(
                {"estate_id": estate}, {"_id": 1}).to_list(None)}
        print(f"\n[scale] two instances of each service; kill -9 of {', '.join(killed)} at {t_kill:.0f} s "
              f"of a {t_kill + 25:.0f} s stream at {RATE_PER_SECOND}/s")
        print(f"[scale] accepted {len(accepted)}, stored {len(stored)}, archived {len(docs)}, "
              f"(warnings, escalations) per case {dict(timer_events)}, problems {len(problems)}; "
              f"requests sent on to the other instance {web.failovers}, refused and retried {dict(refused)}")
        assert len(docs) == len(accepted) == len(stored) == len(set(accepted))
        assert not problems, problems[:10]
    finally:
        await ops.aclose()
        await web.aclose()
        await mongo.close()
        for name in PORTS:  # back to one instance of each, on the first instance's port
            native.stop(center.stack, native.instance_name(name, 2))
            if name in killed:
                await asyncio.to_thread(center.start, name)
