"""Dispatch for a large group: directory import, rota, load balance, send-back, deadlines and escalation.

Each test onboards its own estates through the import API (as a group would), so loads and clocks of
one test never touch another's.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from openpyxl import Workbook

from shared.terms import SUBCATEGORY_OF
from shared.workcal import LOCAL_TZ
from tests.e2e.conftest import case_where, filed
from tests.helpers import complaint, eventually

ESTATE_HEADERS = ["区域编号", "区域名称", "项目编号", "项目名称", "城市", "项目经理", "工作时间"]
STAFF_HEADERS = ["staff_id", "name", "estate_id", "region_id", "department", "role", "shifts", "supervisor_id",
                 "on_duty", "max_open"]


def xlsx(headers: list[str], rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "项目"
    ws.append(headers)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def staff_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=STAFF_HEADERS)
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in STAFF_HEADERS})
    return ("\ufeff" + out.getvalue()).encode("utf-8")


async def upload(ops: httpx.AsyncClient, kind: str, name: str, data: bytes, **params) -> dict:
    r = await ops.post(f"/api/v1/directory/import/{kind}", params=params, files={"file": (name, data)}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


async def onboard(ops: httpx.AsyncClient, staff: list[dict[str, str]], *, tag: str | None = None) -> tuple[str, str]:
    """One new estate (in a new region) with the given staff; returns (estate id, region id)."""
    tag = tag or uuid.uuid4().hex[:8]
    estate, region = f"e-t{tag}", f"r-t{tag}"
    report = await upload(ops, "estates", "estate.xlsx", xlsx(ESTATE_HEADERS, [
        [region, f"测试区域{tag}", estate, f"测试小区{tag}", "杭州", f"s-{tag}-mgr", "08:00-18:00"]]))
    assert report["loaded"] == 1 and not report["errors"], report
    people = [{"staff_id": f"s-{tag}-mgr", "name": "项目经理", "estate_id": estate, "department": "service_desk",
               "role": "estate_manager"},
              {"staff_id": f"s-{tag}-rq", "name": "区域品质", "region_id": region, "role": "region_quality"},
              *[{**p, "staff_id": f"s-{tag}-{p['staff_id']}", "estate_id": estate,
                 "supervisor_id": f"s-{tag}-{p['supervisor_id']}" if p.get("supervisor_id") else ""} for p in staff]]
    report = await upload(ops, "staff", "staff.csv", staff_csv(people))
    assert report["loaded"] == len(people) and not report["errors"], report
    return estate, region


async def submit(web: httpx.AsyncClient, estate: str, text: str, n: int) -> str:
    """Submit once the web channel knows the new estate (it learns it from the directory events)."""
    body = complaint(estate_id=estate, text=text,
                     complainant={"name": "业主", "phone": f"139{uuid.uuid4().int % 10**8:08d}",
                                  "unit": f"{n + 1}栋1单元{n + 1}01"})

    async def attempt():
        r = await web.post("/api/v1/complaints", json=body)
        return r.json()["complaint_id"] if r.status_code == 202 else None

    return await eventually(attempt, timeout=20, what=f"web intake accepts {estate}")


async def route_everything_to(ops: httpx.AsyncClient, estate: str, department: str) -> None:
    rules = {"subcategory": {s: department for s in SUBCATEGORY_OF}, "category": {}, "invalid": department,
             "default": department}
    r = await ops.put(f"/api/v1/directory/estates/{estate}/routing", json=rules)
    assert r.status_code == 200, r.text


async def test_import_of_200_estates_loads_the_good_rows_and_reports_the_broken_one(ops, web):
    tag = uuid.uuid4().hex[:6]
    rows = [[f"r-b{tag}-{i // 50}", f"区域{i // 50}", f"e-b{tag}-{i:03d}", f"批量小区{i:03d}", "上海", "",
             "08:30-17:30"] for i in range(200)]
    rows[55][3] = ""  # spreadsheet row 57 (row 1 is the header): no estate name
    report = await upload(ops, "estates", "onboarding.xlsx", xlsx(ESTATE_HEADERS, rows))
    assert report["total_rows"] == 200 and report["loaded"] == 199
    assert [e["row"] for e in report["errors"]] == [57], report["errors"]

    listed = (await ops.get("/api/v1/directory/estates", params={"page_size": 1000})).json()
    ids = {e["id"] for e in listed["items"]}
    assert f"e-b{tag}-000" in ids and f"e-b{tag}-199" in ids and f"e-b{tag}-055" not in ids

    # the intake channels learn the new estates from the directory events
    cid = await submit(web, f"e-b{tag}-123", "楼道灯坏了一周了没人修", 1)
    case = await case_where(ops, cid, lambda c: c["status"] in ("assigned", "waiting"), timeout=20)
    assert case["estate_id"] == f"e-b{tag}-123"

    one = {"region_id": f"r-b{tag}-0", "estate": {"id": f"e-b{tag}-055", "name": "补录小区", "city": "上海"}}
    r = await ops.put(f"/api/v1/directory/estates/e-b{tag}-055", json=one)
    assert r.status_code == 200 and r.json()["region_name"] == "区域0", r.text
    taken = await ops.put("/api/v1/directory/estates/e-lakeside",
                          json={"region_id": "r-east", "estate": {"id": "e-other", "name": "x"}})
    assert taken.status_code == 422

    strict = await upload(ops, "estates", "again.xlsx", xlsx(ESTATE_HEADERS, [rows[0], rows[55]]),
                          mode="all_or_nothing")
    assert strict["loaded"] == 0 and [e["row"] for e in strict["errors"]] == [3]


async def test_emergency_at_night_goes_to_the_on_call_handler_and_their_supervisor(ops, web):
    """The test defines 'night' as the hours around now, so it holds whenever it runs."""
    now = datetime.now(LOCAL_TZ)
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=1)).strftime("%H:%M")
    tag = uuid.uuid4().hex[:8]
    for shift in ({"id": f"n{tag}", "name": "夜班", "start": start, "end": end, "days": "all"},
                  {"id": f"d{tag}", "name": "白班", "start": end, "end": start, "days": "all"}):
        r = await ops.put(f"/api/v1/directory/shifts/{shift['id']}", json=shift)
        assert r.status_code == 200, r.text
    estate, _ = await onboard(ops, [
        {"staff_id": "day", "name": "白班王", "department": "engineering", "role": "handler", "shifts": f"d{tag}"},
        {"staff_id": "night", "name": "夜班李", "department": "engineering", "role": "handler", "shifts": f"n{tag}",
         "supervisor_id": "sup"},
        {"staff_id": "sup", "name": "值班主管", "department": "engineering", "role": "supervisor",
         "shifts": f"n{tag};d{tag}"},
    ], tag=tag)
    sent = datetime.now(UTC)
    cid = await submit(web, estate, "3栋燃气管道泄漏，楼道里全是煤气味，非常危险", 3)
    case = await case_where(ops, cid, filed, timeout=15)
    assert case["severity"] == "emergency"
    assert case["assignee"]["staff_id"] == f"s-{tag}-night"
    assert case["supervisor_id"] == f"s-{tag}-sup" and case["notified"] == [f"s-{tag}-sup"]
    assigned_at = datetime.fromisoformat(case["assigned_at"])
    assert (assigned_at - sent).total_seconds() < 15
    assigned = [t for t in case["timeline"] if t["type"] == "ComplaintAssigned"]  # notices may file in between
    assert "同时通知" in assigned[0]["summary"]


async def test_general_complaints_spread_evenly_over_the_handlers_on_duty(ops, web):
    estate, _ = await onboard(ops, [
        {"staff_id": f"h{i}", "name": f"维修{i}", "department": "engineering", "role": "handler"} for i in range(3)
    ] + [{"staff_id": "off", "name": "休假", "department": "engineering", "role": "handler", "on_duty": "否"}])
    await route_everything_to(ops, estate, "engineering")
    texts = ["楼道灯坏了一周", "单元门禁坏了打不开", "车库顶灯不亮", "电梯按钮失灵", "水管漏水要修",
             "楼顶水箱响声很大", "窗户玻璃裂了", "垃圾房门坏了", "消防通道灯不亮"]
    ids = [await submit(web, estate, t, i) for i, t in enumerate(texts)]
    cases = [await case_where(ops, cid, filed, timeout=20) for cid in ids]
    per_person: dict[str, int] = {}
    for c in cases:
        per_person[c["assignee"]["staff_id"]] = per_person.get(c["assignee"]["staff_id"], 0) + 1
    assert sorted(per_person.values()) == [3, 3, 3], per_person
    assert all("least open work" in c["assignment_reason"] for c in cases)
    considered = cases[-1]["assignments"][0]["candidates"]
    assert {c["staff_id"].rsplit("-", 1)[1] for c in considered} == {"h0", "h1", "h2"}  # never the one on leave
    assert all(c["on_shift"] and c["cap"] == 8 for c in considered)


async def test_a_case_past_its_resolve_deadline_is_escalated_up_the_ladder(ops, web):
    estate, _ = await onboard(ops, [
        {"staff_id": "h", "name": "维修工", "department": "engineering", "role": "handler", "supervisor_id": "sup"},
        {"staff_id": "sup", "name": "工程主管", "department": "engineering", "role": "supervisor"}])
    fast = {"acknowledge": "1h", "first_response": "1h", "resolve": "4s", "mode": "24x7"}
    policy = {"emergency": fast, "major": fast, "general": fast, "minor": fast, "warn_at": 0.5}
    r = await ops.put(f"/api/v1/directory/estates/{estate}/sla", json=policy)
    assert r.status_code == 200, r.text
    cid = await submit(web, estate, "楼道灯坏了一周了没人修", 1)
    case = await case_where(ops, cid, lambda c: len(c.get("escalations", [])) >= 3, timeout=30,
                            what="three escalations")
    resolve = [e for e in case["escalations"] if e["clock"] == "resolve"]
    assert [(e["level"], e["role"]) for e in resolve] == [(1, "supervisor"), (2, "estate_manager"),
                                                          (3, "region_quality")]
    tag = estate.removeprefix("e-t")
    assert [e["to_staff_id"] for e in resolve] == [f"s-{tag}-sup", f"s-{tag}-mgr", f"s-{tag}-rq"]
    titles = [t["title"] for t in case["timeline"]]
    assert titles.count("督办 Escalated") == 3 and titles.count("预警 Deadline warning") == 1
    assert all(t["summary"].startswith("【督办】") for t in case["timeline"] if t["type"] == "ComplaintEscalated")
    assert case["escalation_level"] == 3


async def test_a_sent_back_case_is_rerouted_to_another_department(ops, web):
    estate, _ = await onboard(ops, [
        {"staff_id": "eng", "name": "维修工", "department": "engineering", "role": "handler"},
        {"staff_id": "desk", "name": "客服", "department": "service_desk", "role": "handler"}])
    cid = await submit(web, estate, "楼道灯坏了一周了没人修", 1)
    case = await case_where(ops, cid, filed)
    handler = case["assignee"]["staff_id"]
    assert case["assignee"]["department_id"] == "engineering"

    wrong = await ops.post(f"/api/v1/complaints/{cid}/send-back", json={"by": "someone-else", "reason": "不归我"})
    assert wrong.status_code == 409
    r = await ops.post(f"/api/v1/complaints/{cid}/send-back", json={"by": handler, "reason": "是物业费问题，不是维修"})
    assert r.status_code in (200, 202), r.text
    case = await case_where(ops, cid, lambda c: c.get("send_backs") and c["status"] == "assigned"
                            and c["assignee"]["staff_id"] != handler)
    assert case["assignee"]["department_id"] == "service_desk"
    assert case["send_backs"][0]["from_department"] == "engineering"
    assert [a["kind"] for a in case["assignments"]] == ["initial", "send_back"]

    # a supervisor gives it back by hand (改派)
    r = await ops.post(f"/api/v1/complaints/{cid}/reassign",
                       json={"by": "主管", "to_staff_id": handler, "reason": "查明确属维修"})
    assert r.status_code in (200, 202), r.text
    case = await case_where(ops, cid, lambda c: c["assignee"]["staff_id"] == handler)
    assert case["assignments"][-1]["kind"] == "reassign"


async def test_pause_stops_the_clocks_and_resume_moves_the_deadline(ops, web):
    estate, _ = await onboard(ops, [{"staff_id": "h", "name": "维修工", "department": "engineering",
                                     "role": "handler"}])
    cid = await submit(web, estate, "楼道灯坏了一周了没人修", 1)
    case = await case_where(ops, cid, filed)
    due = datetime.fromisoformat(case["sla"]["resolve_due"])
    r = await ops.post(f"/api/v1/complaints/{cid}/pause", json={"by": "客服", "reason": "业主出差，下周才能入户"})
    assert r.status_code in (200, 202), r.text
    paused = await case_where(ops, cid, lambda c: c.get("paused"))
    assert paused["next_due"] is None
    clocks = (await ops.get(f"/api/v1/complaints/{cid}/clocks")).json()
    assert clocks["next_timer_at"] is None and clocks["clocks"]["resolve"]["due_at"] is None
    assert (await ops.post(f"/api/v1/complaints/{cid}/pause", json={"by": "x", "reason": "again"})).status_code == 409
    r = await ops.post(f"/api/v1/complaints/{cid}/resume", json={"by": "客服"})
    assert r.status_code in (200, 202), r.text
    resumed = await case_where(ops, cid, lambda c: c.get("paused") is False and c.get("sla"))
    assert datetime.fromisoformat(resumed["sla"]["resolve_due"]) >= due
    titles = [t["title"] for t in resumed["timeline"]]
    assert "暂停计时 Clocks paused" in titles and "恢复计时 Clocks resumed" in titles


async def test_restarting_assignment_neither_loses_nor_repeats_a_timer(center, ops, web):
    estate, _ = await onboard(ops, [{"staff_id": "h", "name": "维修工", "department": "engineering",
                                     "role": "handler", "max_open": "20"}])
    fast = {"acknowledge": "1h", "first_response": "1h", "resolve": "6s", "mode": "24x7"}
    policy = {"emergency": fast, "major": fast, "general": fast, "minor": fast, "warn_at": 0.5}
    assert (await ops.put(f"/api/v1/directory/estates/{estate}/sla", json=policy)).status_code == 200
    ids = [await submit(web, estate, t, i) for i, t in enumerate(["楼道灯坏了一周", "单元门禁坏了", "车库顶灯不亮"])]
    for cid in ids:
        await case_where(ops, cid, filed)
    center.kill("assignment")  # kill -9 with every clock running: warnings and escalations fall due meanwhile
    try:
        await asyncio.sleep(8)
    finally:
        center.start("assignment")
    for cid in ids:
        await case_where(ops, cid, lambda c: len(c.get("escalations", [])) >= 3, timeout=40,
                         what="all three escalations after the restart")
    await asyncio.sleep(3)  # room for any duplicate to show up
    for cid in ids:
        case = (await ops.get(f"/api/v1/complaints/{cid}")).json()
        kinds = [(t["type"], t["summary"]) for t in case["timeline"]
                 if t["type"] in ("SlaWarning", "ComplaintEscalated")]
        assert len(kinds) == 4, kinds  # one warning, three levels: none lost, none twice
        assert [e["level"] for e in case["escalations"]] == [1, 2, 3]


async def test_a_full_handler_makes_cases_wait_and_the_oldest_goes_first_when_they_free_up(ops, web):
    estate, _ = await onboard(ops, [{"staff_id": "h", "name": "维修工", "department": "engineering",
                                     "role": "handler", "max_open": "1"}])
    await route_everything_to(ops, estate, "engineering")
    first = await submit(web, estate, "楼道灯坏了一周", 0)
    case = await case_where(ops, first, filed)
    second = await submit(web, estate, "单元门禁坏了打不开", 1)
    await case_where(ops, second, lambda c: c["status"] == "waiting", what="second case waits (cap 1)")
    third = await submit(web, estate, "车库顶灯不亮", 2)
    await case_where(ops, third, lambda c: c["status"] == "waiting")

    by = case["assignee"]["staff_id"]
    r = await ops.post(f"/api/v1/complaints/{first}/resolve", json={"note": "已修好", "by": by})
    assert r.status_code in (200, 202), r.text
    moved = await case_where(ops, second, filed, what="oldest waiting case assigned")
    assert moved["assignments"][-1]["kind"] == "from_queue"
    assert (await ops.get(f"/api/v1/complaints/{third}")).json()["status"] == "waiting"  # one at a time
