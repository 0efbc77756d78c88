"""The whole pipeline against the floor, in one run (`make bench-pipeline`; part of `make bench`).

Pipeline: the running center (`make up`, started if needed). Complaints are posted to the web intake at fixed
offered loads (open loop: a send every 1/rate seconds whatever the answers) and at saturation (32 in
flight). Latency intake → assigned is the ComplaintAssigned record's Kafka timestamp minus the moment the
request was sent (same clock); → archived is when the archive's queue entry first shows the case assigned.

Floor: the same number of Kafka hops and MongoDB writes with no business logic, by a minimal aiokafka +
pymongo script in this process, on the same Kafka and MongoDB-wire server, measured in the same run:
  intake    insert the submission, bump a counter, publish, clear its outbox mark   (3 writes, 1 hop)
  stage 2   consume, save the case, clear its outbox mark, publish                  (2 writes, 1 hop) ~ triage
  stage 3   consume, save the case, clear its outbox mark, publish                  (2 writes, 1 hop) ~ assignment
  archive   consume all three topics; per event 4 reads + 4 writes                  (the archive's filing)
The ratio pipeline / floor says how much of what these servers can do the center delivers.

Also: resident memory of each service and of the whole stack. Results go to .run/bench/pipeline.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from pymongo import AsyncMongoClient

from deploy.native import stack

WEB = "http://127.0.0.1:8001"
LOADS = (10, 50, 200)
SECONDS = 10
SATURATION = 400
ARCHIVED_TIMEOUT = 600
OUT = stack.ROOT / ".run" / "bench" / "pipeline.json"
TEXT = "湖畔花园3栋2单元楼道灯坏了一周了没人修，晚上回家很不安全，请尽快派人修好。"


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(sent: dict[str, float], done: dict[str, float], t_start: float) -> dict[str, Any]:
    lat = [done[k] - sent[k] for k in sent if k in done]
    end = max((done[k] for k in sent if k in done), default=t_start)
    return {"n": len(sent), "completed": len(lat), "throughput": len(lat) / max(end - t_start, 1e-9),
            "p50_ms": _ms(pct(lat, 50)), "p95_ms": _ms(pct(lat, 95)), "p99_ms": _ms(pct(lat, 99))}


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 1)


async def offer(rate: float | None, n: int, send) -> tuple[dict[str, float], float]:
    """Open loop at `rate` per second (None: as fast as 32 in flight allow); key → send time."""
    sent: dict[str, float] = {}
    sem = asyncio.Semaphore(32 if rate is None else 10_000)
    t0 = time.time()

    async def one(i: int) -> None:
        async with sem:
            at = time.time()
            key = await send(i)
            if key:
                sent[key] = at

    tasks = []
    for i in range(n):
        if rate is not None:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.time()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return sent, t0


class Watch:
    """Collects record timestamps of one topic (by key) from now on."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.seen: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=None,
                                         auto_offset_reset="latest", enable_auto_commit=False)
        await self.consumer.start()
        while not self.consumer.assignment():
            await self.consumer.getmany(timeout_ms=200)
        for tp in self.consumer.assignment():
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            for records in (await self.consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    if r.key:
                        self.seen.setdefault(r.key.decode(), r.timestamp / 1000)

    async def until(self, keys, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline and not all(k in self.seen for k in keys):
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()


# ---- the pipeline ------------------------------------------------------------------------------------------
async def pipeline(bootstrap: str, mongo_url: str) -> dict[str, Any]:
    watch = Watch(bootstrap, "cc.complaint.assigned")
    await watch.start()
    mongo = AsyncMongoClient(mongo_url, tz_aware=True)
    queue = mongo["cc_archive"]["queue"]
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
        async def send(i: int) -> str | None:
            r = await client.post(f"{WEB}/api/v1/complaints", json={
                "estate_id": "e-lakeside", "text": f"{TEXT}（{i}）",
                "complainant": {"name": "张三", "phone": "13812341234", "unit": "3栋2单元1201"}},
                headers={"X-Api-Key": _dev_web_key()})  # the app backend's key: no per-address limit
            return r.json()["complaint_id"] if r.status_code == 202 else None

        for rate in (*LOADS, None):
            n = SATURATION if rate is None else int(rate * SECONDS)
            sent, t0 = await offer(rate, n, send)
            await watch.until(sent, 120)
            label = "saturation" if rate is None else f"{rate}/s"
            results[label] = {"offered_per_s": rate, "assigned": summary(sent, watch.seen, t0)}
            print(f"  pipeline {label:>10}: {results[label]['assigned']}", flush=True)
            if rate in (LOADS[0], None):  # the archive is the slow stage: timed at the lowest load and flat out
                archived = await _archived(queue, sent, ARCHIVED_TIMEOUT)
                results[label]["archived"] = summary(sent, archived, t0)
                print(f"  pipeline {label:>10} archived: {results[label]['archived']}", flush=True)
    await watch.stop()
    await mongo.close()
    return results


async def _archived(queue, sent: dict[str, float], timeout: float) -> dict[str, float]:
    """When each case's queue entry first showed it assigned (the archive stamps changed_at)."""
    done: dict[str, float] = {}
    deadline = time.time() + timeout
    ids = list(sent)
    while time.time() < deadline and len(done) < len(ids):
        async for d in queue.find({"_id": {"$in": [i for i in ids if i not in done]}, "status": "assigned"},
                                  {"changed_at": 1}):
            done[d["_id"]] = d["changed_at"].timestamp()
        await asyncio.sleep(0.5)
    return done


def _dev_web_key() -> str:
    from deploy.dev_keys import dev_key

    return dev_key("web")


# ---- the floor -----------------------------------------------------------------------------------------------
async def floor(bootstrap: str, mongo_url: str) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    topics = [f"bench-floor-{run}.{t}" for t in ("received", "triaged", "assigned")]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    with contextlib.suppress(TopicAlreadyExistsError):
        await admin.create_topics([NewTopic(t, num_partitions=6, replication_factor=1) for t in topics])
    mongo = AsyncMongoClient(mongo_url, tz_aware=True, maxPoolSize=1)  # as the services run on FerretDB
    db = mongo[f"bench_floor_{run}"]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    watch = Watch(bootstrap, topics[2])
    await watch.start()
    archived: dict[str, float] = {}
    counts: dict[str, int] = {}

    async def stage(source: str, target: str, coll: str) -> None:
        c = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=f"floor-{run}-{coll}",
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        try:
            while True:
                for records in (await c.getmany(timeout_ms=200, max_records=200)).values():
                    for r in records:
                        key = r.key.decode()
                        await db[coll].replace_one({"_id": key}, {"_id": key, "body": r.value.decode(),
                                                                  "outbox": {"x": 1}}, upsert=True)
                        await producer.send_and_wait(target, r.value, key=r.key)
                        await db[coll].update_one({"_id": key}, {"$unset": {"outbox.x": ""}})
                await c.commit()
        finally:
            await c.stop()

    async def archive() -> None:
        c = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=f"floor-{run}-archive",
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        try:
            while True:
                for records in (await c.getmany(timeout_ms=200, max_records=200)).values():
                    for r in records:
                        key = r.key.decode()
                        for _ in range(4):
                            await db["cases"].find_one({"_id": key})
                        await db["cases"].update_one({"_id": key}, {"$push": {"events": r.topic}}, upsert=True)
                        await db["queue"].replace_one({"_id": key}, {"_id": key, "t": r.topic}, upsert=True)
                        await db["ledger"].update_one({"_id": key}, {"$set": {"head": r.offset}}, upsert=True)
                        await db["processed"].update_one({"_id": f"{key}:{r.topic}"}, {"$set": {"at": 1}},
                                                         upsert=True)
                        counts[key] = counts.get(key, 0) + 1
                        if counts[key] == 3:
                            archived[key] = time.time()
                await c.commit()
        finally:
            await c.stop()

    workers = [asyncio.create_task(stage(topics[0], topics[1], "triage")),
               asyncio.create_task(stage(topics[1], topics[2], "assignment")),
               asyncio.create_task(archive())]
    counter = 0

    async def send(i: int) -> str:
        nonlocal counter
        key = str(uuid.uuid4())
        body = json.dumps({"text": f"{TEXT}（{i}）", "estate_id": "e-lakeside"}, ensure_ascii=False).encode()
        await db["submissions"].insert_one({"_id": key, "body": body.decode(), "outbox": {"x": 1}})
        counter += 1
        await db["counters"].update_one({"_id": "day"}, {"$inc": {"seq": 1}}, upsert=True)
        await producer.send_and_wait(topics[0], body, key=key.encode())
        await db["submissions"].update_one({"_id": key}, {"$unset": {"outbox.x": ""}})
        return key

    results: dict[str, Any] = {}
    try:
        for rate in (*LOADS, None):
            n = SATURATION if rate is None else int(rate * SECONDS)
            sent, t0 = await offer(rate, n, send)
            await watch.until(sent, 120)
            label = "saturation" if rate is None else f"{rate}/s"
            results[label] = {"offered_per_s": rate, "assigned": summary(sent, watch.seen, t0)}
            deadline = time.time() + ARCHIVED_TIMEOUT
            while time.time() < deadline and not all(k in archived for k in sent):
                await asyncio.sleep(0.2)
            if rate in (LOADS[0], None):
                results[label]["archived"] = summary(sent, archived, t0)
            print(f"  floor    {label:>10}: {results[label]}", flush=True)
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await watch.stop()
        await producer.stop()
        await mongo.drop_database(db.name)
        await mongo.close()
        await admin.delete_topics(topics)
        await admin.close()
    return results


# ---- memory --------------------------------------------------------------------------------------------------
def rss_mib(pid: int) -> float:
    total = 0
    for p in stack.group_members(pid) or [pid]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def memory(st: stack.Stack) -> dict[str, float]:
    out = {}
    for name in (*stack.SERVICES, "kafka", "ferretdb", "postgres"):
        pid = stack.running_pid(st, name)
        if pid:
            out[name] = rss_mib(pid)
    out["whole stack"] = round(sum(out.values()), 1)
    return out


async def main() -> None:
    st = stack.default_stack()
    stack.up(st)
    print("pipeline (running center):", flush=True)
    pipe = await pipeline(st.bootstrap, st.mongo_url)
    print("floor (aiokafka + pymongo, same hops and writes):", flush=True)
    base = await floor(st.bootstrap, st.mongo_url)
    mem = memory(st)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"pipeline": pipe, "floor": base, "memory_mib": mem,
                               "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2, ensure_ascii=False))
    print(f"\n{'load':>11} {'stage':<9} {'pipeline /s':>11} {'floor /s':>9} {'ratio':>6}   "
          f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   {'floor p99':>9}")
    for label in pipe:
        for stage_name in ("assigned", "archived"):
            if stage_name not in pipe[label]:
                continue
            p, f = pipe[label][stage_name], base[label].get(stage_name, {})
            ratio = p["throughput"] / f["throughput"] if f.get("throughput") else float("nan")
            print(f"{label:>11} {stage_name:<9} {p['throughput']:>11.1f} {f.get('throughput', 0):>9.1f} "
                  f"{ratio:>6.2f}   {p['p50_ms'] or 0:>8.0f} {p['p95_ms'] or 0:>8.0f} {p['p99_ms'] or 0:>8.0f}   "
                  f"{f.get('p99_ms') or 0:>9.0f}")
    print("\nresident memory (MiB): " + ", ".join(f"{k} {v}" for k, v in mem.items()))
    print(f"written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
