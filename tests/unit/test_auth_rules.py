"""Sign-in rules that need no server: rate limits, placeholder secrets, password hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from services.followup.config import FollowUpSettings
from services.operator_api.auth import digest
from services.operator_api.config import OperatorApiSettings
from shared.ratelimit import RateLimiter


def test_the_rate_limiter_allows_the_limit_per_window_and_per_key():
    limiter = RateLimiter(3, 60)
    assert [limiter.allow("1.2.3.4") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("5.6.7.8")


def test_placeholder_secrets_stop_a_production_service():
    with pytest.raises(ValueError, match="CC_SMS_GATEWAY_KEY"):
        FollowUpSettings(environment="production", sms_gateway_key="change-me")
    FollowUpSettings(environment="development", sms_gateway_key="change-me")  # fine while developing
    FollowUpSettings(environment="production", sms_gateway_key="a-real-key-4f9a")
    with pytest.raises(ValueError, match="development only"):
        OperatorApiSettings(environment="production", auth_required=False)


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
