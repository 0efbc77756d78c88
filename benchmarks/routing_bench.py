"""Routing decisions per second on a large in-memory directory, beside a naive scan of all staff in the same run.

Run: python -m benchmarks.routing_bench [--estates 1000] [--staff 20000] [--decisions 20000] [--json]
Indexed = services.assignment.domain route() + pick_handler() on OrgDirectory's indexes. Naive = the same route(),
then the same picking policy on `org.staff` (every person) filtered by estate and department for each decision.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import tracemalloc
from collections import deque
from datetime import datetime

import yaml

from services.assignment.domain import pick_handler, route
from shared.org import ROOT, OrgDirectory, OrgSeed
from shared.terms import SUBCATEGORY_OF
from shared.workcal import LOCAL_TZ

# 19 places per estate after the manager; the first of a department in the bigger ones is its supervisor
PATTERN = ["engineering", "security", "service_desk", "cleaning", "engineering", "security", "finance", "greening",
           "engineering", "community", "cleaning", "service_desk", "security", "engineering", "finance", "greening",
           "cleaning", "engineering", "security"]
SUPERVISED = {"engineering", "security", "service_desk", "cleaning"}
SHIFTS = [(["day"], 40), (["night"], 20), (["day", "rest_day"], 25), ([], 15)]
MIX = {"repair": 18, "cleaning": 12, "security": 10, "parking": 10, "noise": 8, "service_fee": 8, "leak_downstairs": 6,
       "lift": 5, "attitude": 5, "greening": 4, "other": 4, "decoration": 3, "pets": 3, "common_space": 3,
       "parking_fee": 3, "invoice": 2, "shared_utility": 2, "illegal_building": 2, "activity": 1, "activity_noise": 1}
EMERGENCIES = [s for s, c in SUBCATEGORY_OF.items() if c == "emergency"]
BENCH_SKILLS = {"lift": "lift", "lift_entrapment": "lift", "gas": "gas"}  # the seed has none: exercise the skill path
TIMES = [datetime(2025, 11, 26, 10, 0, tzinfo=LOCAL_TZ), datetime(2025, 11, 26, 23, 0, tzinfo=LOCAL_TZ)]  # a Wednesday


def seed_dict(estates: int, staff: int, regions: int, rnd: random.Random) -> dict:
    """1 group, `regions` regions, `estates` estates and about `staff` people, as the YAML seed would read."""
    raw = yaml.safe_load((ROOT / "deploy/org_seed.yaml").read_text(encoding="utf-8"))
    g = raw["groups"][0]
    routing = {**g["routing"], "skills": {**BENCH_SKILLS, **g["routing"].get("skills", {})}}
    quality = 3 * regions
    per, extra = divmod(staff - quality, estates)
    shift_sets, shift_w = zip(*SHIFTS, strict=True)
    people: list[dict] = []
    region_list = [{"id": f"r-{r:02d}", "name": f"区域{r}", "estates": []} for r in range(regions)]
    for e in range(estates):
        eid = f"e-{e:04d}"
        region_list[e % regions]["estates"].append({"id": eid, "name": f"小区{e}", "manager_id": f"{eid}-mgr"})
        people.append({"id": f"{eid}-mgr", "name": "经理", "estate": eid, "department": "service_desk",
                       "role": "estate_manager"})
        seen: set[str] = set()
        for k in range(per + (e < extra) - 1):
            dept = PATTERN[k % len(PATTERN)]
            role = "supervisor" if dept in SUPERVISED and dept not in seen else "handler"
            seen.add(dept)
            skills = [s for s, p in (("lift", 0.3), ("gas", 0.2)) if dept == "engineering" and rnd.random() < p]
            people.append({"id": f"{eid}-{k:02d}", "name": "员工", "estate": eid, "department": dept, "role": role,
                           "skills": skills, "shifts": rnd.choices(shift_sets, shift_w)[0],
                           "on_duty": rnd.random() > 0.08})
    for r in range(regions):
        people += [{"id": f"r-{r:02d}-q{q}", "name": "品质", "region": f"r-{r:02d}", "role": "region_quality",
                    "shifts": rnd.choices(shift_sets, shift_w)[0]} for q in range(3)]
    group = {"id": g["id"], "name": g["name"], "regions": region_list, "routing": routing}
    return {"groups": [group], "departments": raw["departments"], "staff": people}


def inputs(org: OrgDirectory, n: int, rnd: random.Random) -> list[tuple]:
    """(estate, category, subcategory, valid, emergency, at): ~2% emergencies, ~4% invalid, times alternating."""
    ids, subs, weights = list(org.estates), list(MIX), list(MIX.values())
    out = []
    for i in range(n):
        emergency = rnd.random() < 0.02
        sub = rnd.choice(EMERGENCIES) if emergency else rnd.choices(subs, weights)[0]
        out.append((rnd.choice(ids), SUBCATEGORY_OF[sub], sub, rnd.random() > 0.04, emergency, TIMES[i % 2]))
    return out


def indexed(org: OrgDirectory, estate: str, cat: str, sub: str, valid: bool, emergency: bool, at: datetime,
            load: dict[str, int]) -> tuple[str | None, str]:
    pick = pick_handler(org, estate, route(org, estate, cat, sub, valid), load, at, emergency=emergency)
    return (pick.person.id if pick.person else None), pick.supervisor_id


def naive(org: OrgDirectory, estate: str, cat: str, sub: str, valid: bool, emergency: bool, at: datetime,
          load: dict[str, int]) -> tuple[str | None, str]:
    """pick_handler's policy, finding each department's people by scanning everyone in the directory."""
    r = route(org, estate, cat, sub, valid)
    group, est = org.estates[estate]
    everyone = org.staff
    for dept in dict.fromkeys([r.department, org.routing_for(estate).default]):
        staff = [s for s in everyone if s.estate == estate and s.department == dept]
        handlers = [s for s in staff if s.role == "handler" and s.on_duty] or [s for s in staff if s.on_duty]
        if not handlers:
            continue
        if not emergency:  # on-call shifts take emergencies only
            handlers = [s for s in handlers if not org.only_on_call(s)] or handlers
        pool = [s for s in handlers if org.on_duty(s, at, on_call=emergency)] or ([] if emergency else handlers)
        if not pool:
            continue
        pool = [s for s in pool if r.skill and r.skill in s.skills] or pool
        cap = group.max_open_per_person
        under = pool if emergency else [s for s in pool if load.get(s.id, 0) < (s.max_open or cap)]
        if not under:
            return None, ""
        chosen = min(under, key=lambda s: (load.get(s.id, 0), s.id))
        if chosen.supervisor_id and org.person(chosen.supervisor_id):
            return chosen.id, chosen.supervisor_id
        sups = [s for s in staff if s.role == "supervisor"]
        on = [s for s in sups if org.on_duty(s, at)] or sups
        return chosen.id, min(s.id for s in on) if on else est.manager_id if est.manager_id != chosen.id else ""
    return (est.manager_id, "") if org.person(est.manager_id) else (None, "")


def run(decide, org: OrgDirectory, cases: list[tuple], backlog: int) -> float:
    """Seconds for all decisions; the load grows with each assignment and the oldest open case is closed past
    `backlog` open cases, as the service's open-case count would."""
    load: dict[str, int] = {}
    open_cases: deque[str] = deque()
    t0 = time.perf_counter()
    for c in cases:
        person, _ = decide(org, *c, load)
        if person:
            load[person] = load.get(person, 0) + 1
            open_cases.append(person)
            if len(open_cases) > backlog:
                load[open_cases.popleft()] -= 1
    return time.perf_counter() - t0


def agreement(org: OrgDirectory, cases: list[tuple]) -> float:
    """Share of decisions where both name the same person and supervisor from the same load."""
    load: dict[str, int] = {}
    same = 0
    for c in cases:
        a = indexed(org, *c, load)
        same += a == naive(org, *c, load)
        if a[0]:
            load[a[0]] = load.get(a[0], 0) + 1
    return same / len(cases)


def build(raw: dict, index: bool) -> tuple[float, float]:
    """(seconds, tracemalloc peak MiB) of validating the seed, and indexing it when `index`."""
    t0 = time.perf_counter()
    seed = OrgSeed.model_validate(raw)
    _ = OrgDirectory(seed) if index else seed
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    seed = OrgSeed.model_validate(raw)
    _ = OrgDirectory(seed) if index else seed
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--estates", type=int, default=1000)
    p.add_argument("--staff", type=int, default=20000)
    p.add_argument("--regions", type=int, default=20)
    p.add_argument("--decisions", type=int, default=20000)
    p.add_argument("--naive-decisions", type=int, help="decisions for the naive scan (default: decisions / 10)")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    a = p.parse_args()
    rnd = random.Random(7)
    raw = seed_dict(a.estates, a.staff, a.regions, rnd)
    build_s, build_mib = build(raw, True)
    seed_s, seed_mib = build(raw, False)
    org = OrgDirectory(OrgSeed.model_validate(raw))
    cases = inputs(org, a.decisions, rnd)
    n_naive = min(a.decisions, a.naive_decisions or max(200, a.decisions // 10))
    backlog = 4 * a.estates
    run(indexed, org, cases[:500], backlog)  # warm up (workday cache, shift lookups)
    fast = statistics.median(run(indexed, org, cases, backlog) for _ in range(3))
    slow = statistics.median(run(naive, org, cases[:n_naive], backlog) for _ in range(3))
    agree = agreement(org, cases[:min(2000, a.decisions)])
    rate, base = a.decisions / fast, n_naive / slow
    print(f"\ndirectory: 1 group, {len(org.regions)} regions, {len(org.estates)} estates, {len(org.staff_by_id)} "
          f"staff; routing of deploy/org_seed.yaml + skills {BENCH_SKILLS}")
    print(f"{'figure':<44} {'n':>6} {'value':>10}   {'baseline (same run)':<32} ratio")
    rows = [("routing decisions /s (indexed)", a.decisions, rate, base, "naive scan /s", ".0f"),
            ("µs per decision (median of 3 runs)", a.decisions, 1e6 / rate, 1e6 / base, "naive scan µs", ".1f"),
            ("directory build s (validate + index)", len(org.staff_by_id), build_s, seed_s, "validate seed only s",
             ".3f"),
            ("directory memory MiB (tracemalloc peak)", len(org.staff_by_id), build_mib, seed_mib, "seed only MiB",
             ".1f")]
    for name, n, value, b, b_name, f in rows:
        print(f"{name:<44} {n:>6} {value:>10{f}}   {b:>10{f}} {b_name:<21} {value / b:>6.2f}")
    print(f"same person and supervisor, indexed vs naive: {agree:.1%} of {min(2000, a.decisions)} decisions "
          f"(naive timed on {n_naive})")
    if a.json:
        print(json.dumps({"estates": len(org.estates), "staff": len(org.staff_by_id), "decisions": a.decisions,
                          "naive_decisions": n_naive, "indexed_per_s": round(rate, 1), "naive_per_s": round(base, 1),
                          "indexed_us": round(1e6 / rate, 2), "naive_us": round(1e6 / base, 2),
                          "build_s": round(build_s, 3), "seed_only_s": round(seed_s, 3),
                          "build_peak_mib": round(build_mib, 1), "seed_only_peak_mib": round(seed_mib, 1),
                          "agreement": round(agree, 4)}))


if __name__ == "__main__":
    main()
