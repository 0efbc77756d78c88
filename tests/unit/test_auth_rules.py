"""Sign-in rules that need no server: rate limits, placeholder secrets, password hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi import Request

from services.followup.config import FollowUpSettings
from services.operator_api.config import OperatorApiSettings
from shared.keyring import digest
from shared.ratelimit import RateLimiter


def test_the_rate_limiter_allows_the_limit_per_window_and_per_key():
    limiter = RateLimiter(3, 60)
    assert [limiter.allow("1.2.3.4") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("5.6.7.8")


def test_placeholder_secrets_stop_a_production_service():
    with pytest.raises(ValueError, match="CC_SMS_GATEWAY_KEY"):
        FollowUpSettings(environment="production", sms_gateway_key="change-me", internal_token="9b2e-real")
    FollowUpSettings(environment="development", sms_gateway_key="change-me")  # fine while developing
    with pytest.raises(ValueError, match="CC_INTERNAL_TOKEN"):
        FollowUpSettings(environment="production", sms_gateway_key="a-real-key-4f9a")
    FollowUpSettings(environment="production", sms_gateway_key="a-real-key-4f9a", internal_token="9b2e-real")
    with pytest.raises(ValueError, match="development only"):
        OperatorApiSettings(environment="production", auth_required=False, internal_token="9b2e-real")


def test_passwords_are_argon2id_and_tokens_are_stored_as_digests():
    h = PasswordHasher().hash("Hengan-dev-2026")
    assert h.startswith("$argon2id$")
    assert digest("ccs_abc") != "ccs_abc" and len(digest("ccs_abc")) == 64


def test_public_intake_answers_429_past_its_rate():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shared.ratelimit import PostRateLimit

    app = FastAPI()
    app.add_middleware(PostRateLimit, per_minute=2)

    @app.post("/x")
    def x() -> dict:
        return {}

    with TestClient(app) as c:
        assert [c.post("/x").status_code for _ in range(3)] == [200, 200, 429]
        assert c.get("/docs").status_code == 200  # reading is not limited


def _change(key: str, at: str, *, revoked: bool = False, uses=("phone",), estates=("e-lakeside",)) -> bytes:
    from shared.contracts import ApiKeyChanged, Envelope, encode

    return encode(Envelope[ApiKeyChanged](
        type="ApiKeyChanged", correlation_id="5b0c4cf5-3a43-4a3c-9d3e-9b0f5e0a8c11", group_id="g-hengan",
        estate_id="*", complaint_id="apikey:k-1",
        payload=ApiKeyChanged(key_id="k-1", key_hash=digest(key), name="CTI", estate_ids=list(estates),
                              uses=list(uses), revoked=revoked, changed_at=at)))


async def test_the_key_ring_follows_creation_and_revocation_and_a_replay_never_unrevokes():
    from shared.keyring import KeyRefused, KeyRing

    ring = KeyRing()
    with pytest.raises(KeyRefused) as loading:
        ring.check("cck_x", "phone")
    assert loading.value.status == 503  # not caught up yet: retry, not "wrong key"
    await ring.take(_change("cck_x", "2026-11-27T08:00:00Z"))
    ring.caught_up = True
    grant = ring.check("cck_x", "phone")
    assert grant.covers("g-hengan", "e-lakeside") and not grant.covers("g-hengan", "e-sunrise")
    assert not grant.covers("g-other", "e-lakeside") and not grant.covers("g-hengan", None)
    for key, use, status in (("cck_x", "fax", 403), ("cck_y", "phone", 401), ("", "phone", 401)):
        with pytest.raises(KeyRefused) as refused:
            ring.check(key, use)
        assert refused.value.status == status
    await ring.take(_change("cck_x", "2026-11-27T09:00:00Z", revoked=True))
    await ring.take(_change("cck_x", "2026-11-27T08:00:00Z"))  # replayed from the beginning after a restart
    with pytest.raises(KeyRefused, match="revoked"):
        ring.check("cck_x", "phone")
    group_key = _change("cck_g", "2026-11-27T08:00:00Z", estates=())
    await ring.take(group_key)
    assert ring.check("cck_g", "phone").covers("g-hengan", None)  # a group-wide key covers the group hotline


def test_the_key_gate_refuses_before_reading_the_body_and_exempts_keyed_callers_from_the_rate_limit():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shared.http import install_intake_guards
    from shared.keyring import Grant, KeyRing

    class Store:
        kept: list[str] = []

        async def keep_rejected(self, raw: bytes, reason: str, channel: str) -> None:
            self.kept.append(reason)

    ring = KeyRing()
    ring.caught_up = True
    ring.apply(digest("cck_app"), Grant("k-app", "app", "g-hengan", frozenset(), frozenset({"web"}), False,
                                       __import__("datetime").datetime(2026, 11, 27)))
    for required in (True, False):
        app = FastAPI()
        store = Store()
        install_intake_guards(app, store, 1000, "online", keys=ring, use="web", key_required=required,
                              per_minute=2)

        @app.post("/api/v1/complaints")
        async def post(request: Request, body: dict[str, int]) -> dict[str, str]:
            return {"by": request.state.grant.key_id if request.state.grant else "public"}

        c = TestClient(app)
        anonymous = c.post("/api/v1/complaints", content=b"{not json")
        assert anonymous.status_code == (401 if required else 422)
        assert len(store.kept) == (0 if required else 1)  # nothing stored for an unknown caller
        assert c.post("/api/v1/complaints", json={"a": 1}, headers={"X-Api-Key": "cck_wrong"}).status_code == 401
        keyed = [c.post("/api/v1/complaints", json={"a": 1}, headers={"X-Api-Key": "cck_app"}) for _ in range(5)]
        assert [r.status_code for r in keyed] == [200] * 5 and keyed[0].json() == {"by": "k-app"}
