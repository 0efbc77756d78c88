"""The capacity plan's arithmetic, from the figures `make bench-scale` measured (.run/bench/scale.json).

`python -m benchmarks.capacity` prints, for each scenario, the peak rate, the instances of every service, the
partitions per topic, Kafka's and MongoDB's storage and the MongoDB shards, with every input named. The
scenarios' volumes are in SCENARIOS (sources in docs/capacity-plan.md); `--json` prints the same as JSON.

The rule: a service instance is given one core and planned at 60 % of it, so an instance carries
600 / (CPU ms per complaint) complaints a second; every service runs at least two instances (one may die), plus
one spare above what the peak needs. Measured CPU includes FerretDB's and PostgreSQL's (MongoDB's stand-in
here), which is an upper bound for MongoDB's own.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.native import stack

SCALE_JSON = stack.ROOT / ".run" / "bench" / "scale.json"
CORE_BUDGET_MS = 600.0  # CPU ms one instance may spend per second: 60 % of a core
SERVERS = ("kafka", "ferretdb", "postgres")


@dataclass(frozen=True)
class Scenario:
    name: str
    complaints_per_year: float
    peak_day_factor: float  # a peak day against an average day (DOMAIN.md: about 3x)
    peak_hour_share: float  # share of a day's complaints in its busiest hour
    online_years: float  # how long cases stay in the operational database before the cold archive
    note: str


SCENARIOS = (
    Scenario("largest property group (7,900 estates)", 7_900 * 500 * 1.0, 3.0, 0.12, 3.0,
             "7,900 estates x 500 households x 1 complaint per household a year"),
    Scenario("national hotline (30 M a year)", 30e6, 3.0, 0.10, 3.0,
             "tens of millions a year (Beijing 12345: 21.4 M in 2023)"),
)
KAFKA_RETENTION_DAYS = 7
KAFKA_REPLICAS = 3
MONGO_REPLICAS = 3
MONGO_INDEX_OVERHEAD = 0.35  # index bytes on top of documents, for the indexes the archive declares
SHARD_TB = 1.5  # data per shard (per replica set member) the plan allows before adding a shard
# the benchmark's complaints stop at "assigned": a case that runs its course (progress, resolution, callback,
# notices, close) adds about as many events and bytes again; an assumption until a lifecycle benchmark measures it
LIFECYCLE_FACTOR = 2.0


def plan(figures: dict[str, Any], s: Scenario) -> dict[str, Any]:
    phase = figures["phases"][0]  # one instance of each: the per-instance cost
    cpu: dict[str, float] = {k: v for k, v in phase["cpu_ms_per_complaint"].items() if k != "total"}
    per_day_peak = s.complaints_per_year / 365 * s.peak_day_factor
    peak_rate = per_day_peak * s.peak_hour_share / 3600
    instances = {}
    for service, ms in cpu.items():
        if service in SERVERS:
            continue
        carried = CORE_BUDGET_MS / ms if ms else math.inf
        instances[service] = {"cpu_ms_per_complaint": ms, "per_instance_per_s": round(carried, 1),
                              "instances": max(2, math.ceil(peak_rate / carried) + 1)}
    widest = max(v["instances"] for v in instances.values())
    partitions = next(p for p in (12, 24, 48, 96, 192) if p >= 2 * widest)
    foot = figures["footprint"]
    kafka_bytes = LIFECYCLE_FACTOR * sum(v["bytes_per_complaint"] for v in foot["kafka"].values())
    mongo_bytes = LIFECYCLE_FACTOR * sum(v["bytes_per_complaint"] for v in foot["mongodb"].values())
    kafka_tb = kafka_bytes * per_day_peak * KAFKA_RETENTION_DAYS * KAFKA_REPLICAS / 1e12
    mongo_tb_one_copy = mongo_bytes * (1 + MONGO_INDEX_OVERHEAD) * s.complaints_per_year * s.online_years / 1e12
    server_cores = sum(cpu.get(k, 0.0) for k in ("ferretdb", "postgres")) * peak_rate / 1000
    return {
        "scenario": s.name, "volume": s.note, "complaints_per_year": s.complaints_per_year,
        "peak_day": round(per_day_peak), "peak_rate_per_s": round(peak_rate, 2),
        "instances": instances, "partitions_per_topic": partitions,
        "lifecycle_factor": LIFECYCLE_FACTOR,
        "kafka": {"bytes_per_complaint": kafka_bytes, "retention_days": KAFKA_RETENTION_DAYS,
                  "storage_tb_with_replicas": round(kafka_tb, 3),
                  "brokers": 3, "cpu_cores_at_peak": round(cpu.get("kafka", 0.0) * peak_rate / 1000, 2)},
        "mongodb": {"bytes_per_complaint": mongo_bytes, "online_years": s.online_years,
                    "data_tb_one_copy": round(mongo_tb_one_copy, 2),
                    "shards": max(1, math.ceil(mongo_tb_one_copy / SHARD_TB)), "replicas_per_shard": MONGO_REPLICAS,
                    "cpu_cores_at_peak_upper_bound": round(server_cores, 2)},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity")
    parser.add_argument("--figures", type=Path, default=SCALE_JSON)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = json.loads(args.figures.read_text())
    plans = [plan(figures, s) for s in SCENARIOS]
    if args.json:
        print(json.dumps(plans, indent=2, ensure_ascii=False))
        return
    print(f"from {args.figures} (measured {figures.get('at')})")
    for p in plans:
        print(f"\n## {p['scenario']}: {p['volume']}")
        print(f"peak day {p['peak_day']:,} complaints; peak hour {p['peak_rate_per_s']} a second")
        print(f"{'service':<14} {'CPU ms/complaint':>16} {'per instance /s':>16} {'instances':>10}")
        for name, v in p["instances"].items():
            print(f"{name:<14} {v['cpu_ms_per_complaint']:>16.1f} {v['per_instance_per_s']:>16.1f} "
                  f"{v['instances']:>10}")
        k, m = p["kafka"], p["mongodb"]
        print(f"bytes per complaint: measured to 'assigned', x {p['lifecycle_factor']:g} for a whole case's life")
        print(f"partitions per topic {p['partitions_per_topic']}; Kafka {k['brokers']} brokers, "
              f"{k['bytes_per_complaint'] / 1024:.1f} KiB a complaint, {k['storage_tb_with_replicas']} TB for "
              f"{k['retention_days']} days x {KAFKA_REPLICAS} replicas, {k['cpu_cores_at_peak']} cores at peak")
        print(f"MongoDB {m['bytes_per_complaint'] / 1024:.1f} KiB a complaint, {m['data_tb_one_copy']} TB for "
              f"{m['online_years']:g} years online (one copy, with indexes): {m['shards']} shard(s) x "
              f"{m['replicas_per_shard']} members; at most {m['cpu_cores_at_peak_upper_bound']} cores at peak")


if __name__ == "__main__":
    main()
