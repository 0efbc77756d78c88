"""A month of past cases for the review-meeting report, imported as history (历史数据迁移) into the archive.

`python -m deploy.demo_history --month 2026-10 [--cases 240] [--api http://127.0.0.1:8000]` builds complete,
closed lifecycles (received → triaged → assigned → taken → resolved → callback → closed, with some repeats,
breaches, reopenings and unreachable complainants) for the seed group's estates and posts them to
`/api/v1/archive/import`. Ids derive from the month and a fixed seed: running it twice imports nothing new.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.workcal import LOCAL_TZ

GROUP = "g-hengan"
ESTATES = {"e-lakeside": ("LK", ["王师傅", "李师傅", "林小姐", "陈队长", "刘阿姨"]),
           "e-sunrise": ("SR", ["马师傅", "何队长", "高小姐"])}
# (text, category, subcategory, severity, department, staff index)
SAMPLES = [
    ("{b}栋楼道灯坏了一周没人修", "service", "repair", "general", "engineering", 0),
    ("{b}栋电梯又停了，老人上下楼很困难", "service", "lift", "major", "engineering", 1),
    ("楼上{b}栋装修噪音从早到晚", "neighbour", "noise", "general", "service_desk", 2),
    ("{b}栋门口垃圾两天没清运，味道很大", "service", "cleaning", "general", "cleaning", 4),
    ("物业费账单比去年多了两百元，要求说明", "fees", "service_fee", "minor", "finance", 2),
    ("地下车库{b}号车位被人长期占用", "service", "parking", "general", "security", 3),
    ("{b}栋卫生间天花板漏水，楼上不处理", "neighbour", "leak_downstairs", "general", "engineering", 0),
    ("{b}栋燃气有异味，请马上派人", "emergency", "gas", "emergency", "engineering", 1),
    ("保安态度很差，进门登记时出言不逊", "service", "attitude", "minor", "service_desk", 2),
    ("小区绿化带{b}栋旁的树枝挡住窗户", "service", "greening", "minor", "greening", 4),
]
CHANNELS = [("phone", 40), ("online", 30), ("visit", 10), ("letter", 6), ("mailbox", 5), ("fax", 4), ("email", 5)]
SATISFACTION = [("very_satisfied", 35), ("satisfied", 40), ("fairly_satisfied", 12), ("neutral", 8),
                ("unsatisfied", 5)]
SLA_H = {"emergency": 24, "major": 48, "general": 120, "minor": 72}
DEPT_ZH = {"engineering": "工程维修部", "service_desk": "客服中心", "cleaning": "环境保洁部", "finance": "收费部",
           "security": "秩序安保部", "greening": "绿化部"}


def _pick(rnd: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rnd.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def lifecycle(month: str, n: int, rnd: random.Random) -> list[dict[str, Any]]:
    """Events of one past case, as envelopes."""
    year, mon = map(int, month.split("-"))
    start = datetime(year, mon, 1, 8, tzinfo=LOCAL_TZ)
    days = ((datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=LOCAL_TZ) - start).days or 28)
    received = start + timedelta(days=rnd.randrange(days), minutes=rnd.randrange(12 * 60))
    estate = rnd.choice(sorted(ESTATES))
    code, staff = ESTATES[estate]
    text, cat, sub, sev, dept, who = rnd.choice(SAMPLES)
    building = rnd.randint(1, 12)
    cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-history/{month}/{n}"))
    seq = 0

    def ev(kind: str, at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal seq
        seq += 1
        return {"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cid}/{seq}")), "type": kind,
                "schema_version": 1, "occurred_at": at.astimezone(UTC).isoformat(), "correlation_id": cid,
                "group_id": GROUP, "estate_id": estate, "complaint_id": cid, "payload": payload}

    phone = f"139{rnd.randrange(10**8):08d}"
    channel = _pick(rnd, CHANNELS)
    out = [ev("ComplaintReceived", received, {
        "tracking_no": f"TS{received:%Y%m%d}H{n:04d}", "channel": channel, "received_at": received.isoformat(),
        "text": text.format(b=building), "demand": "尽快处理", "receiver": "op-001" if channel == "phone" else channel,
        "complainant": {"name": rnd.choice(["张先生", "李女士", "王阿姨", "陈先生"]), "phone": phone,
                        "unit": f"{building}栋{rnd.randint(1, 3)}单元{rnd.randint(1, 18)}0{rnd.randint(1, 4)}"}})]
    t = received + timedelta(minutes=rnd.randint(1, 3))
    repeat = rnd.random() < 0.06
    out.append(ev("ComplaintTriaged", t, {
        "category": cat, "subcategory": sub, "severity": sev, "valid": True, "responsibility": "ours",
        "responsible_party": "property", "confidence": 0.9, "reasons": ["历史数据 imported"],
        "link_kind": "repeat" if repeat else ""}))
    assignee = staff[min(who, len(staff) - 1)]
    due = received + timedelta(hours=SLA_H[sev])
    t += timedelta(minutes=rnd.randint(1, 5))
    out.append(ev("ComplaintAssigned", t, {
        "round": 1, "severity": sev, "reason": "历史派单 imported", "department": dept,
        "assignee": {"staff_id": f"s-{code.lower()}-{who}", "name": assignee, "department_id": dept,
                     "department_name": DEPT_ZH[dept]},
        "sla": {"acknowledge_due": (received + timedelta(hours=2)).isoformat(),
                "first_response_due": (received + timedelta(hours=24)).isoformat(), "resolve_due": due.isoformat()}}))
    t += timedelta(minutes=rnd.choice([3, 8, 15, 25, 40, 70, 150, 300]))
    out.append(ev("ProgressRecorded", t, {"step": "acknowledge", "by": assignee, "note": "", "late": False}))
    late = rnd.random() < 0.12
    hours = SLA_H[sev] * (rnd.uniform(1.05, 1.6) if late else rnd.uniform(0.05, 0.9))
    resolved = received + timedelta(hours=hours)
    out.append(ev("ComplaintResolved", resolved, {"round": 1, "note": "已处理完毕", "by": assignee}))
    called = resolved + timedelta(days=1)
    if rnd.random() < 0.07:  # not reached three times
        for a in (1, 2, 3):
            out.append(ev("FollowUpRecorded", called + timedelta(hours=5 * a), {
                "attempt": a, "reached": False, "note": "无人接听", "by": "op-002"}))
        out.append(ev("ComplaintClosed", called + timedelta(hours=16), {"outcome": "unreachable"}))
        return out
    level = _pick(rnd, SATISFACTION)
    out.append(ev("FollowUpRecorded", called, {"attempt": 1, "reached": True, "satisfaction": level,
                                               "note": "回访", "by": "op-002"}))
    if level == "unsatisfied":
        out.append(ev("ComplaintReopened", called + timedelta(minutes=1), {"round": 2, "reason": "仍未解决"}))
        out.append(ev("ComplaintResolved", called + timedelta(days=1), {"round": 2, "note": "返工完成",
                                                                        "by": assignee}))
        out.append(ev("FollowUpRecorded", called + timedelta(days=2), {
            "attempt": 1, "reached": True, "satisfaction": "satisfied", "note": "返工后回访", "by": "op-002"}))
        level = "satisfied"
    closed = datetime.fromisoformat(out[-1]["occurred_at"]) + timedelta(minutes=1)
    out.append(ev("ComplaintClosed", closed, {"outcome": "satisfied", "satisfaction": level}))
    return out


def build(month: str, cases: int, seed: int = 20261127) -> list[list[dict[str, Any]]]:
    rnd = random.Random(f"{seed}/{month}")
    return [lifecycle(month, n, rnd) for n in range(cases)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", help="YYYY-MM")
    parser.add_argument("--cases", type=int, default=240)
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--print", action="store_true", help="print the cases as JSON instead of posting")
    parser.add_argument("--report", metavar="PERIOD", help="instead: download the report of PERIOD as xlsx and pdf")
    parser.add_argument("--out", default="reports")
    parser.add_argument("--user", default="admin", help="development account to sign in with")
    parser.add_argument("--password", default=os.environ.get("CC_DEV_PASSWORD", "Hengan-dev-2026"))
    args = parser.parse_args()
    if args.month is None and not args.report:
        parser.error("--month or --report")
    if args.print:
        json.dump(build(args.month, args.cases), sys.stdout, ensure_ascii=False)
        return
    login = httpx.post(f"{args.api}/api/v1/auth/login", json={"username": args.user, "password": args.password},
                       timeout=30)
    login.raise_for_status()
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    if args.report:
        for fmt in ("xlsx", "pdf"):
            r = httpx.get(f"{args.api}/api/v1/analysis/report", params={"period": args.report, "format": fmt},
                          headers=auth, timeout=120)
            r.raise_for_status()
            path = Path(args.out) / f"complaints-{args.report}.{fmt}"
            path.write_bytes(r.content)
            print(path)
        return
    data = build(args.month, args.cases)
    for i in range(0, len(data), 100):
        r = httpx.post(f"{args.api}/api/v1/archive/import", json={"source": f"演示历史 {args.month}",
                                                                  "cases": data[i:i + 100]}, headers=auth, timeout=60)
        r.raise_for_status()
    print(f"imported {len(data)} past cases of {args.month} into the archive")


if __name__ == "__main__":
    main()
