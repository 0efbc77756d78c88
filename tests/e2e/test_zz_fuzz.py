"""Bad input at every HTTP edge: schemathesis fuzzes the web intake, the phone intake and the operator API
from their own OpenAPI documents (no answer may be a 5xx), and explicit cases cover MongoDB operator
injection, oversized bodies, odd Unicode, mixed encodings and empty input. Named to run last among the
end-to-end tests: the fuzzer is allowed to leave odd (but valid) data behind."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from deploy.dev_keys import dev_key
from tests.e2e.conftest import PORTS, sign_in
from tests.helpers import complaint

TRIED: dict[str, int] = {}
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)  # the same examples every run: a failure reproduces, CI does not flicker
NEVER = ("/api/v1/events/stream",  # an endless stream by design
         "/api/v1/auth/logout")     # would end the fuzzing session itself


def fuzz(port: int, headers: dict[str, str], *, reads_only: bool = False) -> dict[str, int]:
    """Every operation of the service's OpenAPI document, FUZZ examples each; fail on any 5xx."""
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json").exclude(path=list(NEVER))
    if reads_only:
        schema = schema.include(method="GET")
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        tried[label] = 0

        @FUZZ
        @given(case=operation.as_strategy())
        def one(case) -> None:
            tried[case.operation.label] += 1
            case.call_and_validate(checks=[not_a_server_error], headers=headers, timeout=30)

        one()
    TRIED.update({f":{port}{' admin' if reads_only else ''} {k}": v for k, v in tried.items()})
    return tried


def test_fuzz_web_intake(center):
    assert fuzz(PORTS["web_intake"], {"X-Api-Key": dev_key("web")})


def test_fuzz_phone_intake(center):
    assert fuzz(PORTS["phone_intake"], {"X-Api-Key": dev_key("phone")})


def test_fuzz_operator_api_as_a_signed_in_operator(center):
    token = sign_in(PORTS["operator_api"], "op-lk")  # what a signed-in operator could send
    assert len(fuzz(PORTS["operator_api"], {"Authorization": f"Bearer {token}"})) > 30


def test_fuzz_operator_api_reads_as_the_group_admin(center):
    """Reads reach every handler as the admin (analysis, audit, directory); changes were fuzzed above."""
    assert fuzz(PORTS["operator_api"], {"Authorization": f"Bearer {center.admin_token}"}, reads_only=True)


INJECTIONS = [{"$ne": None}, {"$where": "sleep(1000)"}, {"$gt": ""}, {"a.b": 1}, {"$set": {"status": "closed"}},
              ["$ne"], "'; db.dropDatabase(); '"]


async def test_mongodb_operator_injection_is_refused_or_stored_as_plain_text(web, ops):
    tried = 0
    for bad in INJECTIONS:
        for field in ("estate_id", "text"):
            r = await web.post("/api/v1/complaints", json=complaint(**{field: bad}))
            tried += 1
            if isinstance(bad, str) and field == "text":
                assert r.status_code == 202  # a string is only ever a string
            else:
                assert r.status_code == 422, (field, bad, r.text)
        r = await web.post("/api/v1/complaints", json=complaint(complainant={"name": bad, "phone": "13812341234"}))
        tried += 1
        assert r.status_code in (202, 422) and r.status_code == (202 if isinstance(bad, str) else 422)
        for path in ("/api/v1/complaints", "/api/v1/callbacks", "/api/v1/archive/files"):
            r = await ops.get(path, params={"estate_id": str(bad), "q": str(bad), "status[$ne]": "x"})
            tried += 1
            assert r.status_code in (200, 422), (path, bad, r.status_code)
    for key in ("$where", "$set", "a.b", "lift.$"):  # keys of the routing rules end up in stored documents
        for part in ("subcategory", "category", "skills"):
            r = await ops.put("/api/v1/directory/routing", json={part: {key: "engineering"}})
            tried += 1
            assert r.status_code == 422 and "unknown" in r.text, (part, key, r.text)
        r = await ops.put("/api/v1/directory/routing", json={"subcategory": {"lift": {"$ne": None}}})
        tried += 1
        assert r.status_code == 422
    TRIED["injection cases"] = tried


async def test_oversized_empty_odd_and_mixed_encoding_input(web, ops):
    huge = b"{" + b" " * (13 * 1024 * 1024) + b"}"
    assert (await web.post("/api/v1/complaints", content=huge,
                           headers={"content-type": "application/json"})).status_code == 413
    assert (await ops.post("/api/v1/complaints", content=huge,
                           headers={"content-type": "application/json"})).status_code == 413
    assert (await web.post("/api/v1/complaints", content=b"",
                           headers={"content-type": "application/json"})).status_code == 422
    gb = '{"estate_id": "e-lakeside", "text": "楼上漏水"}'.encode("gb18030")
    assert (await web.post("/api/v1/complaints", content=gb,
                           headers={"content-type": "application/json"})).status_code in (400, 422)
    for text in ("\u202e漏水\u202c", "💧" * 500, "e\u0301\u0301\u0301", "\ufeff楼上漏水", "a\u0000b"):
        r = await web.post("/api/v1/complaints", json=complaint(text=text))
        assert r.status_code in (202, 422), (text, r.text)
    TRIED["odd input cases"] = 9


def test_zz_report_how_many_cases_were_tried(capsys):
    with capsys.disabled():
        total = sum(TRIED.values())
        print(f"\n[fuzz] {total} requests over {len(TRIED)} operations/groups, no 5xx")
        for k, v in sorted(TRIED.items()):
            print(f"  {v:5d}  {k}")
