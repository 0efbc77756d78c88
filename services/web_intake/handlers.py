"""Web intake handler: keep the raw submission, give a tracking number, publish ComplaintReceived."""

from __future__ import annotations

from services.web_intake.domain import group_of_estate
from shared.intake import Accepted, ComplaintIn, IntakeStore, Submission
from shared.org import OrgDirectory
from shared.terms import Channel


async def submit_complaint(*, store: IntakeStore, org: OrgDirectory, body: ComplaintIn, raw: bytes,
                           idempotency_key: str | None) -> Accepted:
    """Accept one complaint from the web form or the owners' app."""
    group_id = group_of_estate(org, body.estate_id)
    sub = Submission(body=body, channel=Channel.online, receiver="web")
    return await store.accept(sub, raw=raw, group_id=group_id, idempotency_key=idempotency_key)
