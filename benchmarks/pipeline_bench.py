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
pymongo script in this process, on the same Kafka and MongoDB-wire server, measured in the same run. The
numbers are the pipeline's own, counted while it ran: each service's statements by database (the services'
`cc_db_statements_total`: a bulk write's each, ADR 22) and the messages each topic gained. The floor has one
stage per service on a complaint's path (FLOOR_PATH: intake, triage, assignment, followup, archive), consuming
the same topics in its own consumer group; per event a stage does its service's reads (find by key) and writes
(replace by key, upsert, one command each) per event consumed, and publishes as many messages as the service
did (the follow-up's notices), the last write after the publish as an outbox's clearing is. Fractions are
spread over events (`Share`).
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
from aiokafka.structs import TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from deploy.native import stack
from shared.mongo import CommandCounter

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
WRITE_COMMANDS = ("insert", "update", "delete", "findAndModify")
READ_COMMANDS = ("find", "aggregate", "count", "distinct")
# The floor's stages, one per service on a complaint's path: its database, the topics it consumes, the one it
# publishes to (the services' own subscriptions: services/*/entrypoints.py).
FLOOR_PATH: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "intake": ("cc_web_intake", (), "complaint.received"),
    "triage": ("cc_triage", ("complaint.received",), "complaint.triaged"),
    "assignment": ("cc_assignment", ("complaint.triaged",), "complaint.assigned"),
    "followup": ("cc_followup", ("complaint.received", "complaint.assigned"), "complaint.notice"),
    "archive": ("cc_archive", ("complaint.received", "complaint.triaged", "complaint.assigned",
                               "complaint.notice"), None),
}
FILED = ("complaint.received", "complaint.triaged", "complaint.assigned")  # the floor's "archived": all three


async def db_statements(st: stack.Stack) -> dict[str, dict[str, float]]:
    """Statements the services have sent so far, database → command → count, summed over every instance's
    `cc_db_statements_total` (a bulk write counts each of its documents: the floor writes them one by one)."""
    out: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for name in stack.running_instances(st):
            base, _, k = name.partition(".")
            r = await client.get(f"http://127.0.0.1:{stack.instance_port(base, int(k or 1))}/metrics")
            for family in text_string_to_metric_families(r.text):
                for sample in family.samples:
                    if sample.name == "cc_db_statements_total":
                        db = out.setdefault(sample.labels["database"], {})
                        command = sample.labels["command"]
                        db[command] = db.get(command, 0.0) + sample.value
    return out


async def topic_ends(bootstrap: str, prefix: str = "cc.") -> dict[str, int]:
    """Messages published so far to each topic of the center (dead-letter topics aside), topic → count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix) and not t.endswith(".dlq")]
        parts = [TopicPartition(t["topic"], p["partition"])
                 for t in await admin.describe_topics(names) for p in t["partitions"]]
        out: dict[str, int] = {}
        for tp, end in (await consumer.end_offsets(parts)).items():
            out[tp.topic[len(prefix):]] = out.get(tp.topic[len(prefix):], 0) + end
        return out
    finally:
        await consumer.stop()
        await admin.close()


def per_complaint(commands0: dict[str, dict[str, float]], commands1: dict[str, dict[str, float]],
                  ends0: dict[str, int], ends1: dict[str, int], complaints: int) -> dict[str, Any]:
    """What the pipeline did per complaint between two readings: writes and reads per database, messages per
    topic. The floor repeats exactly this (`FloorStage`)."""
    n = max(complaints, 1)
    out: dict[str, Any] = {"writes": {}, "reads": {}}
    for db in sorted(set(commands1) | set(commands0)):
        before = commands0.get(db, {})
        for kind, count in kinds({c: v - before.get(c, 0.0) for c, v in commands1.get(db, {}).items()}, n).items():
            if count:
                out[kind][db] = count
    out["messages"] = {t: round((ends1[t] - ends0.get(t, 0)) / n, 3) for t in sorted(ends1)
                       if ends1[t] - ends0.get(t, 0)}
    return out


def kinds(commands: dict[str, float], complaints: int) -> dict[str, float]:
    """Writes and reads among `commands` (command → count), per complaint."""
    return {kind: round(sum(commands.get(c, 0.0) for c in names) / complaints, 3)
            for kind, names in (("writes", WRITE_COMMANDS), ("reads", READ_COMMANDS))}


class Share:
    """A fractional count per event made whole: 1.78 per event is 1, 2, 2, 2, 1 … and exactly 1.78 on average."""

    def __init__(self, per_event: float) -> None:
        self.per_event, self.total = per_event, 0.5  # rounded, not cut: 0.999 per event is 1 the first time

    def take(self) -> int:
        before = int(self.total + 1e-9)
        self.total += self.per_event
        return int(self.total + 1e-9) - before


class FloorStage:
    """One service's share of a complaint's work, per event it consumes: reads, writes and publishes."""

    def __init__(self, name: str, work: dict[str, Any]) -> None:
        self.db, self.consumes, self.publishes = FLOOR_PATH[name]
        events = sum(work["messages"].get(t, 0.0) for t in self.consumes) or 1.0  # the intake: one, the send
        self.reads = Share(work["reads"].get(self.db, 0.0) / events)
        self.writes = Share(work["writes"].get(self.db, 0.0) / events)
        sends = work["messages"].get(self.publishes, 0.0) / events if self.publishes else 0.0
        if self.publishes in FILED:  # the complaint's path: one each, whatever a stray redelivery added
            sends = 1.0
        self.sends = Share(sends)


class Counted(CommandCounter):
    """The floor's own commands, to print beside the pipeline's: the same writes and reads, checked."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: dict[str, float] = {}

    def count(self, database: str, command: str, statements: int) -> None:
        self.commands[command] = self.commands.get(command, 0) + statements


async def floor(bootstrap: str, mongo_url: str, work: dict[str, Any]) -> dict[str, Any]:
    """`work`: what the pipeline did per complaint (`per_complaint`); each stage does its service's share."""
    missing = [t for _, consumes, _ in FLOOR_PATH.values() for t in consumes if not work["messages"].get(t)]
    if missing:
        raise RuntimeError(f"the pipeline published nothing to {sorted(set(missing))}: no floor to measure")
    run = uuid.uuid4().hex[:6]
    topic_names = sorted({t for _, consumes, publishes in FLOOR_PATH.values()
                          for t in (*consumes, *((publishes,) if publishes else ()))})
    topics = {t: f"bench-floor-{run}.{t}" for t in topic_names}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    with contextlib.suppress(TopicAlreadyExistsError):
        await admin.create_topics([NewTopic(t, num_partitions=6, replication_factor=1) for t in topics.values()])
    for _ in range(100):  # every partition led before anyone reads a position (else aiokafka logs and retries)
        described = await admin.describe_topics(list(topics.values()))
        if all(t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"]) for t in described):
            break
        await asyncio.sleep(0.1)
    stages = {name: FloorStage(name, work) for name in FLOOR_PATH}
    # one connection per stage, as each service has one on FerretDB (ADR 2)
    counted = {name: Counted() for name in stages}
    clients = {name: AsyncMongoClient(mongo_url, tz_aware=True, maxPoolSize=1, event_listeners=[counted[name]])
               for name in stages}
    colls = {name: c[f"bench_floor_{run}"][name] for name, c in clients.items()}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    watch = Watch(bootstrap, topics["complaint.assigned"])
    await watch.start()
    archived: dict[str, float] = {}
    filed: dict[str, set[str]] = {}

    async def do(name: str, key: str, body: bytes) -> None:
        """Read, write, publish, and the last write after the publish (an outbox mark cleared)."""
        stage, coll = stages[name], colls[name]
        reads, writes, sends = stage.reads.take(), stage.writes.take(), stage.sends.take()
        for _ in range(reads):
            await coll.find_one({"_id": key})
        for i in range(writes - 1 if sends else writes):
            await coll.replace_one({"_id": key}, {"_id": key, "body": body.decode(), "n": i}, upsert=True)
        for _ in range(sends):
            await producer.send_and_wait(topics[stage.publishes], body, key=key.encode())
        if sends and writes:
            await coll.replace_one({"_id": key}, {"_id": key, "n": writes}, upsert=True)

    async def consume(name: str) -> None:
        by_topic = {topics[t]: t for t in stages[name].consumes}
        c = AIOKafkaConsumer(*by_topic, bootstrap_servers=bootstrap, group_id=f"floor-{run}-{name}",
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        try:
            while True:
                for records in (await c.getmany(timeout_ms=200, max_records=200)).values():
                    for r in records:
                        key = r.key.decode()
                        await do(name, key, r.value)
                        if name == "archive" and by_topic[r.topic] in FILED:
                            seen = filed.setdefault(key, set())
                            seen.add(r.topic)
                            if len(seen) == len(FILED):
                                archived[key] = time.time()
                await c.commit()
        finally:
            await c.stop()

    workers = [asyncio.create_task(consume(name)) for name in stages if stages[name].consumes]

    async def send(i: int) -> str:
        key = str(uuid.uuid4())
        await do("intake", key, json.dumps(complaint(i), ensure_ascii=False).encode())
        return key

    async def filed_by(sent: dict[str, float]) -> dict[str, float]:
        deadline = time.time() + DRAIN_TIMEOUT
        while time.time() < deadline and not all(k in archived for k in sent):
            await asyncio.sleep(0.2)
        return archived

    try:
        results = await run_loads("floor", send, watch, filed_by)
        n = sum(r["assigned"]["n"] for r in results.values())
        did = {stages[name].db: kinds(c.commands, n) for name, c in counted.items()}
        print(f"per complaint, the floor: {did}", flush=True)
        results["per_complaint"] = did
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await watch.stop()
        await producer.stop()
        await clients["intake"].drop_database(f"bench_floor_{run}")
        for c in clients.values():
            await c.close()
        await admin.delete_topics(list(topics.values()))
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
    cpu0, statements0, ends0 = cpu_seconds(st), await db_statements(st), await topic_ends(st.bootstrap)
    pipe = await pipeline(st.bootstrap, st.mongo_url)
    done = sum(v["assigned"]["completed"] for v in pipe.values())
    cpu = cpu_per_complaint(cpu0, cpu_seconds(st), done)
    work = per_complaint(statements0, await db_statements(st), ends0, await topic_ends(st.bootstrap), done)
    print(f"per complaint, the pipeline: writes {work['writes']}, reads {work['reads']}, "
          f"messages {work['messages']}", flush=True)
    left = sorted(db for db in {*work["writes"], *work["reads"]} if db not in {v[0] for v in FLOOR_PATH.values()})
    print("floor (aiokafka + pymongo, the same writes, reads and messages per service on the complaint's path"
          + (f"; not repeated: {', '.join(left)}" if left else "") + "):", flush=True)
    base = await floor(st.bootstrap, st.mongo_url, work)
    mem = memory(st)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"pipeline": pipe, "floor": base, "per_complaint": work, "memory_mib": mem,
                               "cpu_ms_per_complaint": cpu,
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
