"""A complaint's whole life across the separate services: received → … → closed, and reopen."""

from __future__ import annotations

import json
from datetime import datetime

import httpx

from tests.e2e.conftest import case_where, filed
from tests.helpers import complaint, types_of

LIFECYCLE = ["ComplaintReceived", "ComplaintTriaged", "ComplaintAssigned", "ComplaintResolved",
             "FollowUpRecorded", "ComplaintClosed"]


async def submit(web, **kw) -> dict:
    r = await web.post("/api/v1/complaints", json=complaint(**kw))
    assert r.status_code == 202, r.text
    return r.json()


async def test_web_complaint_is_assigned_with_classification_assignee_and_sla(web, ops):
    accepted = await submit(web)
    assert accepted["tracking_no"].startswith("TS")

    case = await case_where(ops, accepted["complaint_id"], filed, timeout=10,
                            what="assigned within 10 s")
    case = await case_where(ops, accepted["complaint_id"], lambda c: len(types_of(c)) == 3)

    assert case["category"] == "service" and case["subcategory"] == "repair"
    assert case["severity"] == "general" and case["valid"] is True
    assert case["assignee"]["department_id"] == "engineering"
    assert set(case["sla"]) == {"acknowledge_due", "first_response_due", "resolve_due"}
    assert case["tracking_no"] == accepted["tracking_no"]
    assert types_of(case) == LIFECYCLE[:3]


async def test_resolve_and_satisfied_callback_close_the_case_with_every_step_in_order(web, ops):
    cid = (await submit(web))["complaint_id"]
    await case_where(ops, cid, filed)

    r = await ops.post(f"/api/v1/complaints/{cid}/resolve", json={"note": "已更换灯泡", "by": "s-lk-eng-1"})
    assert r.status_code in (200, 202), r.text
    await case_where(ops, cid, lambda c: c["status"] == "resolved")
    r = await ops.post(f"/api/v1/complaints/{cid}/callbacks",
                       json={"reached": True, "satisfaction": "satisfied", "note": "灯亮了"})
    assert r.status_code in (200, 202), r.text

    case = await case_where(ops, cid, lambda c: c["status"] == "closed" and len(types_of(c)) == 6)
    assert types_of(case) == LIFECYCLE
    # as instants: "…:01Z" (a whole second) sorts after "…:01.191000Z" as text
    times = [datetime.fromisoformat(t["at"]) for t in case["timeline"]]
    assert times == sorted(times)
    assert case["callbacks"][0]["satisfaction"] == "satisfied"


async def test_unsatisfied_callback_reopens_and_assigns_again(web, ops):
    cid = (await submit(web, estate_id="e-sunrise", text="电梯坏了三天没人修"))["complaint_id"]
    await case_where(ops, cid, filed)
    await ops.post(f"/api/v1/complaints/{cid}/resolve", json={"note": "已修复", "by": "s-sr-eng-1"})
    await case_where(ops, cid, lambda c: c["status"] == "resolved")

    await ops.post(f"/api/v1/complaints/{cid}/callbacks",
                   json={"reached": True, "satisfaction": "unsatisfied", "note": "还是坏的"})

    case = await case_where(ops, cid, lambda c: filed(c) and len(types_of(c)) == 7,
                            what="reopened and assigned again in round 2")
    assert case["round"] == 2
    assert types_of(case)[3:] == ["ComplaintResolved", "FollowUpRecorded", "ComplaintReopened",
                                  "ComplaintAssigned"]
    assert case["reopen_reason"] == "还是坏的"


async def test_operator_intake_by_phone_records_channel_and_receiver(ops):
    body = complaint(text="小区门口垃圾堆了三天没人清理", channel="phone", receiver="op-001")
    r = await ops.post("/api/v1/complaints", json=body)
    assert r.status_code == 202, r.text
    case = await case_where(ops, r.json()["complaint_id"], filed)
    assert case["channel"] == "phone" and case["receiver"] == "op-001"
    assert case["subcategory"] == "cleaning"
    assert r.json()["tracking_no"][10] == "O"


async def test_queue_lists_in_scope_by_nearest_deadline_with_masked_personal_data(web, ops):
    ids = [(await submit(web, text=t))["complaint_id"] for t in ("厨房燃气味很重", "建议多种点花")]
    for cid in ids:
        await case_where(ops, cid, filed)

    r = await ops.get("/api/v1/complaints", params={"estate_id": "e-lakeside", "status": "assigned",
                                                    "page_size": 100})
    assert r.status_code == 200
    items = r.json()["items"]
    dues = [i["next_due"] for i in items]
    assert dues == sorted(dues)
    mine = [i for i in items if i["complaint_id"] in ids]
    assert mine[0]["severity"] == "emergency"  # 15-minute clock comes first
    assert all(i["complainant"]["phone"] == "138****1234" for i in mine)
    assert "13812341234" not in r.text


async def test_other_estates_are_invisible_to_a_signed_in_operator(web, ops, center, tokens):
    cid = (await submit(web))["complaint_id"]  # a Lakeside case
    await case_where(ops, cid, filed)
    async with httpx.AsyncClient(base_url=center.url("operator_api"), timeout=15,
                                 headers={"Authorization": f"Bearer {tokens['op-sr']}"}) as sunrise:
        assert (await sunrise.get(f"/api/v1/complaints/{cid}")).status_code == 404
        listed = (await sunrise.get("/api/v1/complaints", params={"page_size": 100})).json()
        assert cid not in [i["complaint_id"] for i in listed["items"]]
        r = await sunrise.post(f"/api/v1/complaints/{cid}/resolve", json={"note": "x", "by": "y"})
        assert r.status_code == 404
        estates = (await sunrise.get("/api/v1/estates")).json()
        assert [e["id"] for e in estates] == ["e-sunrise"]


async def test_commands_in_the_wrong_state_are_refused_with_409(web, ops):
    cid = (await submit(web))["complaint_id"]
    await case_where(ops, cid, filed)
    r = await ops.post(f"/api/v1/complaints/{cid}/callbacks", json={"reached": True, "satisfaction": "satisfied"})
    assert r.status_code == 409
    assert "resolved" in r.json()["detail"]


async def test_bad_input_gets_a_clear_4xx_and_is_kept(web, infra, prefix):
    from pymongo import AsyncMongoClient

    r = await web.post("/api/v1/complaints", json={"estate_id": "e-lakeside", "text": "", "marker": "m-1"})
    assert r.status_code == 422
    assert "complainant" in r.json()["message"] and "text" in r.json()["message"]
    r = await web.post("/api/v1/complaints", content=b"\xff\xfe m-2", headers={"content-type": "application/json"})
    assert r.status_code in (400, 422)
    r = await web.post("/api/v1/complaints", json=complaint(estate_id="e-nowhere", demand="m-3"))
    assert r.status_code == 422 and "e-nowhere" in r.json()["detail"]

    client = AsyncMongoClient(infra.mongo_url)
    kept = await client[f"{prefix}_web_intake"]["rejected"].find({}).to_list(None)
    await client.close()
    raws = " ".join(k["raw"] for k in kept)
    assert all(m in raws for m in ("m-1", "m-2", "m-3"))


async def test_same_idempotency_key_makes_one_complaint(web):
    headers = {"Idempotency-Key": "app-req-42"}
    first = await web.post("/api/v1/complaints", json=complaint(), headers=headers)
    again = await web.post("/api/v1/complaints", json=complaint(), headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["complaint_id"] == first.json()["complaint_id"]
    assert again.json()["duplicate"] is True


async def test_every_service_answers_healthz(center):
    import httpx

    async with httpx.AsyncClient() as c:
        for name in ("web_intake", "operator_api", "triage", "assignment", "followup", "archive"):
            r = await c.get(center.url(name) + "/healthz")
            assert r.status_code == 200 and r.json()["service"] == name


async def test_operator_api_serves_the_asyncapi_document(ops, center):
    doc = (await ops.get("/asyncapi.json")).json()
    assert doc["asyncapi"].startswith("3.")
    assert any(k.startswith(center.topic("complaint.received")) for k in doc["channels"])
    assert "ComplaintReceived" in doc["components"]["schemas"]


async def test_proxy_and_staff_relay_intake_record_who_passed_it_on(ops):
    proxy = complaint(text="替我母亲反映：楼下装修噪音太大", channel="proxy", receiver="op-002",
                      reported_by="李明（业主之子）")
    r = await ops.post("/api/v1/complaints", json=proxy)
    assert r.status_code == 202, r.text
    case = await case_where(ops, r.json()["complaint_id"], filed)
    assert case["channel"] == "proxy" and case["reported_by"] == "李明（业主之子）"

    missing = complaint(text="保洁员说3栋垃圾房满了", channel="staff_relay", receiver="op-002")
    r = await ops.post("/api/v1/complaints", json=missing)
    assert r.status_code == 422 and "reported_by" in r.json()["message"]


async def test_an_operators_correction_replaces_the_judgement_and_is_kept_for_training(web, ops, infra, prefix,
                                                                                     tmp_path):
    from services.triage.config import TriageSettings
    from services.triage.export_corrections import export

    r = await web.post("/api/v1/complaints", json=complaint(text="门口那块地方又被占了，东西堆得到处都是"))
    cid = r.json()["complaint_id"]
    await case_where(ops, cid, filed)

    bad = await ops.post(f"/api/v1/complaints/{cid}/classification",
                         json={"subcategory": "gas", "severity": "general", "valid": True, "by": "qa-01"})
    assert bad.status_code == 422
    r = await ops.post(f"/api/v1/complaints/{cid}/classification",
                       json={"subcategory": "common_space", "severity": "major", "valid": True,
                             "note": "第三次反映", "by": "qa-01"})
    assert r.status_code in (200, 202), r.text
    case = await case_where(ops, cid, lambda c: c.get("corrected_by") == "qa-01")
    assert (case["category"], case["subcategory"], case["severity"]) == ("neighbour", "common_space", "major")
    assert any("corrected by qa-01" in reason for reason in case["triage"]["reasons"])

    out = tmp_path / "corrections.jsonl"
    settings = TriageSettings(mongo_url=infra.mongo_url, db_prefix=prefix)
    assert await export(settings, out) >= 1
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    mine = [line for line in lines if line["id"] == f"corr-{cid}"]
    assert mine and mine[0]["subcategory"] == "common_space" and "堆得到处都是" in mine[0]["text"]


async def test_two_households_reporting_one_incident_are_linked_handled_once_and_resolved_together(web, ops):
    first = await web.post("/api/v1/complaints",
                           json=complaint(text="湖畔花园27栋地下室水管爆了，水哗哗往外冒，快来人"))
    root = first.json()["complaint_id"]
    await case_where(ops, root, filed)
    second = await web.post("/api/v1/complaints", json=complaint(
        text="湖畔花园27栋楼下水管爆裂，一楼都淹了快来人",
        complainant={"name": "钱七", "phone": "13600007777", "unit": "27栋1单元101"}))
    linked = await case_where(ops, second.json()["complaint_id"], filed)
    root_case = (await ops.get(f"/api/v1/complaints/{root}")).json()

    assert linked["duplicate_of"] == root and linked["severity"] == "emergency"
    assert linked["assignee"] == root_case["assignee"] and "并单" in linked["assignment_reason"]

    await ops.post(f"/api/v1/complaints/{root}/resolve", json={"note": "已关阀抢修", "by": "s-lk-eng-1"})
    done = await case_where(ops, linked["complaint_id"], lambda c: c["status"] == "resolved")
    assert "一并处理" in done["resolutions"][0]["note"]
