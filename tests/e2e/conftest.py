"""The whole center as separate processes on the real Kafka and MongoDB, with this session's prefix."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from deploy.dev_keys import dev_key
from deploy.native import dovecot
from deploy.native import stack as native
from tests.e2e.sinks import MailSink, SmsGateway
from tests.helpers import eventually

PORTS = {"operator_api": 18000, "web_intake": 18001, "phone_intake": 18002, "letter_intake": 18003,
         "fax_intake": 18004, "triage": 18011, "assignment": 18012, "followup": 18013, "archive": 18014}
SMTP_PORT = 12525
IMAP_PORT = 11143
IMAP_USER, IMAP_PASSWORD = "fax@example.test", "secret"


@dataclass
class Center:
    stack: native.Stack
    bootstrap: str
    prefix: str
    admin_token: str = ""

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{PORTS[name]}"

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def group(self, service: str) -> str:
        return f"{self.prefix}.{service}"

    def kill(self, name: str) -> None:
        """kill -9: no graceful shutdown, no final commit."""
        native.stop(self.stack, name, sig=signal.SIGKILL, timeout=5)

    def start(self, name: str) -> None:
        native.start_service(self.stack, name, port=PORTS[name])


DEV_PASSWORD = "Hengan-dev-2026"  # deploy/accounts_dev.yaml


def sign_in(port: int, username: str) -> str:
    r = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/login", json={"username": username,
                                                                      "password": DEV_PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.json()["token"]


def lift_seed_caps(port: int, token: str) -> None:
    """The seed estates take hundreds of never-resolved test complaints in one session: without this, their
    handlers' caps would fill up and later tests would see cases wait. Caps are tested on onboarded estates."""
    from shared.org import load_org

    for person in load_org("deploy/org_seed.yaml").staff:
        if person.estate:
            body = {**person.model_dump(), "max_open": 100_000}
            r = httpx.put(f"http://127.0.0.1:{port}/api/v1/directory/staff/{person.id}", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()


@pytest.fixture(scope="session")
def sms_gateway() -> Iterator[SmsGateway]:
    gateway = SmsGateway()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def center(settings_env: dict[str, str], prefix: str, infra, cleanup, sms_gateway, mail_sink) -> Iterator[Center]:
    intake_urls = {n: f"http://127.0.0.1:{p}" for n, p in PORTS.items() if n.endswith("_intake")}
    run_dir = native.ROOT / ".run" / f"test-{prefix}"
    env = {**settings_env, "CC_INTAKE_URLS": json.dumps(intake_urls), "CC_SMTP_PORT": str(SMTP_PORT),
           "CC_ASSIGNMENT_URL": f"http://127.0.0.1:{PORTS['assignment']}",
           "CC_SCAN_INBOX": str(run_dir / "scan-inbox"), "CC_SCAN_POLL_SECONDS": "0.5",
           "CC_SMS_GATEWAY_URL": sms_gateway.url, "CC_NOTICE_SMTP_HOST": "127.0.0.1",
           "CC_NOTICE_SMTP_PORT": str(mail_sink.port), "CC_NOTICE_RETRY_SCALE": "0.02",
           "CC_NOTICE_SWEEP_SECONDS": "0.3", "CC_LOGIN_PER_MINUTE": "200",
           "CC_INTAKE_PER_MINUTE": "100000"}
    mailbox = dovecot.start_dovecot(run_dir / "dovecot", port=IMAP_PORT, users={IMAP_USER: IMAP_PASSWORD})
    env.update({"CC_IMAP_HOST": "127.0.0.1", "CC_IMAP_PORT": str(IMAP_PORT), "CC_IMAP_USER": IMAP_USER,
                "CC_IMAP_PASSWORD": IMAP_PASSWORD, "CC_IMAP_POLL_SECONDS": "1"})
    st = native.Stack(run_dir=run_dir, env=env)
    for name, port in PORTS.items():
        native.start_service(st, name, port=port, wait=False)
    try:
        for name, port in PORTS.items():
            native.wait_for(lambda p=port: native.healthy(p), 90, name)
        token = sign_in(PORTS["operator_api"], "admin")
        lift_seed_caps(PORTS["operator_api"], token)
        yield Center(stack=st, bootstrap=infra.bootstrap, prefix=prefix, admin_token=token)
    finally:
        for name in PORTS:
            native.stop(st, name)
        dovecot.stop_dovecot(mailbox)
        if os.environ.get("CC_KEEP_TEST_RUN") != "1":  # keep the services' logs to debug a failure
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
async def web(center: Center) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=center.url("web_intake"), timeout=15) as c:
        yield c


@pytest.fixture
async def phone(center: Center) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=center.url("phone_intake"), timeout=15,
                                 headers={"X-Api-Key": dev_key("phone")}) as c:
        yield c


@pytest.fixture
async def ops(center: Center) -> AsyncIterator[httpx.AsyncClient]:
    """The operator API as the development group admin (signed in once per session)."""
    async with httpx.AsyncClient(base_url=center.url("operator_api"), timeout=15,
                                 headers={"Authorization": f"Bearer {center.admin_token}"}) as c:
        yield c


@pytest.fixture(scope="session")
def tokens(center: Center) -> dict[str, str]:
    """A session for each development account (one sign-in each)."""
    return {u: sign_in(PORTS["operator_api"], u) for u in ("op-lk", "op-sr", "handler-lk", "quality-east")}


def filed(case: dict) -> bool:
    """Assigned, with its receipt and judgement filed too (the archive files topics independently)."""
    from tests.helpers import types_of

    return case["status"] == "assigned" and {"ComplaintReceived", "ComplaintTriaged"} <= set(types_of(case))


async def case_where(ops: httpx.AsyncClient, complaint_id: str, predicate, timeout: float = 20.0,
                     what: str = "case state") -> dict:
    async def probe():
        r = await ops.get(f"/api/v1/complaints/{complaint_id}")
        if r.status_code == 200 and predicate(r.json()):
            return r.json()
        return None

    return await eventually(probe, timeout=timeout, what=what)
