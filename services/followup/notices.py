"""Status notices (告知): one document per notice, sent and retried in the background, never blocking the case.

A notice is created (idempotently, by id `<case>:<point>:<round>:<channel>`) when both the point (received,
assigned, resolved, closed) and the complainant's contact are known. The sweep sends what is due; a transient
failure waits `backoff(attempts)` and tries again up to MAX_ATTEMPTS; a permanent one, or a channel with no
sender configured, is recorded as failed. Each outcome is published (NoticeSent / NoticeFailed) through the
notice document's outbox, and the archive files it on the case.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.followup.notify import MAX_ATTEMPTS, Notice, Sender, SendFailed, backoff, normalise_phone, render
from shared.contracts import Envelope, NoticeFailed, NoticeSent
from shared.masking import mask_phone
from shared.org import OrgDirectory
from shared.outbox import OutboxRelay, outbox_doc
from shared.settings import ServiceSettings
from shared.terms import zh

log = logging.getLogger(__name__)


def _mask(channel: str, to: str) -> str:
    if channel == "sms":
        return mask_phone(to)
    name, _, domain = to.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


class NoticeDesk:
    def __init__(self, collection: AsyncCollection, relay: OutboxRelay, settings: ServiceSettings,
                 org: OrgDirectory, senders: dict[str, Sender], retry_scale: float = 1.0) -> None:
        self.retry_scale = retry_scale
        self.collection = collection
        self.relay = relay
        self.settings = settings
        self.org = org
        self.senders = senders

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", 1), ("next_try_at", 1)])

    async def ensure(self, case: dict[str, Any] | None) -> int:
        """Create the notices this case's points call for; returns how many were new."""
        contact = (case or {}).get("contact")
        if not case or not contact:
            return 0
        wanted = {f"{case['_id']}:{p['point']}:{p['round']}:{channel}": (p, channel, to)
                  for p in case.get("points", []) for channel, to in self._addresses(contact)}
        made: set[str] = set()
        if len(wanted) > 1:  # those made for earlier points are not inserted again (a refused insert costs more)
            made = {d["_id"] for d in await self.collection.find({"_id": {"$in": list(wanted)}}, {"_id": 1})
                    .to_list(None)}
        created = 0
        for notice_id, (p, channel, to) in wanted.items():
            if notice_id not in made:
                created += await self._create(case, notice_id, p, channel, to)
        return created

    def _addresses(self, contact: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        mobile = normalise_phone(contact.get("phone", ""))
        if mobile:
            out.append(("sms", mobile))
        if contact.get("email"):
            out.append(("email", contact["email"]))
        return out or [("none", "")]

    async def _create(self, case: dict[str, Any], notice_id: str, p: dict[str, Any], channel: str, to: str) -> int:
        contact = case["contact"]
        estate = self.org.estate(case["estate_id"])
        group = self.org.group(case["group_id"])
        subject, text = render(p["point"], tracking_no=contact.get("tracking_no", ""),
                               estate_name=estate.name if estate else "", assignee_name=p.get("assignee", ""),
                               category_label=zh(p.get("department", "")),
                               hotline=(group.hotlines[0] if group and group.hotlines else ""))
        doc: dict[str, Any] = {
            "_id": notice_id, "complaint_id": case["_id"], "group_id": case["group_id"],
            "estate_id": case["estate_id"], "tracking_no": contact.get("tracking_no", ""), "point": p["point"],
            "round": p["round"], "channel": channel, "to": to, "subject": subject, "text": text, "attempts": 0,
            "status": "pending", "next_try_at": datetime.now(UTC), "created_at": datetime.now(UTC), "outbox": {},
        }
        reason = ""
        if channel == "none":
            reason = "无手机号或邮箱 no mobile number or email to notify"
        elif channel not in self.senders:
            reason = f"未配置{'短信网关' if channel == 'sms' else '邮件服务器'} no {channel} sender configured"
        if reason:
            doc.update(status="failed", last_error=reason, next_try_at=None)
            doc.update(self._outbox(doc, NoticeFailed(notice_id=notice_id, point=doc["point"], channel=channel,
                                                      to_masked=_mask(channel, to), reason=reason, attempts=0)))
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return 0
        if doc["outbox"]:
            await self.relay.try_flush(notice_id, doc["outbox"])
        return 1

    def _outbox(self, doc: dict[str, Any], payload: Any) -> dict[str, Any]:
        """The notice document's outbox fields holding this event (shared.outbox.outbox_doc)."""
        cid = doc["complaint_id"]
        try:
            correlation = uuid.UUID(cid)
        except ValueError:
            correlation = uuid.uuid4()
        env = Envelope[type(payload)](  # type: ignore[misc]
            type=type(payload).__name__, correlation_id=correlation, group_id=doc["group_id"],
            estate_id=doc["estate_id"], complaint_id=cid, payload=payload)
        return outbox_doc(self.settings, [env])

    async def send_due(self, now: datetime | None = None, batch: int = 50) -> int:
        """Send every pending notice whose time has come; returns how many were tried."""
        now = now or datetime.now(UTC)
        due = await self.collection.find({"status": "pending", "next_try_at": {"$lte": now}}) \
            .sort("next_try_at", 1).limit(batch).to_list(None)
        for doc in due:
            await self._try(doc)
        return len(due)

    async def _try(self, doc: dict[str, Any]) -> None:
        attempts = doc["attempts"] + 1
        masked = _mask(doc["channel"], doc["to"])
        update: dict[str, Any] = {"attempts": attempts, "last_try_at": datetime.now(UTC)}
        try:
            try:
                notice = Notice(notice_id=doc["_id"], complaint_id=doc["complaint_id"],
                                tracking_no=doc["tracking_no"], point=doc["point"], channel=doc["channel"],
                                to=doc["to"], text=doc["text"], subject=doc["subject"])
            except ValueError as exc:  # a notice that can never be sent is recorded, not retried forever
                raise SendFailed(f"invalid notice: {exc}", transient=False) from exc
            provider_id = await self.senders[doc["channel"]].send(notice)
        except SendFailed as exc:
            if exc.transient and attempts < MAX_ATTEMPTS:
                wait = backoff(attempts, jitter=True) * self.retry_scale
                update.update(next_try_at=datetime.now(UTC) + timedelta(seconds=wait), last_error=exc.reason)
                log.info("notice %s failed (%s), retry %d later", doc["_id"], exc.reason, attempts)
            else:
                update.update(status="failed", last_error=exc.reason, next_try_at=None,
                              **self._outbox(doc, NoticeFailed(notice_id=doc["_id"], point=doc["point"],
                                                               channel=doc["channel"], to_masked=masked,
                                                               reason=exc.reason, attempts=attempts)))
        else:
            update.update(status="sent", sent_at=datetime.now(UTC), provider_id=provider_id, next_try_at=None,
                          **self._outbox(doc, NoticeSent(notice_id=doc["_id"], point=doc["point"],
                                                         channel=doc["channel"], to_masked=masked,
                                                         text=doc["text"], attempts=attempts,
                                                         provider_id=provider_id or "")))
        result = await self.collection.update_one({"_id": doc["_id"], "attempts": doc["attempts"]}, {"$set": update})
        if result.matched_count and update.get("outbox"):
            await self.relay.try_flush(doc["_id"], update["outbox"])
