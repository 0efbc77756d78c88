"""Intake shared by every channel: keep the raw input, give a tracking number, publish ComplaintReceived.

The raw submission and the event it must publish are one MongoDB document (outbox), so an accepted
complaint is never lost: if Kafka is down the sweeper publishes it later.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared import metrics
from shared.contracts import Attachment, Complainant, ComplaintReceived, Envelope
from shared.directory_feed import follow_directory
from shared.keyring import KeyRing
from shared.org import OrgDirectory, load_org
from shared.originals import Original, OriginalsStore
from shared.outbox import OutboxRelay, outbox_doc
from shared.runtime import Runtime, create_runtime
from shared.settings import ServiceSettings
from shared.terms import Channel

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_ID = r"^[A-Za-z0-9_.-]+$"
_PHONE = re.compile(r"^[0-9+\-() ]{0,40}$")


class ComplainantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field("", max_length=100, description="投诉人姓名 / name")
    phone: str = Field("", max_length=40, description="联系电话 / phone")
    unit: str = Field("", max_length=200, description="住址 楼栋/单元/房号 / building, unit, room")
    email: str = Field("", max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
                       description="电子邮箱 / email for status notices (optional)")

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        if not _PHONE.match(v):
            raise ValueError("phone may hold digits, spaces and + - ( ) only")
        return v


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field("application/octet-stream", max_length=255)
    content_base64: str = Field("", max_length=7_000_000, description="File content, base64 (≤ 5 MB).")

    @field_validator("content_base64")
    @classmethod
    def _base64(cls, v: str) -> str:
        try:
            data = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("content_base64 is not valid base64") from exc
        if len(data) > 5 * 1024 * 1024:
            raise ValueError("an attachment may be at most 5 MB")
        return v


class ComplaintIn(BaseModel):
    """A complaint as a channel submits it (投诉登记)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    estate_id: str = Field(min_length=1, max_length=64, pattern=_ID, description="项目/小区 id")
    complainant: ComplainantIn
    text: str = Field(min_length=1, max_length=20_000, description="投诉内容 / what happened")
    demand: str = Field("", max_length=2_000, description="诉求 / requested remedy")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


class Accepted(BaseModel):
    complaint_id: str
    tracking_no: str
    status: str = "received"
    duplicate: bool = Field(False, description="True when this idempotency key was already accepted.")


SOURCE_LETTER = {"web_intake": "W", "operator_api": "O", "phone_intake": "P", "letter_intake": "L",
                 "fax_intake": "F"}


@dataclass
class Submission:
    """Everything a channel knows about one complaint, before it becomes ComplaintReceived."""

    body: ComplaintIn
    channel: Channel
    receiver: str
    source_ref: str = ""
    reported_by: str = ""
    needs_review: bool = False
    review_reason: str = ""
    originals: list[Original] = field(default_factory=list)


class IntakeStore:
    """The intake service's own collections: submissions (raw + outbox), counters, originals, rejects."""

    def __init__(self, db: AsyncDatabase, relay: OutboxRelay, settings: ServiceSettings, source: str) -> None:
        self.db = db
        self.submissions = db["submissions"]
        self.relay = relay
        self.settings = settings
        self.source = source
        self.originals = OriginalsStore(db, source)
        self._tasks: set[asyncio.Task[None]] = set()

    async def ensure_indexes(self) -> None:
        await self.submissions.create_index([("idem", 1)], unique=True)
        await self.submissions.create_index([("tracking_no", 1)], unique=True)

    async def next_tracking_no(self, now: datetime) -> str:
        day = now.astimezone(LOCAL_TZ).strftime("%Y%m%d")
        ctr = await self.db["counters"].find_one_and_update(
            {"_id": f"{self.source}:{day}"}, {"$inc": {"seq": 1}}, upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return f"TS{day}{SOURCE_LETTER.get(self.source, 'X')}{ctr['seq']:06d}"

    async def find_duplicate(self, group_id: str, idempotency_key: str | None) -> Accepted | None:
        if not idempotency_key:
            return None
        existing = await self.submissions.find_one({"idem": f"{group_id}:{idempotency_key}"}, {"tracking_no": 1})
        if existing:
            return Accepted(complaint_id=existing["_id"], tracking_no=existing["tracking_no"], duplicate=True)
        return None

    async def accept(self, sub: Submission, *, raw: bytes, group_id: str, idempotency_key: str | None) -> Accepted:
        """Keep the input and its originals, then publish; the same idempotency key twice makes one complaint."""
        if dup := await self.find_duplicate(group_id, idempotency_key):
            return dup
        now = datetime.now(UTC)
        complaint_id = str(uuid.uuid4())
        uploads = [Original(base64.b64decode(a.content_base64), a.name, a.content_type, "attachment")
                   for a in sub.body.attachments]
        attachments = [await self.originals.put(o, complaint_id) for o in [*sub.originals, *uploads]]
        idem = f"{group_id}:{idempotency_key}" if idempotency_key else None
        for _ in range(5):
            tracking_no = await self.next_tracking_no(now)
            doc = self._submission(sub, raw=raw, group_id=group_id, idem=idem, now=now, complaint_id=complaint_id,
                                   tracking_no=tracking_no, attachments=attachments,
                                   source_ref=sub.source_ref or idempotency_key or "")
            try:
                await self.submissions.insert_one(doc)
                break
            except DuplicateKeyError:
                if dup := await self.find_duplicate(group_id, idempotency_key):
                    return dup  # the same key raced in twice: the first one wins
                # another instance took this tracking number: take the next one
        else:
            raise RuntimeError("could not allocate a tracking number")
        task = asyncio.create_task(self.relay.try_flush(complaint_id, doc["outbox"]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        metrics.RECEIVED.labels(self.source, sub.channel.value).inc()
        return Accepted(complaint_id=complaint_id, tracking_no=tracking_no)

    def _submission(self, sub: Submission, *, raw: bytes, group_id: str, idem: str | None, now: datetime,
                    complaint_id: str, tracking_no: str, attachments: list[Attachment],
                    source_ref: str) -> dict[str, Any]:
        """The raw submission and the ComplaintReceived it must publish, as one document."""
        body = sub.body
        event = Envelope[ComplaintReceived](
            type="ComplaintReceived", event_id=uuid.UUID(complaint_id), correlation_id=uuid.UUID(complaint_id),
            group_id=group_id, estate_id=body.estate_id, complaint_id=complaint_id,
            payload=ComplaintReceived(
                tracking_no=tracking_no, channel=sub.channel, received_at=now, text=body.text, demand=body.demand,
                complainant=Complainant(**body.complainant.model_dump()), attachments=attachments,
                receiver=sub.receiver, source_ref=source_ref[:255], reported_by=sub.reported_by,
                needs_review=sub.needs_review, review_reason=sub.review_reason[:500],
            ),
        )
        return {
            "_id": complaint_id, "idem": idem or f"id:{complaint_id}", "tracking_no": tracking_no,
            "group_id": group_id, "estate_id": body.estate_id, "channel": sub.channel.value, "received_at": now,
            "receiver": sub.receiver, "raw": raw.decode("utf-8", errors="replace"),
            **outbox_doc(self.settings, [event]),
        }

    async def keep_rejected(self, raw: bytes, reason: str, channel: str) -> None:
        """Input we could not accept is still kept, with the reason, for an operator to look at."""
        await self.db["rejected"].insert_one({
            "_id": str(uuid.uuid4()), "at": datetime.now(UTC), "channel": channel,
            "raw": raw[:1_000_000].decode("utf-8", errors="replace"), "reason": reason[:2000],
        })
        metrics.REJECTED.labels(self.source, channel).inc()


def create_intake(name: str, settings: ServiceSettings) -> tuple[Runtime, OrgDirectory, IntakeStore, KeyRing]:
    """What every intake channel is made of: its runtime, the organisation directory, its intake store and the
    integration keys it accepts (followed from `org.credentials`, with a copy in its own database)."""
    rt = create_runtime(name, settings)
    store = IntakeStore(rt.db, rt.relay("submissions"), settings, source=name)
    rt.on_start.append(store.ensure_indexes)
    org = load_org(settings.org_seed_path)
    follow_directory(rt.broker, settings, name, org)
    keys = KeyRing(rt.db["api_grants"])
    rt.on_start.append(keys.load)
    rt.background.append(lambda: keys.follow(settings))
    return rt, org, store, keys
