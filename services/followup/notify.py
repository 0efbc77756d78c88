"""Status notices to the complainant (受理、派单、办结、结案): text, SMS gateway and SMTP senders.

Pure sending layer: the caller stores notices and schedules retries (`backoff`, `MAX_ATTEMPTS`); a sender either
returns a provider reference or raises `SendFailed`, transient (retry later) or permanent (give up).
"""

from __future__ import annotations

import asyncio
import random
import re
import smtplib
import ssl
import unicodedata
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, Literal, Protocol, get_args, runtime_checkable

import httpx
from pydantic import BaseModel, ConfigDict, Field

Point = Literal["received", "assigned", "resolved", "closed"]
POINTS: tuple[str, ...] = get_args(Point)
MAX_ATTEMPTS = 8
SMS_MAX_CHARS = 140
_SCHEDULE = (30.0, 120.0, 600.0, 1800.0)
_CAP = 3600.0
_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9][0-9]{9})")
_EMAIL = re.compile(r"[^@\s<>\",;]+@[^@\s<>\",;]+\.[^@\s<>\",;]+")
_QUEUE_ID = (re.compile(r"queued as ([\w.\-]+)", re.I), re.compile(r"\bid=([\w.\-]+)"))


class Notice(BaseModel):
    """One notice to one address: a mainland mobile (sms) or an email address (email).

    `to` is checked by the sender, not here, so a bad address ends as a permanent `SendFailed` like any other.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    notice_id: str = Field(min_length=1, max_length=128)
    complaint_id: str = Field(min_length=1)
    tracking_no: str
    point: Point
    channel: Literal["sms", "email"]
    to: str
    text: str = Field(min_length=1)
    subject: str = ""


class SendFailed(Exception):
    """transient: try again later (see `backoff`); permanent: retrying will not help."""

    def __init__(self, reason: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.transient, self.retry_after = reason, transient, retry_after


@runtime_checkable
class Sender(Protocol):
    channel: str

    async def send(self, notice: Notice) -> str: ...


def normalise_phone(raw: str) -> str | None:
    """A mainland mobile as 11 digits (+86/0086, spaces, dashes, dots, brackets, full-width digits); else None."""
    s = re.sub(r"[\s\-.()]", "", unicodedata.normalize("NFKC", raw or ""))
    m = _MOBILE.fullmatch(s)
    return m.group(1) if m else None


def backoff(attempt: int, *, jitter: bool = False, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry `attempt` (1-based): 30, 120, 600, 1800, then 3600; jitter ±10%, ≤ 3600."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    delay = _SCHEDULE[attempt - 1] if attempt <= len(_SCHEDULE) else _CAP
    if jitter:
        delay *= rng.uniform(0.9, 1.1) if rng else random.uniform(0.9, 1.1)
    return min(delay, _CAP)


def _field(value: str, limit: int) -> str:
    return " ".join(value.split())[:limit]  # one line: no newlines or control whitespace in an SMS or a subject


def render(point: str, *, tracking_no: str, estate_name: str, category_label: str = "", assignee_name: str = "",
           hotline: str = "", deadline_text: str = "") -> tuple[str, str]:
    """(subject, text) of a notice; the text fits one SMS budget (≤ 140 chars), dropping the extras if need be.

    `estate_name` is the sign in 【】; `deadline_text` is a moment ("11月29日18:00"), not a duration.
    """
    if point not in POINTS:
        raise ValueError(f"unknown notice point {point!r}")
    no, estate = _field(tracking_no, 32), _field(estate_name, 20)
    sign = f"【{estate}】" if estate else ""
    who, due = _field(assignee_name, 16) or "专人", _field(deadline_text, 24)
    state = {"received": "已受理", "assigned": "已安排处理", "resolved": "已处理完毕", "closed": "已办结"}[point]
    subject = f"{sign}投诉{state}（编号 {no}）"

    def compose(category: str, phone: str) -> str:
        about = f"您反映的{category}问题" if category else "您反映的问题"
        call = "查询" if point == "received" else "如有疑问"
        tail = f"{call}请致电 {phone}。" if phone else ""
        body = {
            "received": f"{about}已受理，投诉编号 {no}，我们将尽快处理。",
            "assigned": f"您的投诉（编号 {no}）已安排{who}跟进处理" + (f"，预计{due}前处理完毕。" if due else "。"),
            "resolved": f"{about}（编号 {no}）已处理完毕，我们将回访听取您的意见。",
            "closed": f"您的投诉（编号 {no}）已办结，感谢您的理解与支持。",
        }[point]
        return sign + body + tail

    category, phone = _field(category_label, 12), _field(hotline, 20)
    for text in (compose(category, phone), compose("", phone), compose("", "")):
        if len(text) <= SMS_MAX_CHARS:
            return subject, text
    return subject, text[:SMS_MAX_CHARS]


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))[:200]


def _by_code(what: str, code: int, reply: bytes | str) -> SendFailed:
    return SendFailed(f"{what}: {code} {_text(reply)}", transient=not 500 <= code < 600)


class _SMTP(smtplib.SMTP):
    """Keeps the server's answer to DATA, which carries the queue id ("250 2.0.0 Ok: queued as 4Fxyz")."""

    data_reply: bytes = b""

    def data(self, msg: Any) -> tuple[int, bytes]:
        code, reply = super().data(msg)
        self.data_reply = reply
        return code, reply


class SmtpSender:
    channel = "email"

    def __init__(self, host: str, port: int, from_addr: str, username: str = "", password: str = "",
                 starttls: bool = False, timeout: float = 10) -> None:
        self.host, self.port, self.from_addr = host, port, from_addr
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout
        self.domain = parseaddr(from_addr)[1].rpartition("@")[2] or "localhost"

    def build_message(self, notice: Notice) -> EmailMessage:
        """UTF-8 plain text; the Message-ID follows from the notice id, so a retried notice keeps its id."""
        msg = EmailMessage()
        msg["From"] = self.from_addr
        msg["To"] = notice.to
        msg["Subject"] = notice.subject or f"投诉进度通知（编号 {notice.tracking_no}）"
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = f"<notice.{re.sub(r'[^A-Za-z0-9._-]', '-', notice.notice_id)}@{self.domain}>"
        msg["X-Complaint-Id"] = notice.complaint_id
        msg["X-Notice-Id"] = notice.notice_id
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
        msg.set_content(notice.text, charset="utf-8")
        return msg

    def _deliver(self, msg: EmailMessage) -> str:
        with _SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(msg)
            reply = _text(smtp.data_reply)
        return next((m.group(1) for p in _QUEUE_ID if (m := p.search(reply))), "")

    async def send(self, notice: Notice) -> str:
        """The server's queue id, or "" when its reply names none."""
        if notice.channel != "email" or not _EMAIL.fullmatch(notice.to):
            raise SendFailed(f"not an email to a valid address ({notice.channel})", transient=False)
        try:
            msg = self.build_message(notice)
        except (ValueError, TypeError) as exc:
            raise SendFailed(f"cannot build the message: {exc}", transient=False) from exc
        try:
            return await asyncio.to_thread(self._deliver, msg)  # smtplib blocks: keep it off the event loop
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            raise _by_code("recipient refused", code, reply) from exc
        except smtplib.SMTPNotSupportedError as exc:  # STARTTLS or SMTPUTF8 missing: configuration
            raise SendFailed(f"server does not support: {exc}", transient=False) from exc
        except smtplib.SMTPResponseException as exc:  # sender/data/auth/connect/helo refused
            raise _by_code(type(exc).__name__, exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnected, refused, timeout, DNS, TLS
            raise SendFailed(f"SMTP {type(exc).__name__}: {exc}", transient=True) from exc


class SmsGatewaySender:
    channel = "sms"

    def __init__(self, url: str, api_key: str = "", sender_name: str = "恒安物业", timeout: float = 10,
                 client: httpx.AsyncClient | None = None) -> None:
        if httpx.URL(url).scheme not in ("http", "https"):
            raise ValueError(f"SMS gateway URL must be http(s): {url!r}")
        self.url, self.api_key, self.sender_name, self.timeout = url, api_key, sender_name, timeout
        self._client, self._owns_client = client or httpx.AsyncClient(timeout=timeout), client is None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(self, notice: Notice) -> str:
        """The gateway's "message_id", or "" when it names none."""
        phone = normalise_phone(notice.to)
        if notice.channel != "sms" or phone is None:
            raise SendFailed(f"not an SMS to a mainland mobile ({notice.channel})", transient=False)
        headers = {"Idempotency-Key": notice.notice_id}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {"to": phone, "text": notice.text, "sign": self.sender_name, "ref": notice.notice_id}
        try:
            resp = await self._client.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise SendFailed(f"SMS gateway timed out: {type(exc).__name__}", transient=True) from exc
        except httpx.RequestError as exc:
            raise SendFailed(f"SMS gateway unreachable: {type(exc).__name__}: {exc}", transient=True) from exc
        status = resp.status_code
        if resp.is_success:
            try:
                data = resp.json()
            except ValueError:
                return ""
            mid = data.get("message_id") if isinstance(data, dict) else None
            return "" if mid is None else str(mid)
        reason = f"SMS gateway HTTP {status}: {_text(resp.text)}"
        if status in (408, 429) or status >= 500:
            wait = resp.headers.get("Retry-After", "")  # seconds only; an HTTP-date is left to `backoff`
            raise SendFailed(reason, transient=True, retry_after=float(wait) if wait.isdigit() else None)
        raise SendFailed(reason, transient=False)
