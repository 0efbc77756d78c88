"""Status notices: text, phone numbers, retry delays, the SMTP sender (real aiosmtpd) and the SMS gateway sender."""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pydantic import ValidationError

from services.followup.notify import (
    MAX_ATTEMPTS,
    POINTS,
    Notice,
    Sender,
    SendFailed,
    SmsGatewaySender,
    SmtpSender,
    backoff,
    normalise_phone,
    render,
)

NO = "TS20261127W0001"
HAN = re.compile(r"[\u4e00-\u9fff]")


def notice(channel: str = "email", **kw: Any) -> Notice:
    subject, text = render("received", tracking_no=NO, estate_name="恒安物业", hotline="400-800-1234")
    fields: dict[str, Any] = {"notice_id": "n-1", "complaint_id": "c-42", "tracking_no": NO, "point": "received",
                              "channel": channel, "to": "owner@example.com" if channel == "email" else "13812341234",
                              "text": text, "subject": subject}
    return Notice(**(fields | kw))


# --- render -------------------------------------------------------------------------------------------------------

def test_received_reads_as_the_house_style():
    subject, text = render("received", tracking_no=NO, estate_name="恒安物业", hotline="400-800-1234")
    assert text == "【恒安物业】您反映的问题已受理，投诉编号 TS20261127W0001，我们将尽快处理。查询请致电 400-800-1234。"
    assert NO in subject and HAN.search(subject)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("extras", [{}, {"category_label": "公共维修", "assignee_name": "王师傅",
                                         "hotline": "400-800-1234", "deadline_text": "11月29日18:00"}])
def test_every_point_is_a_short_chinese_sms_with_the_tracking_number(point: str, extras: dict[str, str]):
    subject, text = render(point, tracking_no=NO, estate_name="翠湖苑", **extras)
    assert text and HAN.search(text) and len(text) <= 140 and NO in text and NO in subject
    assert "\n" not in text and "\n" not in subject
    if extras:
        assert "400-800-1234" in text
        assert ("王师傅" in text and "11月29日18:00" in text) == (point == "assigned")
        assert ("公共维修" in text) == (point in ("received", "resolved"))


def test_long_or_multiline_inputs_still_fit_one_budget_and_keep_the_number():
    for point in POINTS:
        _, text = render(point, tracking_no=NO, estate_name="某某某某某某物业服务有限公司第二分公司翠湖苑项目部" * 2,
                         category_label="公共区域\n设施设备维修养护" * 3, assignee_name="工程维修部 王师傅" * 4,
                         hotline="400-800-1234 转 8 号键" * 3, deadline_text="2026年11月29日（星期日）18:00" * 3)
        assert len(text) <= 140 and NO in text and "\n" not in text


def test_unknown_point_is_refused():
    with pytest.raises(ValueError):
        render("reopened", tracking_no=NO, estate_name="恒安物业")


# --- phone, backoff, model ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("13812341234", "13812341234"),
    ("+86 138 1234 1234", "13812341234"),
    ("+86-138-1234-1234", "13812341234"),
    ("0086 13812341234", "13812341234"),
    ("8613812341234", "13812341234"),
    ("(+86) 199.0000.1111", "19900001111"),
    ("１３８１２３４１２３４", "13812341234"),  # full-width digits from an IME
    (" 138 1234 1234 ", "13812341234"),
    ("010-12345678", None),  # Beijing landline
    ("0755-88886666", None),
    ("400-800-1234", None),
    ("12812341234", None),
    ("1381234123", None),
    ("138123412345", None),
    ("+1 415 555 0100", None),
    ("138 1234 1234 转 8", None),
    ("", None),
])
def test_normalise_phone(raw: str, expected: str | None):
    assert normalise_phone(raw) == expected


def test_backoff_follows_the_schedule_and_caps_at_an_hour():
    delays = [backoff(n) for n in range(1, MAX_ATTEMPTS + 5)]
    assert delays[:6] == [30, 120, 600, 1800, 3600, 3600]
    assert delays == sorted(delays) and max(delays) == 3600
    rng = random.Random(7)
    for n in range(1, MAX_ATTEMPTS + 5):
        jittered = backoff(n, jitter=True, rng=rng)
        assert 0.9 * backoff(n) <= jittered <= min(1.1 * backoff(n), 3600)
    assert 27 <= backoff(1, jitter=True) <= 33
    with pytest.raises(ValueError):
        backoff(0)


@pytest.mark.parametrize("bad", [{"colour": "red"}, {"point": "reopened"}, {"channel": "wechat"}, {"text": ""},
                                 {"notice_id": ""}])
def test_notice_refuses_malformed_fields(bad: dict[str, str]):
    with pytest.raises(ValidationError):
        notice(**({"channel": "sms"} | bad))


# --- SMTP (a real aiosmtpd server on an ephemeral port) -----------------------------------------------------------

class _Controller(Controller):
    def _trigger_server(self) -> None:  # learn the port the OS gave us before aiosmtpd connects to itself
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server(handler: object, **kw: Any) -> Iterator[_Controller]:
    c = _Controller(handler, hostname="127.0.0.1", port=0, **kw)
    c.start()
    try:
        yield c
    finally:
        c.stop()


class Collect:
    def __init__(self, rcpt_reply: str = "", data_reply: str = "250 2.0.0 Ok: queued as 4FqX9z1") -> None:
        self.rcpt_reply, self.data_reply, self.envelopes = rcpt_reply, data_reply, []  # type: ignore[var-annotated]

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope,  # noqa: N802
                          address: str, rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.data_reply


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_smtp_delivers_a_proper_utf8_message():
    handler = Collect()
    n = notice()
    with smtp_server(handler) as srv:
        sender = SmtpSender("127.0.0.1", srv.port, "恒安物业 <noreply@hengan.example>")
        assert isinstance(sender, Sender) and sender.channel == "email"
        assert await sender.send(n) == "4FqX9z1"
    [env] = handler.envelopes
    assert env.mail_from == "noreply@hengan.example" and env.rcpt_tos == ["owner@example.com"]
    raw: bytes = env.original_content
    assert raw.isascii() and b"=?utf-8?" in raw  # Chinese subject and sender name are RFC 2047 encoded
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == n.subject and msg.get_content().strip() == n.text
    assert msg["X-Complaint-Id"] == "c-42" and msg["X-Notice-Id"] == "n-1"
    assert msg["Message-ID"] == "<notice.n-1@hengan.example>" and msg["Date"]
    assert msg["From"].addresses[0].display_name == "恒安物业"
    assert msg.get_content_charset() == "utf-8"


async def test_smtp_without_a_queue_id_returns_empty_and_uses_a_default_subject():
    handler = Collect(data_reply="250 OK")
    with smtp_server(handler) as srv:
        assert await SmtpSender("127.0.0.1", srv.port, "noreply@hengan.example").send(notice(subject="")) == ""
    msg = message_from_bytes(handler.envelopes[0].original_content, policy=policy.default)
    assert NO in msg["Subject"] and HAN.search(msg["Subject"])


async def test_smtp_sends_to_an_internationalised_address_over_smtputf8():
    handler = Collect()
    with smtp_server(handler) as srv:
        await SmtpSender("127.0.0.1", srv.port, "noreply@hengan.example").send(notice(to="业主@例子.中国"))
    assert handler.envelopes[0].rcpt_tos == ["业主@例子.中国"] and "SMTPUTF8" in handler.envelopes[0].mail_options


async def test_smtp_without_smtputf8_refuses_an_internationalised_address_for_good():
    with smtp_server(Collect(), enable_SMTPUTF8=False) as srv, pytest.raises(SendFailed) as err:
        await SmtpSender("127.0.0.1", srv.port, "noreply@hengan.example").send(notice(to="业主@例子.中国"))
    assert not err.value.transient


@pytest.mark.parametrize(("handler", "transient"), [
    (Collect(rcpt_reply="451 4.3.0 Mailbox temporarily unavailable"), True),
    (Collect(rcpt_reply="452 4.2.2 Mailbox full"), True),
    (Collect(rcpt_reply="550 5.1.1 User unknown"), False),
    (Collect(data_reply="451 4.3.0 Try again later"), True),
    (Collect(data_reply="554 5.7.1 Rejected as spam"), False),
])
async def test_smtp_refusals_map_to_transient_or_permanent(handler: Collect, transient: bool):
    with smtp_server(handler) as srv, pytest.raises(SendFailed) as err:
        await SmtpSender("127.0.0.1", srv.port, "noreply@hengan.example").send(notice())
    assert err.value.transient is transient and handler.envelopes == []


async def test_smtp_closed_port_is_transient():
    with pytest.raises(SendFailed) as err:
        await SmtpSender("127.0.0.1", closed_port(), "noreply@hengan.example", timeout=2).send(notice())
    assert err.value.transient


async def test_smtp_silent_server_times_out_without_blocking_the_loop():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never greets
    port = server.sockets[0].getsockname()[1]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        with pytest.raises(SendFailed) as err:
            await SmtpSender("127.0.0.1", port, "noreply@hengan.example", timeout=0.5).send(notice())
    finally:
        task.cancel()
        server.close()
    assert err.value.transient and ticks >= 10


def _auth(server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"notices", b"s3cret")
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.mark.parametrize(("password", "delivered"), [("s3cret", True), ("wrong", False)])
async def test_smtp_login(password: str, delivered: bool):
    handler = Collect()
    with smtp_server(handler, authenticator=_auth, auth_require_tls=False) as srv:
        sender = SmtpSender("127.0.0.1", srv.port, "noreply@hengan.example", username="notices", password=password)
        if delivered:
            await sender.send(notice())
        else:
            with pytest.raises(SendFailed) as err:
                await sender.send(notice())
            assert not err.value.transient  # 535: wrong credentials are not fixed by retrying
    assert len(handler.envelopes) == int(delivered)


@pytest.mark.parametrize("bad", [{"channel": "sms"}, {"to": "owner"}, {"to": "a@b.com, c@d.com"},
                                 {"to": "x@y.com\nBcc: z@y.com"}, {"subject": "hi\nBcc: z@y.com"}])
async def test_smtp_refuses_what_it_cannot_send_for_good_without_connecting(bad: dict[str, str]):
    with pytest.raises(SendFailed) as err:  # a closed port: connecting would have been transient
        await SmtpSender("127.0.0.1", closed_port(), "noreply@hengan.example").send(notice(**bad))
    assert not err.value.transient


# --- SMS gateway (httpx.MockTransport) ----------------------------------------------------------------------------

def gateway(respond: Any, **kw: Any) -> tuple[SmsGatewaySender, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return SmsGatewaySender("https://sms.example/v1/send", client=client, **kw), seen


async def test_sms_posts_the_documented_json_with_auth_and_idempotency_key():
    sender, seen = gateway(lambda r: httpx.Response(200, json={"message_id": "m-123", "status": "queued"}),
                           api_key="k-1")
    n = notice("sms")
    assert isinstance(sender, Sender) and sender.channel == "sms"
    assert await sender.send(n) == "m-123"
    [req] = seen
    assert req.method == "POST" and str(req.url) == "https://sms.example/v1/send"
    assert req.headers["Authorization"] == "Bearer k-1" and req.headers["Idempotency-Key"] == "n-1"
    assert req.headers["Content-Type"] == "application/json"
    assert json.loads(req.content) == {"to": "13812341234", "text": n.text, "sign": "恒安物业", "ref": "n-1"}


@pytest.mark.parametrize("response", [httpx.Response(200, json={}), httpx.Response(202, text="accepted"),
                                      httpx.Response(204), httpx.Response(200, json=["x"])])
async def test_sms_success_without_an_id_returns_empty(response: httpx.Response):
    sender, seen = gateway(lambda r: response)
    assert await sender.send(notice("sms")) == ""
    assert "Authorization" not in seen[0].headers


@pytest.mark.parametrize(("status", "transient"), [(408, True), (429, True), (500, True), (502, True), (503, True),
                                                   (400, False), (401, False), (403, False), (404, False),
                                                   (422, False)])
async def test_sms_status_mapping(status: int, transient: bool):
    sender, _ = gateway(lambda r: httpx.Response(status, headers={"Retry-After": "7"}, json={"error": "x"}))
    with pytest.raises(SendFailed) as err:
        await sender.send(notice("sms"))
    assert err.value.transient is transient and str(status) in err.value.reason
    assert err.value.retry_after == (7.0 if transient else None)


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), httpx.ConnectError("down"),
                                 httpx.RemoteProtocolError("cut")])
async def test_sms_network_errors_are_transient(exc: Exception):
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    sender, _ = gateway(boom)
    with pytest.raises(SendFailed) as err:
        await sender.send(notice("sms"))
    assert err.value.transient


async def test_sms_real_closed_port_and_own_client():
    sender = SmsGatewaySender(f"http://127.0.0.1:{closed_port()}/send", timeout=2)
    try:
        with pytest.raises(SendFailed) as err:
            await sender.send(notice("sms"))
        assert err.value.transient
    finally:
        await sender.aclose()


@pytest.mark.parametrize("to", ["010-12345678", "400-800-1234", "owner@example.com", ""])
async def test_sms_refuses_landlines_and_non_phones_for_good(to: str):
    sender, seen = gateway(lambda r: httpx.Response(200))
    with pytest.raises(SendFailed) as err:
        await sender.send(notice("sms", to=to))
    assert not err.value.transient and seen == []


async def test_sms_normalises_the_number_and_refuses_an_email_notice_and_a_bad_url():
    sender, seen = gateway(lambda r: httpx.Response(200))
    await sender.send(notice("sms", to="+86 138-1234-1234"))
    assert json.loads(seen[0].content)["to"] == "13812341234"
    with pytest.raises(SendFailed) as err:
        await sender.send(notice("email"))
    assert not err.value.transient and len(seen) == 1
    with pytest.raises(ValueError):
        SmsGatewaySender("ftp://sms.example/")
