"""The back half: callbacks, notices, the customer archive, tamper evidence, search and the month's report."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from datetime import datetime

import pypdfium2
from openpyxl import load_workbook
from pymongo import MongoClient

from deploy.demo_history import build
from tests.e2e.conftest import case_where, filed
from tests.helpers import complaint, eventually, types_of


def a_phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


async def operator_intake(ops, text: str, phone: str, receiver: str = "op-777", unit: str = "5栋1单元302") -> str:
    body = complaint(text=text, channel="phone", receiver=receiver,
                     complainant={"name": "赵女士", "phone": phone, "unit": unit})
    r = await ops.post("/api/v1/complaints", json=body)
    assert r.status_code == 202, r.text
    return r.json()["complaint_id"]


async def resolved(ops, cid: str) -> dict:
    case = await case_where(ops, cid, filed)
    r = await ops.post(f"/api/v1/complaints/{cid}/resolve", json={"note": "已处理", "by": case["assignee"]["staff_id"]})
    assert r.status_code in (200, 202), r.text
    return await case_where(ops, cid, lambda c: c["status"] == "resolved" and c.get("callback"))


async def test_a_resolved_case_gets_a_callback_task_and_three_failed_attempts_close_it(ops):
    cid = await operator_intake(ops, "楼道灯坏了一周了没人修", a_phone())
    case = await resolved(ops, cid)
    assert case["callback"]["owner"] == "op-777" and case["callback"]["attempt"] == 1  # 谁受理、谁回访
    due = datetime.fromisoformat(case["callback"]["due_at"])
    assert due > datetime.fromisoformat(case["resolutions"][0]["at"])
    listed = (await ops.get("/api/v1/callbacks", params={"owner": "op-777"})).json()
    assert cid in [c["complaint_id"] for c in listed]
    for attempt in (1, 2, 3):
        r = await ops.post(f"/api/v1/complaints/{cid}/callbacks",
                           json={"reached": False, "note": f"第{attempt}次无人接听", "by": "op-777"})
        assert r.status_code in (200, 202), r.text
        if attempt < 3:
            await case_where(ops, cid, lambda c, a=attempt: (c.get("callback") or {}).get("attempt") == a + 1)
    case = await case_where(ops, cid, lambda c: c["status"] == "closed")
    assert case["outcome"] == "unreachable"
    assert [(c["attempt"], c["reached"], c["by"]) for c in case["callbacks"]] == [
        (1, False, "op-777"), (2, False, "op-777"), (3, False, "op-777")]

    async def off_the_list() -> bool:  # the list is the archive's queue view, refreshed right after the record
        return cid not in [c["complaint_id"] for c in (await ops.get("/api/v1/callbacks")).json()]

    await eventually(off_the_list, what="the closed case leaving the callback list")


async def test_an_unsatisfied_callback_reopens_the_case_one_step_more_urgent(ops):
    cid = await operator_intake(ops, "楼道灯坏了一周了没人修", a_phone())
    before = await resolved(ops, cid)
    assert before["severity"] == "general"
    r = await ops.post(f"/api/v1/complaints/{cid}/callbacks",
                       json={"reached": True, "satisfaction": "unsatisfied", "note": "灯还是不亮", "by": "op-777"})
    assert r.status_code in (200, 202)
    case = await case_where(ops, cid, lambda c: filed(c) and c["round"] == 2)
    assert case["severity"] == "major" and case["reopen_reason"] == "灯还是不亮"


async def test_status_notices_go_by_sms_and_email_and_a_failed_one_is_retried(ops, web, sms_gateway, mail_sink):
    phone = a_phone()
    r = await web.post("/api/v1/complaints", json=complaint(
        text="楼道灯坏了一周了没人修", complainant={"name": "钱先生", "phone": phone, "unit": "8栋1单元101",
                                            "email": "qian@example.test"}))
    cid = r.json()["complaint_id"]
    tracking = r.json()["tracking_no"]
    await resolved(ops, cid)
    await ops.post(f"/api/v1/complaints/{cid}/callbacks", json={"reached": True, "satisfaction": "satisfied"})
    case = await case_where(ops, cid, lambda c: len([n for n in c.get("notices", []) if n["type"] == "NoticeSent"])
                            == 8, timeout=30, what="4 points × SMS and email delivered")
    sms = sms_gateway.for_ref(cid)
    assert sorted(m["ref"].split(":")[1] for m in sms) == ["assigned", "closed", "received", "resolved"]
    assert all(m["to"] == phone and tracking in m["text"] for m in sms)
    assert f"{cid}:resolved:1:sms" in sms_gateway.refused  # the gateway refused it once …
    retried = [n for n in case["notices"] if n["point"] == "resolved" and n["channel"] == "sms"]
    assert retried[0]["attempts"] == 2  # … and it went out on the retry, without holding the case up
    mails = mail_sink.for_case(cid)
    assert len(mails) == 4 and all(tracking in m.get_content() for m in mails)
    assert all(n["to_masked"] != phone for n in case["notices"])  # masked on the record


async def test_a_household_file_holds_its_phone_and_web_complaints(ops, web):
    phone = a_phone()
    by_phone = await operator_intake(ops, "电梯一直有异响", phone, unit="9栋2单元1502")
    r = await web.post("/api/v1/complaints", json=complaint(
        text="楼道灯坏了一周了没人修", complainant={"name": "孙女士", "phone": phone, "unit": "9-2-1502"}))
    by_web = r.json()["complaint_id"]

    async def both():
        found = (await ops.get("/api/v1/households/lookup", params={"phone": phone})).json()
        return found if {c["complaint_id"] for c in found.get("complaints", [])} >= {by_phone, by_web} else None

    file = await eventually(both, timeout=20, what="one household file with both complaints")
    assert {c["channel"] for c in file["complaints"]} == {"phone", "online"}
    assert file["type"] == "household" and file["phones"] == [f"{phone[:3]}****{phone[-4:]}"]
    by_unit = (await ops.get("/api/v1/households/lookup",
                             params={"unit": "9栋2单元1502", "estate_id": "e-lakeside"})).json()
    assert by_unit["file_id"] == file["file_id"]


async def test_a_communication_with_the_owners_committee_is_filed_in_its_archive(ops):
    tag = uuid.uuid4().hex[:6]
    name, key = f"湖畔花园业主委员会{tag}", f"comm-{tag}"
    r = await ops.post("/api/v1/communications", headers={"Idempotency-Key": key}, json={
        "estate_id": "e-lakeside", "place": "物业会议室", "counterpart_type": "owners_committee",
        "counterpart_name": name, "staff": "周建国", "matter": "讨论地下车库漏水维修方案和费用分摊",
        "result": "同意先维修后公示费用", "channel": "meeting"})
    assert r.status_code == 201, r.text
    again = await ops.post("/api/v1/communications", headers={"Idempotency-Key": key}, json={
        "estate_id": "e-lakeside", "counterpart_type": "owners_committee", "counterpart_name": name,
        "staff": "周建国", "matter": "重复提交"})
    assert again.status_code == 200 and again.json()["communication_id"] == r.json()["communication_id"]

    async def committee_file():
        files = (await ops.get("/api/v1/archive/files", params={"type": "owners_committee"})).json()
        return next((f["file_id"] for f in files if f["file_id"].endswith(name) and f["communications"]), None)

    file_id = await eventually(committee_file, timeout=20, what="the committee's file")
    detail = (await ops.get(f"/api/v1/archive/files/{file_id}")).json()
    assert [c["matter"] for c in detail["communications"]] == ["讨论地下车库漏水维修方案和费用分摊"]
    assert detail["communications"][0]["result"] == "同意先维修后公示费用"


async def test_a_communication_about_a_complaint_is_on_its_record(ops, web):
    cid = (await web.post("/api/v1/complaints", json=complaint(text="楼道灯坏了一周了没人修"))).json()["complaint_id"]
    await case_where(ops, cid, lambda c: c["status"] in ("assigned", "waiting"))
    r = await ops.post("/api/v1/communications", json={
        "estate_id": "e-lakeside", "place": "业主家中", "counterpart_type": "owner", "counterpart_name": "张三",
        "phone": "13812341234", "staff": "王师傅", "matter": "上门查看灯具", "result": "需更换镇流器，明天修",
        "channel": "visit", "complaint_id": cid})
    assert r.status_code == 201, r.text
    case = await case_where(ops, cid, lambda c: c.get("communications"))
    c = case["communications"][0]
    assert (c["place"], c["staff"], c["matter"], c["result"]) == ("业主家中", "王师傅", "上门查看灯具",
                                                                   "需更换镇流器，明天修")
    assert c["phone"] == "138****1234"


async def test_tampering_with_a_stored_timeline_entry_is_detected(ops, web, settings_env, prefix):
    cid = (await web.post("/api/v1/complaints", json=complaint(text="楼道灯坏了一周了没人修"))).json()["complaint_id"]
    # settled: received, triaged, assigned and both SMS notices filed, so nothing refiles it meanwhile
    await case_where(ops, cid, lambda c: len(types_of(c)) >= 3 and len(c.get("notices", [])) >= 2, timeout=30)
    first = (await ops.get(f"/api/v1/archive/verify/{cid}")).json()
    assert first["ok"] is True, first
    client = MongoClient(settings_env["CC_MONGO_URL"])
    try:
        cases = client[f"{prefix}_archive"]["cases"]
        doc = cases.find_one({"_id": cid})
        timeline = doc["timeline"]
        timeline[1]["summary"] = "无效投诉"  # someone rewrites history
        cases.update_one({"_id": cid}, {"$set": {"timeline": timeline}})
    finally:
        client.close()
    result = (await ops.get(f"/api/v1/archive/verify/{cid}")).json()
    assert result["ok"] is False and "entry 2" in result["problems"][0]
    # a later filing refolds the record from its events; the difference it found stays on record
    case = (await ops.get(f"/api/v1/complaints/{cid}")).json()
    await ops.post(f"/api/v1/complaints/{cid}/acknowledge", json={"by": case["assignee"]["staff_id"]})
    await case_where(ops, cid, lambda c: "acknowledge" in c.get("met", []))
    result = (await ops.get(f"/api/v1/archive/verify/{cid}")).json()
    assert result["ok"] is False and any("found when filing" in p and "entry 2" in p for p in result["problems"])
    cli = subprocess.run([sys.executable, "-m", "services.archive.verify", "--case", cid], capture_output=True,
                         text=True, env={**os.environ, **settings_env}, timeout=60)
    assert cli.returncode == 1 and "differs" in cli.stdout


async def test_search_by_chinese_keywords_and_by_complainant(ops, web):
    phone = a_phone()
    r = await web.post("/api/v1/complaints", json=complaint(
        text="卫生间天花板漏水严重，楼上一直不处理", complainant={"name": "周先生", "phone": phone, "unit": "2栋101"}))
    cid = r.json()["complaint_id"]
    await case_where(ops, cid, lambda c: c["status"] in ("assigned", "waiting"))
    for q in ("天花板 漏水", "漏水"):
        found = (await ops.get("/api/v1/complaints", params={"q": q, "complainant": phone})).json()
        assert [c["complaint_id"] for c in found["items"]] == [cid], q
    assert (await ops.get("/api/v1/complaints", params={"q": "电梯", "complainant": phone})).json()["total"] == 0
    today = datetime.now().date().isoformat()
    dated = (await ops.get("/api/v1/complaints", params={"complainant": phone, "received_to": "2020-01-01"})).json()
    assert dated["total"] == 0 and today


async def test_the_month_report_opens_as_excel_and_pdf_with_the_rollup_figures(ops):
    cases = build("2026-09", 30)
    r = await ops.post("/api/v1/archive/import", json={"source": "旧系统", "cases": cases})
    assert r.status_code == 202, r.text

    async def imported():
        data = (await ops.get("/api/v1/analysis/rollup", params={"period": "2026-09"})).json()
        return data if data["totals"]["received"] == 30 and data["totals"]["closed"] == 30 else None

    # the archive files ~10 events a second on FerretDB: 30 past cases are ~230 events
    rollup = (await eventually(imported, timeout=240, interval=1, what="30 imported cases in the rollups"))["totals"]
    report = (await ops.get("/api/v1/analysis/report", params={"period": "2026-09"})).json()
    assert report["totals"]["received"] == rollup["received"] == 30
    xlsx = await ops.get("/api/v1/analysis/report", params={"period": "2026-09", "format": "xlsx"})
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.content))
    overview = {row[0]: row[1] for row in wb["总览"].iter_rows(values_only=True) if row and row[0]}
    assert 30 in overview.values() and rollup["resolved"] in overview.values()
    pdf = await ops.get("/api/v1/analysis/report", params={"period": "2026-09", "format": "pdf"})
    assert pdf.content.startswith(b"%PDF")
    doc = pypdfium2.PdfDocument(pdf.content)
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "2026年9月" in text and "30" in text
    if rollup["satisfaction_rate"] is not None:
        assert f"{rollup['satisfaction_rate'] * 100:.1f}%" in text
    again = await ops.post("/api/v1/archive/import", json={"source": "旧系统", "cases": cases})
    assert again.status_code == 202
    assert (await ops.get("/api/v1/analysis/rollup", params={"period": "2026-09"})).json()["totals"][
        "received"] == 30  # importing twice counts once
