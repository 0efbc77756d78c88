"""Email rules for fax gateways: auto-replies and bounces, the sender's fax number, the fax line, the message key."""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

AUTO_SUBJECTS = ("auto:", "automatic reply", "out of office", "自动回复", "undeliverable", "delivery status",
                 "returned mail", "mail delivery failed", "退信", "delivery failure")
FAX_FROM_HEADERS = ("X-Fax-From", "X-Fax-Number", "X-FaxNumber", "X-Sender-Fax", "X-CallerID", "X-Caller-ID")
FAX_TO_HEADERS = ("X-Fax-To", "X-Called-Number", "X-Fax-Line", "X-Fax-DID")
_FAX_IN_SUBJECT = re.compile(r"(?:传真|fax)[^0-9+]{0,12}(\+?\d[\d\- ]{5,}\d)", re.IGNORECASE)
_DIGITS = re.compile(r"\+?\d[\d\- ]{5,}\d")
SCAN_TYPES = ("image/tiff", "image/tif", "application/pdf", "image/png", "image/jpeg", "image/jpg")


def automatic_reason(msg: EmailMessage) -> str:
    """Why this message is machine-made (auto-reply, bounce, report) and must not be answered; '' if human."""
    auto = (msg.get("Auto-Submitted") or "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    if msg.get_content_type() == "multipart/report":
        return "delivery or read report (multipart/report)"
    if (msg.get("Precedence") or "").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {msg.get('Precedence')}"
    if msg.get("X-Autoreply") or msg.get("X-Autorespond"):
        return "X-Autoreply"
    sender = parseaddr(str(msg.get("From") or ""))[1].lower()
    if sender.split("@")[0] in ("mailer-daemon", "postmaster") or (msg.get("Return-Path") or "").strip() == "<>":
        return "bounce from the mail system"
    subject = str(msg.get("Subject") or "").strip().lower()
    if subject.startswith(AUTO_SUBJECTS):
        return f"automatic subject: {subject[:60]}"
    return ""


def sender_fax_number(msg: EmailMessage) -> str:
    """The sending fax machine's number: a gateway header, else the subject, else the From display name."""
    for h in FAX_FROM_HEADERS:
        if msg.get(h):
            return _clean(str(msg.get(h)))
    if m := _FAX_IN_SUBJECT.search(str(msg.get("Subject") or "")):
        return _clean(m.group(1))
    display = parseaddr(str(msg.get("From") or ""))[0]
    return _clean(m.group(0)) if (m := _DIGITS.search(display)) else ""


def called_fax_line(msg: EmailMessage, recipients: list[str]) -> str:
    """Which of our fax lines it was sent to: a gateway header, else digits in the recipient address."""
    for h in FAX_TO_HEADERS:
        if msg.get(h):
            return _clean(str(msg.get(h)))
    addresses = recipients or [a for _, a in getaddresses([str(msg.get("To") or "")])]
    for addr in addresses:
        if m := _DIGITS.search(addr.split("@")[0]):
            return _clean(m.group(0))
    return ""


def message_key(msg: EmailMessage, raw: bytes) -> str:
    """Message-ID identifies the email; without one, its bytes do."""
    mid = (msg.get("Message-ID") or "").strip().strip("<>")
    return f"mid:{mid}" if mid else f"eml:{hashlib.sha256(raw).hexdigest()}"


def _clean(number: str) -> str:
    return re.sub(r"[^\d+\-]", "", number.replace(" ", "-")).strip("-")[:40]


def is_scan(content_type: str, filename: str) -> bool:
    name = filename.lower()
    return content_type.lower() in SCAN_TYPES or name.endswith((".tif", ".tiff", ".pdf", ".png", ".jpg", ".jpeg"))
