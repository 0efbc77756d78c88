"""Sign-in, sessions, API keys, scope on every endpoint (BOLA), roles, and the audit of personal-data views."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import DEV_PASSWORD, case_where, filed
from tests.helpers import complaint, eventually

CASE_READS = ["", "/originals/0", "/clocks"]
CASE_COMMANDS = {
    "resolve": {"note": "x", "by": "y"}, "acknowledge": {"by": "y"}, "first-response": {"by": "y"},
    "send-back": {"by": "y", "reason": "不是我们的"}, "pause": {"by": "y", "reason": "等业主"},
    "resume": {"by": "y"}, "callbacks": {"reached": False},
    "classification": {"subcategory": "repair", "severity": "general", "valid": True, "by": "y"},
}


@pytest.fixture
async def lakeside_case(web, ops) -> str:
    cid = (await web.post("/api/v1/complaints", json=complaint(
        text="楼道灯坏了一周了没人修", complainant={"name": "张三", "phone": "13812341234",
                                          "unit": "3栋2单元1201"}))).json()["complaint_id"]
    await case_where(ops, cid, filed)
    return cid


def client(center, token: str | None = None, key: str | None = None) -> httpx.AsyncClient:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["X-Api-Key"] = key
    return httpx.AsyncClient(base_url=center.url("operator_api"), timeout=15, headers=headers)


async def test_sign_in_refuses_a_wrong_password_locks_after_five_and_signs_out(center, ops):
    name = f"op-{uuid.uuid4().hex[:6]}"
    r = await ops.post("/api/v1/admin/accounts", json={"username": name, "password": "Right-password-1",
                                                       "role": "operator", "estate_ids": ["e-sunrise"]})
    assert r.status_code == 201, r.text
    async with client(center) as anon:
        for _ in range(5):
            bad = await anon.post("/api/v1/auth/login", json={"username": name, "password": "wrong-password"})
            assert bad.status_code == 401 and "wrong" in bad.json()["detail"]
        locked = await anon.post("/api/v1/auth/login", json={"username": name, "password": "Right-password-1"})
        assert locked.status_code == 423  # even the right password, for 15 minutes
        ok = await anon.post("/api/v1/auth/login", json={"username": "op-sr", "password": DEV_PASSWORD})
        assert ok.status_code == 200 and "cc_session" in ok.headers["set-cookie"]
        assert "httponly" in ok.headers["set-cookie"].lower() and "samesite=strict" in ok.headers["set-cookie"].lower()
        token = ok.json()["token"]
    async with client(center, token) as me:
        assert (await me.get("/api/v1/auth/me")).json()["estate_ids"] == ["e-sunrise"]
        assert (await me.post("/api/v1/auth/logout")).status_code == 200
        assert (await me.get("/api/v1/complaints")).status_code == 401  # the token is gone


async def test_calls_without_a_session_or_key_are_refused(center, lakeside_case):
    async with client(center) as anon, client(center, token="ccs_forged") as forged, \
            client(center, key="cck_forged") as bad_key:
        for c in (anon, forged, bad_key):
            for path in ["/api/v1/complaints", f"/api/v1/complaints/{lakeside_case}", "/api/v1/callbacks",
                         "/api/v1/directory/estates", "/api/v1/analysis/rollup?period=2026-10",
                         "/api/v1/communications", "/api/v1/archive/files", "/api/v1/admin/audit"]:
                assert (await c.get(path)).status_code == 401, path
            r = await c.post(f"/api/v1/complaints/{lakeside_case}/resolve", json={"note": "x", "by": "y"})
            assert r.status_code == 401
            r = await c.post("/api/v1/complaints", json=complaint(channel="phone", receiver="x"))
            assert r.status_code == 401


async def test_an_operator_of_another_estate_gets_404_on_every_endpoint(center, ops, tokens, lakeside_case):
    async def household():  # filed just after the list entry shows the case: it may be a moment behind
        return (await ops.get("/api/v1/households/lookup", params={"phone": "13812341234"})).json().get("file_id")

    file_id = await eventually(household, what="the caller's household file")
    async with client(center, tokens["op-sr"]) as sunrise:
        for suffix in CASE_READS:
            assert (await sunrise.get(f"/api/v1/complaints/{lakeside_case}{suffix}")).status_code == 404, suffix
        for command, body in CASE_COMMANDS.items():
            r = await sunrise.post(f"/api/v1/complaints/{lakeside_case}/{command}", json=body)
            assert r.status_code == 404, (command, r.text)
        r = await sunrise.post(f"/api/v1/complaints/{lakeside_case}/reassign",
                               json={"by": "y", "to_staff_id": "s-lk-eng-2", "reason": "改派"})
        assert r.status_code in (403, 404)  # operators may not reassign at all
        assert (await sunrise.get(f"/api/v1/archive/verify/{lakeside_case}")).status_code == 404
        assert (await sunrise.get(f"/api/v1/archive/files/{file_id}")).status_code == 404
        assert (await sunrise.get("/api/v1/households/lookup", params={"phone": "13812341234"})).json() == {
            "found": False}
        assert (await sunrise.get("/api/v1/directory/estates/e-lakeside")).status_code == 404
        assert (await sunrise.get("/api/v1/directory/staff", params={"estate_id": "e-lakeside"})).status_code == 404
        r = await sunrise.post("/api/v1/complaints", json=complaint(channel="phone", receiver="op-sr"))
        assert r.status_code == 404  # intake for an estate outside the scope
        r = await sunrise.post("/api/v1/communications", json={
            "estate_id": "e-lakeside", "counterpart_type": "owner", "counterpart_name": "x", "staff": "y",
            "matter": "z"})
        assert r.status_code == 404
        listed = (await sunrise.get("/api/v1/complaints", params={"q": "楼道灯", "page_size": 100})).json()
        assert lakeside_case not in [c["complaint_id"] for c in listed["items"]]
        assert lakeside_case not in [c["complaint_id"] for c in (await sunrise.get("/api/v1/callbacks")).json()]


async def test_roles_limit_what_a_person_may_do(center, tokens):
    async with client(center, tokens["handler-lk"]) as handler:
        r = await handler.post("/api/v1/directory/import/estates", files={"file": ("a.csv", b"x")})
        assert r.status_code == 403
        assert (await handler.get("/api/v1/analysis/rollup", params={"period": "2026-10"})).status_code == 403
        assert (await handler.get("/api/v1/admin/audit")).status_code == 403
    async with client(center, tokens["quality-east"]) as quality:
        assert (await quality.get("/api/v1/analysis/rollup", params={"period": "2026-10"})).status_code == 200


async def test_api_keys_are_scoped_and_revocable(center, ops, lakeside_case):
    r = await ops.post("/api/v1/admin/api-keys", json={"name": "朝阳苑 CTI", "estate_ids": ["e-sunrise"]})
    assert r.status_code == 201, r.text
    key, key_id = r.json()["key"], r.json()["key_id"]
    listed = (await ops.get("/api/v1/admin/api-keys")).json()
    assert key_id in [k["key_id"] for k in listed] and all(key not in str(k) for k in listed)  # stored hashed
    async with client(center, key=key) as cti:
        assert (await cti.get("/api/v1/complaints")).status_code == 200
        assert (await cti.get(f"/api/v1/complaints/{lakeside_case}")).status_code == 404
        assert (await ops.delete(f"/api/v1/admin/api-keys/{key_id}")).status_code == 200
        assert (await cti.get("/api/v1/complaints")).status_code == 401


async def test_full_personal_data_only_for_roles_that_need_it_and_every_view_is_audited(center, ops, tokens,
                                                                                         lakeside_case):
    async with client(center, tokens["op-lk"]) as operator:
        case = (await operator.get(f"/api/v1/complaints/{lakeside_case}")).json()
        assert case["complainant"]["phone"] == "13812341234"
    async with client(center, tokens["quality-east"]) as quality:
        case = (await quality.get(f"/api/v1/complaints/{lakeside_case}")).json()
        assert case["complainant"]["phone"] == "138****1234"
    audit = (await ops.get("/api/v1/admin/audit", params={"target": lakeside_case})).json()
    views = [(a["actor"], a["action"]) for a in audit]
    assert ("op-lk", "view_personal_data") in views and ("quality-east", "view_personal_data") not in views
    changes = (await ops.get("/api/v1/admin/audit", params={"actor": "admin"})).json()
    assert any(a["action"].startswith("PUT /api/v1/directory/staff") for a in changes)


async def test_intake_services_take_only_integrations_with_a_key_for_that_use_and_estate(center, ops, web):
    import smtplib
    from email.message import EmailMessage

    from deploy.dev_keys import dev_key
    from tests.e2e.test_phone import call
    from tests.helpers import eventually

    phone_url, letter_url = center.url("phone_intake"), center.url("letter_intake")
    lakeside_line, sunrise_line, hotline = "0571-88880001", "021-66660002", "400-800-1234"
    async with httpx.AsyncClient(timeout=15) as c:
        async def post_call(key: str | None, line: str) -> int:
            headers = {"X-Api-Key": key} if key else {}
            return (await c.post(f"{phone_url}/api/v1/calls", json=call(called_line=line), headers=headers)).status_code

        assert await post_call(None, lakeside_line) == 401
        assert await post_call("cck_forged", lakeside_line) == 401
        assert await post_call(dev_key("letter"), lakeside_line) == 403  # the scanners' key is not the CTI's

        r = await ops.post("/api/v1/admin/api-keys", json={"name": "朝阳苑 CTI+扫描", "estate_ids": ["e-sunrise"],
                                                           "uses": ["phone", "letter", "fax"]})
        assert r.status_code == 201, r.text
        key, key_id = r.json()["key"], r.json()["key_id"]
        async def answers(key: str, line: str, status: int) -> bool:
            return await post_call(key, line) == status

        await eventually(lambda: answers(key, sunrise_line, 202), what="the new key reaching the phone intake")
        assert await post_call(key, lakeside_line) == 403  # another estate's line
        assert await post_call(key, hotline) == 403  # the group hotline needs a group-wide key
        assert await post_call(dev_key("phone"), hotline) == 202

        scan = {"files": [("files", ("p.png", b"\x89PNG\r\n\x1a\n", "image/png"))]}
        assert (await c.post(f"{letter_url}/api/v1/scans", data={"estate_id": "e-lakeside"}, **scan)).status_code == 401
        r = await c.post(f"{letter_url}/api/v1/scans", data={"estate_id": "e-lakeside"}, headers={"X-Api-Key": key},
                         **scan)
        assert r.status_code == 403 and "e-lakeside" in r.json()["detail"]

        # the web form is public, but a key presented must be right, and must cover the estate
        assert (await web.post("/api/v1/complaints", json=complaint())).status_code == 202
        assert (await web.post("/api/v1/complaints", json=complaint(),
                               headers={"X-Api-Key": "cck_forged"})).status_code == 401
        assert (await web.post("/api/v1/complaints", json=complaint(),
                               headers={"X-Api-Key": key})).status_code == 403
        assert (await web.post("/api/v1/complaints", json=complaint(),
                               headers={"X-Api-Key": dev_key("web")})).status_code == 202

        # the fax gateway signs in to SMTP with its key
        from tests.e2e.conftest import SMTP_PORT

        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "gw@fax.test", "fax-057188880009@fax.test", "Fax"
        msg.set_content("传真")
        with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=30) as smtp:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                smtp.send_message(msg)
            assert refused.value.smtp_code == 530
        with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=30) as smtp, \
                pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("gw", dev_key("phone"))
        with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=30) as smtp:
            smtp.login("gw", key)
            with pytest.raises(smtplib.SMTPDataError) as out:
                smtp.send_message(msg)  # 湖畔花园's fax line with 朝阳苑's key
            assert out.value.smtp_code == 550

        # grants survive a restart of the intake (its own copy, then the feed from the beginning)
        center.kill("phone_intake")
        center.start("phone_intake")
        assert await post_call(key, sunrise_line) == 202

        assert (await ops.delete(f"/api/v1/admin/api-keys/{key_id}")).status_code == 200
        await eventually(lambda: answers(key, sunrise_line, 401), what="the revocation reaching the phone intake")

        # /internal endpoints answer only the center's own services
        assert (await c.get(f"{phone_url}/internal/originals/x")).status_code == 401
        assert (await c.get(f"{center.url('assignment')}/internal/directory/g-hengan/estates")).status_code == 401
