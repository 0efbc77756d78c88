"""Fax intake handler: one email (from SMTP or IMAP) becomes one complaint; machine mail is ignored."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from services.fax_intake.domain import (
    automatic_reason,
    called_fax_line,
    is_scan,
    message_key,
    sender_fax_number,
)
from shared.intake import ComplainantIn, ComplaintIn, IntakeStore, Submission
from shared.keyring import Grant
from shared.org import OrgDirectory, line_owner
from shared.originals import Original
from shared.scanning import PLACEHOLDER, ScanFile, details_from_text, read_scans, review_reason
from shared.terms import Channel

log = logging.getLogger(__name__)


def place_fax(org: OrgDirectory, line: str, default_group: str) -> tuple[str, str, str]:
    """(group, estate, review reason) for the fax line the message was sent to."""
    owner = line_owner(org, line, "fax_numbers") if line else None
    group_id, estate_id = owner if owner else (default_group, None)
    if estate_id is None:
        group = org.group(group_id)
        reason = "fax line not recognised" if owner is None else "group fax line: estate not identified"
        return group_id, group.default_estate if group else "", reason
    return group_id, estate_id, ""


def _parts(msg: EmailMessage) -> tuple[list[ScanFile], list[Original], str]:
    scans, others, body = [], [], ""
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True) or b""
        name = part.get_filename() or "attachment"
        ctype = part.get_content_type()
        if is_scan(ctype, name):
            scans.append(ScanFile(data, name, ctype))
        else:
            others.append(Original(data, name, ctype, "attachment"))
    text_part = msg.get_body(preferencelist=("plain",))
    if text_part is not None:
        body = text_part.get_content().strip()
    return scans, others, body


class OutOfScope(PermissionError):
    """The fax gateway's key does not cover the line this fax was sent to."""


async def take_email(*, store: IntakeStore, org: OrgDirectory, raw: bytes, recipients: list[str],
                     default_group: str, threshold: float, grant: Grant | None = None) -> dict[str, Any]:
    """Keep the raw .eml, OCR the fax pages, publish one complaint; the same Message-ID twice is one case."""
    msg = message_from_bytes(raw, policy=policy.default)
    if reason := automatic_reason(msg):
        await store.db["ignored_mail"].insert_one({"at": datetime.now(UTC), "reason": reason,
                                                   "raw": raw[:200_000].decode("utf-8", "replace")})
        return {"kind": "ignored", "reason": reason}
    key = message_key(msg, raw)
    group_id, estate_id, place_reason = place_fax(org, called_fax_line(msg, recipients), default_group)
    if grant is not None and not grant.covers(group_id, None if place_reason else estate_id):
        raise OutOfScope(f"this key may not submit faxes for {estate_id if not place_reason else group_id}")
    if dup := await store.find_duplicate(group_id, key):
        return {"kind": "complaint", **dup.model_dump()}
    scans, others, body_text = _parts(msg)
    reading = await read_scans(scans)
    text = reading.text or body_text
    reasons = [r for r in (place_reason, review_reason(reading, threshold) if scans else "") if r]
    found = details_from_text(text)
    sub = Submission(
        body=ComplaintIn(estate_id=estate_id, text=(text or PLACEHOLDER)[:20_000],
                         complainant=ComplainantIn(name=found.name, phone=sender_fax_number(msg) or found.phone,
                                                   unit=found.unit)),
        channel=Channel.fax if scans else Channel.email, receiver="传真网关 fax gateway", source_ref=key[:255],
        needs_review=bool(reasons), review_reason="; ".join(reasons),
        originals=[Original(raw, "fax.eml", "message/rfc822", "email"),
                   *[Original(s.data, s.name, s.content_type, "scan") for s in scans], *others],
    )
    accepted = await store.accept(sub, raw=raw[:1_000_000], group_id=group_id, idempotency_key=key)
    return {"kind": "complaint", **accepted.model_dump(), "pages": reading.pages,
            "needs_review": sub.needs_review, "review_reason": sub.review_reason}


async def keep_broken(store: IntakeStore, raw: bytes, exc: Exception) -> None:
    """An email we could not process is kept with the reason, so it never blocks the mailbox nor vanishes."""
    log.exception("email could not be processed; kept for review")
    await store.keep_rejected(raw, f"email could not be processed: {type(exc).__name__}: {exc}", "fax")
