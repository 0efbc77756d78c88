"""The whole pipeline against the floor, in one run (`make bench-pipeline`; part of `make bench`).

Pipeline: the running center (`make up`, started if needed). Complaints are posted to the web intake at fixed
offered loads (open loop: a send every 1/rate seconds whatever the answers) and at saturation (32 in
flight), the same number at each (CC_BENCH_STAGE, 200), and each load's backlog is drained (assigned and
archived) before the next starts. First, CC_BENCH_WARMUP complaints (100) go through uncounted: a freshly
started Kafka spends its first minutes compiling its hot code (the JVM's C2 compiler took 65 ms of CPU a
second on an idle broker a minute after start), and the floor, measured after the pipeline, gets servers the
pipeline has warmed. Latency intake → assigned is the ComplaintAssigned record's Kafka
timestamp minus the moment the request was sent (same clock); → archived is when the archive's queue entry
first shows the case assigned (or waiting for a busy department).

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
import itertools
import json
import os
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
STAGE = int(os.environ.get("CC_BENCH_STAGE", "200"))  # complaints per load: the same count at every rate
WARMUP = int(os.environ.get("CC_BENCH_WARMUP", "100"))  # complaints through the pipeline before measuring
DRAIN_TIMEOUT = 600  # a stage's backlog must clear before the next load starts
OUT = stack.ROOT / ".run" / "bench" / "pipeline.json"
ESTATES = ("e-lakeside", "e-sunrise")
TEXTS = ("{u}楼道灯坏了一周了没人修，晚上回家很不安全，请尽快派人修好。",
         "{u}楼上每天晚上十一点以后还在装修，电钻声音很大，孩子没法睡觉。",
         "{u}卫生间天花板漏水，应该是楼上的管道坏了，已经泡坏了吊顶。",
         "{b}电梯这周停了三次，老人上下楼很困难，物业一直没有解释。",
         "小区门口的垃圾桶好几天没人清理了，味道很大，{u}业主反映。",
         "{u}的车位被别人的车占了，找保安也没人管。",
         "物业费收据开错了金额，{u}要求重新开发票。",
         "{b}门禁坏了，外人随便进出，晚上很不安全。",
         "绿化带的树枝挡住了{b}的窗户，请派人修剪一下。",
         "{u}家门口的消防通道堆满了杂物，请物业清理。")


def complaint(i: int) -> dict[str, Any]:
    """Varied, like a real day: two estates, many households, ten everyday problems (a fixed sequence)."""
    b = f"{1 + i * 7 % 12}栋"
    u = f"{b}{1 + i * 3 % 4}单元{1 + i * 5 % 18}0{1 + i % 4}"
    return {"estate_id": ESTATES[i % 2], "text": TEXTS[i * 13 % len(TEXTS)].format(u=u, b=b) + f"（{i}）",
            "complainant": {"name": "张三", "phone": f"138{(i * 7919) % 10**8:08d}", "unit": u}}


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


async def run_loads(name: str, send, watch: Watch, archived, loads: tuple[int | None, ...] = (*LOADS, None),
                    n: int | None = None) -> dict[str, Any]:
    """Each offered load in turn (None: saturation), `n` complaints each (STAGE), drained (assigned, then
    archived: `archived(sent)` → key → time) before the next."""
    results: dict[str, Any] = {}
    for rate in loads:
        sent, t0 = await offer(rate, n or STAGE, send)
        await watch.until(sent, DRAIN_TIMEOUT)
        label = "saturation" if rate is None else f"{rate}/s"
        results[label] = {"offered_per_s": rate, "assigned": summary(sent, watch.seen, t0)}
        results[label]["archived"] = summary(sent, await archived(sent), t0)
        print(f"  {name:<8} {label:>10}: {results[label]}", flush=True)
    return results


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
async def pipeline(bootstrap: str, mongo_url: str, webs: tuple[str, ...] = (WEB,),
                   loads: tuple[int | None, ...] = (*LOADS, None), n: int | None = None) -> dict[str, Any]:
    """The loads through the web intake; with several intake instances, round robin (a load balancer)."""
    watch = Watch(bootstrap, "cc.complaint.assigned")
    await watch.start()
    mongo = AsyncMongoClient(mongo_url, tz_aware=True)
    queue = mongo["cc_archive"]["queue"]
    key = _dev_web_key()
    numbers = itertools.count(int(time.time()) % 100_000 * 100)  # a fresh slice of households each run
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
        async def send(i: int) -> str | None:
            r = await client.post(f"{webs[i % len(webs)]}/api/v1/complaints", json=complaint(next(numbers)),
                                  headers={"X-Api-Key": key})  # the app backend's key: no per-address limit
            return r.json()["complaint_id"] if r.status_code == 202 else None

        results = await run_loads("pipeline", send, watch, lambda sent: _archived(queue, sent, DRAIN_TIMEOUT),
                                  loads, n)
    await watch.stop()
    await mongo.close()
    return results


async def _archived(queue, sent: dict[str, float], timeout: float) -> dict[str, float]:
    """When each case's queue entry first showed it assigned (the archive stamps changed_at)."""
    done: dict[str, float] = {}
    deadline = time.time() + timeout
    ids = list(sent)
    while time.time() < deadline and len(done) < len(ids):
        async for d in queue.find({"_id": {"$in": [i for i in ids if i not in done]}}, {"changed_at": 1, "status": 1}):
            if d.get("status") in ("assigned", "waiting"):  # with a person, or queued for a busy department
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
    # one connection per stage, as each service has one on FerretDB (ADR 2)
    clients = {stage: AsyncMongoClient(mongo_url, tz_aware=True, maxPoolSize=1)
               for stage in ("intake", "triage", "assignment", "archive")}
    dbs = {stage: c[f"bench_floor_{run}"] for stage, c in clients.items()}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    watch = Watch(bootstrap, topics[2])
    await watch.start()
    archived: dict[str, float] = {}
    counts: dict[str, int] = {}

    async def consume(topic_names: list[str], group: str, handle) -> None:
        c = AIOKafkaConsumer(*topic_names, bootstrap_servers=bootstrap, group_id=f"floor-{run}-{group}",
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        try:
            while True:
                for records in (await c.getmany(timeout_ms=200, max_records=200)).values():
                    for r in records:
                        await handle(r)
                await c.commit()
        finally:
            await c.stop()

    def stage(target: str, coll: str):
        async def handle(r) -> None:  # save the case with its outbox mark, publish, clear the mark
            key = r.key.decode()
            db = dbs[coll]
            await db[coll].replace_one({"_id": key}, {"_id": key, "body": r.value.decode(), "outbox": {"x": 1}},
                                       upsert=True)
            await producer.send_and_wait(target, r.value, key=r.key)
            await db[coll].update_one({"_id": key}, {"$unset": {"outbox.x": ""}})
        return handle

    async def file(r) -> None:  # the archive's filing: read the record, append, queue entry, ledger, dedupe mark
        key, db = r.key.decode(), dbs["archive"]
        for _ in range(4):
            await db["cases"].find_one({"_id": key})
        await db["cases"].update_one({"_id": key}, {"$push": {"events": r.topic}}, upsert=True)
        await db["queue"].replace_one({"_id": key}, {"_id": key, "t": r.topic}, upsert=True)
        await db["ledger"].update_one({"_id": key}, {"$set": {"head": r.offset}}, upsert=True)
        await db["processed"].update_one({"_id": f"{key}:{r.topic}"}, {"$set": {"at": 1}}, upsert=True)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] == 3:
            archived[key] = time.time()

    workers = [asyncio.create_task(consume([topics[0]], "triage", stage(topics[1], "triage"))),
               asyncio.create_task(consume([topics[1]], "assignment", stage(topics[2], "assignment"))),
               asyncio.create_task(consume(topics, "archive", file))]
    async def send(i: int) -> str:
        key = str(uuid.uuid4())
        body = json.dumps(complaint(i), ensure_ascii=False).encode()
        db = dbs["intake"]
        await db["submissions"].insert_one({"_id": key, "body": body.decode(), "outbox": {"x": 1}})
        await db["counters"].update_one({"_id": "day"}, {"$inc": {"seq": 1}}, upsert=True)
        await producer.send_and_wait(topics[0], body, key=key.encode())
        await db["submissions"].update_one({"_id": key}, {"$unset": {"outbox.x": ""}})
        return key

    async def filed(sent: dict[str, float]) -> dict[str, float]:
        deadline = time.time() + DRAIN_TIMEOUT
        while time.time() < deadline and not all(k in archived for k in sent):
            await asyncio.sleep(0.2)
        return archived

    try:
        results = await run_loads("floor", send, watch, filed)
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await watch.stop()
        await producer.stop()
        await clients["intake"].drop_database(dbs["intake"].name)
        for c in clients.values():
            await c.close()
        await admin.delete_topics(topics)
        await admin.close()
    return results


# ---- memory --------------------------------------------------------------------------------------------------
def processes(pid: int) -> set[int]:
    """A server's processes: its process group and every descendant (PostgreSQL's backends start sessions of
    their own, so the group alone misses them)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found = {pid, *stack.group_members(pid)}
    grew = True
    while grew:
        more = {child for child, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def rss_mib(pid: int) -> float:
    """Memory of a server's processes: proportional set size (shared pages split among the processes sharing
    them, so PostgreSQL's shared buffers count once), or resident size where PSS cannot be read."""
    total = 0
    for p in processes(pid):
        for path, field in ((f"/proc/{p}/smaps_rollup", "Pss:"), (f"/proc/{p}/status", "VmRSS:")):
            try:
                lines = [ln for ln in Path(path).read_text().splitlines() if ln.startswith(field)]
            except OSError:
                continue
            if lines:
                total += int(lines[0].split()[1])
                break
    return round(total / 1024, 1)


def memory(st: stack.Stack) -> dict[str, float]:
    out = {}
    for name in (*stack.running_instances(st), "kafka", "ferretdb", "postgres"):
        pid = stack.running_pid(st, name)
        if pid:
            out[name] = rss_mib(pid)
    out["whole stack"] = round(sum(out.values()), 1)
    return out


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(st: stack.Stack) -> dict[str, float]:
    """CPU time (user + system) used so far by each service (all its instances) and each server."""
    out: dict[str, float] = {}
    for name in (*stack.running_instances(st), "kafka", "ferretdb", "postgres"):
        pid = stack.running_pid(st, name)
        if not pid:
            continue
        total = 0
        for p in processes(pid):
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        base = name.split(".")[0]
        out[base] = out.get(base, 0.0) + total / TICKS
    return out


def cpu_per_complaint(before: dict[str, float], after: dict[str, float], complaints: int) -> dict[str, float]:
    """Milliseconds of CPU each service (and server) spent per complaint between two readings."""
    out = {k: round((after[k] - before.get(k, 0.0)) * 1000 / max(complaints, 1), 1) for k in after}
    out["total"] = round(sum(out.values()), 1)
    return out


async def main() -> None:
    st = stack.default_stack()
    stack.up(st)
    if WARMUP:
        print(f"warm-up ({WARMUP} complaints flat out, not counted):", flush=True)
        await pipeline(st.bootstrap, st.mongo_url, loads=(None,), n=WARMUP)
    print("pipeline (running center):", flush=True)
    cpu0 = cpu_seconds(st)
    pipe = await pipeline(st.bootstrap, st.mongo_url)
    cpu = cpu_per_complaint(cpu0, cpu_seconds(st), sum(v["assigned"]["completed"] for v in pipe.values()))
    print("floor (aiokafka + pymongo, same hops and writes):", flush=True)
    base = await floor(st.bootstrap, st.mongo_url)
    mem = memory(st)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"pipeline": pipe, "floor": base, "memory_mib": mem, "cpu_ms_per_complaint": cpu,
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
    print("\nmemory (MiB, proportional set size): " + ", ".join(f"{k} {v}" for k, v in mem.items()))
    print("CPU per complaint (ms): " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
    print(f"written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
