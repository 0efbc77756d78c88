"""One instance of every service against two, in one run (`make bench-scale`).

The running center (`make up`, started if needed) takes CC_BENCH_STAGE complaints (200) at an offered 10 per
second and at saturation, through the web intake, with one instance of each service; then a second instance of
each service starts (`make up SCALE=2` does the same), its consumer groups rebalance, and the same loads go
through both web-intake instances in turn; then one instance of each again. Each load is drained before the
next (see pipeline_bench). The third phase says how much of a difference between the first two comes from the
database having grown (FerretDB v1 scans) rather than from the number of instances.
Printed side by side: throughput and latency intake → assigned and → archived, and the CPU each service (all its
instances) and each server spent per complaint, the figure the capacity plan (docs/capacity-plan.md) scales
from. Written to .run/bench/scale.json. Everything runs on this one machine: a second instance adds processes,
not cores, and the database holds the first phase's cases during the second.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from benchmarks.footprint import kafka_footprint, mongo_footprint
from benchmarks.pipeline_bench import WEB, cpu_per_complaint, cpu_seconds, memory, pipeline
from deploy.native import stack

OUT = stack.ROOT / ".run" / "bench" / "scale.json"
LOADS = (10, None)
SETTLE_SECONDS = 20  # for the consumer groups to rebalance over the new instances


def _set_instances(st: stack.Stack, n: int) -> None:
    """Instance 1 of each service stays; instance 2 runs when n is 2."""
    for name in stack.SERVICES:
        if n >= 2:
            stack.start_service(st, name, wait=False, instance=2)
        else:
            stack.stop(st, stack.instance_name(name, 2))
    for name in stack.SERVICES:
        for k in range(1, n + 1):
            port = stack.instance_port(name, k)
            stack.wait_for(lambda p=port: stack.healthy(p), 90, stack.instance_name(name, k))


async def phase(st: stack.Stack, n: int) -> dict[str, Any]:
    await asyncio.to_thread(_set_instances, st, n)
    await asyncio.sleep(SETTLE_SECONDS)
    webs = tuple(f"http://127.0.0.1:{stack.instance_port('web_intake', k)}" for k in range(1, n + 1))
    print(f"{n} instance(s) of every service (web intake at {', '.join(webs)}):", flush=True)
    cpu0 = cpu_seconds(st)
    results = await pipeline(st.bootstrap, st.mongo_url, webs=webs, loads=LOADS)
    done = sum(v["assigned"]["completed"] for v in results.values())
    return {"instances": n, "loads": results, "cpu_ms_per_complaint": cpu_per_complaint(cpu0, cpu_seconds(st), done),
            "memory_mib": memory(st)}


async def main() -> None:
    st = stack.default_stack()
    stack.up(st)
    assert WEB.endswith(str(stack.SERVICES["web_intake"]))
    phases = []
    try:
        for n in (1, 2, 1):
            phases.append(await phase(st, n))
    finally:
        await asyncio.to_thread(_set_instances, st, 1)
    footprint = {"mongodb": await mongo_footprint(st.mongo_url), "kafka": await kafka_footprint(st.bootstrap)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"phases": phases, "footprint": footprint, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                              indent=2, ensure_ascii=False))
    print(f"\n{'instances':>9} {'load':>11} {'stage':<9} {'per s':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for ph in phases:
        for label, r in ph["loads"].items():
            for stage_name in ("assigned", "archived"):
                s = r[stage_name]
                print(f"{ph['instances']:>9} {label:>11} {stage_name:<9} {s['throughput']:>6.1f} "
                      f"{s['p50_ms'] or 0:>8.0f} {s['p95_ms'] or 0:>8.0f} {s['p99_ms'] or 0:>8.0f}")
    names = list(phases[0]["cpu_ms_per_complaint"])
    print(f"\nCPU per complaint (ms)  {'':<4}" + " ".join(f"{n[:12]:>12}" for n in names))
    for ph in phases:
        print(f"{ph['instances']} instance(s) of each    " + " ".join(
            f"{ph['cpu_ms_per_complaint'].get(n, 0):>12.1f}" for n in names))
    for ph in phases:
        print(f"memory (PSS) with {ph['instances']}: whole stack {ph['memory_mib']['whole stack']} MiB")
    db_bytes = sum(v["bytes_per_complaint"] for v in footprint["mongodb"].values())
    kafka_bytes = sum(v["bytes_per_complaint"] for v in footprint["kafka"].values())
    print(f"per complaint: {db_bytes / 1024:.1f} KiB in MongoDB, {kafka_bytes / 1024:.1f} KiB on Kafka topics")
    print(f"written to {OUT}; the capacity plan from it: python -m benchmarks.capacity")


if __name__ == "__main__":
    asyncio.run(main())
