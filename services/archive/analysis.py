"""Periodic analysis (总结评价/会审): sums of the daily rollup documents over a period and a scope, and the
report dict the Excel/PDF builders print. The same function feeds the API and the files, so they agree.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.archive.rollups import RESOLVE_EDGES, RESPOND_EDGES, flatten, percentile, rollups
from shared.org import OrgDirectory
from shared.scope import Scope
from shared.terms import SEVERITY_ZH, zh
from shared.workcal import LOCAL_TZ

COUNTERS = ("received", "resolved", "closed", "reopened", "repeat", "emergency", "sla_met", "sla_breached",
            "surveyed", "satisfied", "unreachable")


def period_bounds(period: str) -> tuple[str, date, date]:
    """'2026-11' → a month; '2026-Q4' → a quarter. Returns (kind, start, end exclusive)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", period)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        if not 1 <= mo <= 12:
            raise ValueError(f"no month {mo}")
        return "month", date(y, mo, 1), date(y + (mo == 12), mo % 12 + 1, 1)
    m = re.fullmatch(r"(\d{4})-Q([1-4])", period.upper())
    if m:
        y, q = int(m.group(1)), int(m.group(2))
        end_month = q * 3 + 1
        return "quarter", date(y, q * 3 - 2, 1), date(y + (end_month > 12), (end_month - 1) % 12 + 1, 1)
    raise ValueError(f"period {period!r}: use YYYY-MM or YYYY-Qn")


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


async def rollup(db: AsyncDatabase, scope: Scope, start: date, end: date, *, estate_id: str | None = None,
                 region_estates: set[str] | None = None) -> dict[str, Any]:
    """Totals and breakdowns of complaints received in [start, end) within the scope."""
    flt: dict[str, Any] = {"group_id": scope.group_id, "day": {"$gte": start.isoformat(), "$lt": end.isoformat()}}
    docs = await rollups(db).find(flt, {"applied": 0}).to_list(None)
    per_estate: dict[str, dict[str, float]] = {}
    for d in docs:
        e = d["estate_id"]
        if not scope.allows(scope.group_id, e) or (estate_id and e != estate_id) or (
                region_estates is not None and e not in region_estates):
            continue
        acc = per_estate.setdefault(e, {})
        for k, v in flatten({k: v for k, v in d.items() if k not in ("_id", "group_id", "estate_id", "day",
                                                                       "month")}).items():
            acc[k] = acc.get(k, 0) + v
    total: dict[str, float] = {}
    for acc in per_estate.values():
        for k, v in acc.items():
            total[k] = total.get(k, 0) + v
    return {"start": start.isoformat(), "end": end.isoformat(), "totals": _figures(total), "per_estate": {
        e: _figures(acc) for e, acc in sorted(per_estate.items())}, "raw": total}


def _section(flat: dict[str, float], name: str) -> dict[str, float]:
    prefix = name + "."
    return {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix) and v}


def _figures(flat: dict[str, float]) -> dict[str, Any]:
    t = {k: int(flat.get(k, 0)) for k in COUNTERS}
    t["sla_compliance"] = _ratio(t["sla_met"], t["sla_met"] + t["sla_breached"])
    t["satisfaction_rate"] = _ratio(t["satisfied"], t["surveyed"])
    respond, resolve = _section(flat, "respond"), _section(flat, "resolve")
    t["respond_p50_min"] = percentile(respond, RESPOND_EDGES, 0.5)
    t["respond_p90_min"] = percentile(respond, RESPOND_EDGES, 0.9)
    t["resolve_p50_h"] = percentile(resolve, RESOLVE_EDGES, 0.5)
    t["resolve_p90_h"] = percentile(resolve, RESOLVE_EDGES, 0.9)
    for name in ("category", "channel", "severity", "subcategory", "satisfaction", "building"):
        t[f"by_{name}"] = {k: int(v) for k, v in sorted(_section(flat, name).items(), key=lambda kv: -kv[1])}
    return t


def _rows(counts: dict[str, int], label=zh, limit: int | None = None) -> list[dict[str, Any]]:
    rows = [{"key": k, "label": label(k), "count": v} for k, v in counts.items()]
    return rows[:limit] if limit else rows


async def report(db: AsyncDatabase, scope: Scope, org: OrgDirectory, period: str) -> dict[str, Any]:
    """The review-meeting report of a month or quarter, as the builders in services.archive.reports take it."""
    kind, start, end = period_bounds(period)
    data = await rollup(db, scope, start, end)
    t = data["totals"]
    group = org.group(scope.group_id)
    label = f"{start.year}年{start.month}月" if kind == "month" else f"{start.year}年第{(start.month + 2) // 3}季度"
    estates, regions = [], {}
    for e_id, f in data["per_estate"].items():
        estate = org.estate(e_id)
        region_id = org.region_of(e_id)
        region_name = org.regions[region_id][1].name if region_id in org.regions else ""
        estates.append({"key": e_id, "label": estate.name if estate else e_id, "region": region_name,
                        "received": f["received"], "resolved": f["resolved"], "sla_compliance": f["sla_compliance"],
                        "satisfaction_rate": f["satisfaction_rate"]})
        r = regions.setdefault(region_id, {"key": region_id, "label": region_name, "received": 0, "resolved": 0,
                                           "sla_met": 0, "sla_all": 0, "satisfied": 0, "surveyed": 0})
        for k in ("received", "resolved", "satisfied", "surveyed", "sla_met"):
            r[k] += f[k]
        r["sla_all"] += f["sla_met"] + f["sla_breached"]
    hotspots = []
    for e_id, f in data["per_estate"].items():
        estate = org.estate(e_id)
        for building, n in f["by_building"].items():
            top = next(iter(f["by_subcategory"]), "")
            hotspots.append({"estate": estate.name if estate else e_id, "building": building, "count": n,
                             "top": zh(top)})
    hotspots.sort(key=lambda h: -h["count"])
    return {
        "title": f"{group.name if group else scope.group_id} {label}投诉分析报告",
        "group": {"id": scope.group_id, "name": group.name if group else scope.group_id},
        "period": {"kind": kind, "label": label, "start": start.isoformat(), "end": end.isoformat()},
        "generated_at": datetime.now(LOCAL_TZ).isoformat(timespec="seconds"),
        "totals": {k: v for k, v in t.items() if not k.startswith("by_")},
        "by_region": [{"key": r["key"], "label": r["label"], "received": r["received"], "resolved": r["resolved"],
                       "sla_compliance": _ratio(r["sla_met"], r["sla_all"]),
                       "satisfaction_rate": _ratio(r["satisfied"], r["surveyed"])} for r in regions.values()],
        "by_estate": sorted(estates, key=lambda e: -e["received"]),
        "by_category": _rows(t["by_category"]),
        "by_channel": _rows(t["by_channel"]),
        "by_severity": _rows(t["by_severity"], label=lambda k: SEVERITY_ZH.get(k, k)),
        "top_subcategories": _rows(t["by_subcategory"], limit=10),
        "hotspots": hotspots[:10],
        "satisfaction": _rows(t["by_satisfaction"]),
    }
