"""Phone intake handler: a finished call becomes a complaint, or a communication record when it is an enquiry."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.archive import queries
from services.phone_intake.domain import Turn, caller_words, demand_of, is_complaint, render
from shared.communications import CommunicationLog
from shared.contracts import CommunicationRecorded
from shared.intake import Accepted, ComplainantIn, ComplaintIn, IntakeStore, Submission
from shared.masking import mask_phone
from shared.org import OrgDirectory, estate_named_in, line_owner
from shared.originals import Original
from shared.scope import Scope
from shared.terms import Channel

_UNIT = re.compile(r"\d{1,3}\s*[栋幢座号楼]\s*(?:\d{1,2}\s*单元)?\s*\d{2,5}\s*(?:室|号)?")


class UnknownLine(LookupError):
    pass


@dataclass
class CallFacts:
    call_id: str
    caller_number: str
    called_line: str
    operator_id: str
    started_at: datetime
    ended_at: datetime
    caller_name: str = ""
    unit: str = ""


@dataclass
class Placement:
    group_id: str
    estate_id: str
    review_reason: str = ""


async def place_call(org: OrgDirectory, archive_db: AsyncDatabase, facts: CallFacts,
                     words: str) -> tuple[Placement, dict[str, Any] | None]:
    """Group and estate of the call: the called line, else the estate named, else the caller's household."""
    owner = line_owner(org, facts.called_line, "phone_lines")
    if owner is None:
        raise UnknownLine(f"unknown called line {facts.called_line!r}")
    group_id, estate_id = owner
    household = await queries.find_household(archive_db, Scope(group_id), facts.caller_number)
    if estate_id is None:
        estate_id = estate_named_in(org, group_id, words) or (household or {}).get("estate_id")
    if estate_id is None:
        group = org.group(group_id)
        return Placement(group_id, group.default_estate if group else "", "estate not identified from the call"), \
            household
    return Placement(group_id, estate_id), household


async def take_call(*, store: IntakeStore, comms: CommunicationLog, org: OrgDirectory, archive_db: AsyncDatabase,
                    facts: CallFacts, turns: list[Turn], raw: bytes, recording: Original | None) -> dict[str, Any]:
    words = caller_words(turns)
    placement, household = await place_call(org, archive_db, facts, words or render(turns))
    if not is_complaint(words or render(turns)):
        return await record_enquiry(comms, placement, facts, turns)
    known = (household or {}).get("complainant") or {}
    unit = facts.unit or (m.group(0) if (m := _UNIT.search(words)) else "") or known.get("unit", "")
    review = placement.review_reason or ("" if words else "no caller turns recognised in the transcript")
    body = ComplaintIn(
        estate_id=placement.estate_id, text=words or render(turns), demand=demand_of(words),
        complainant=ComplainantIn(name=facts.caller_name or known.get("name", ""), phone=facts.caller_number,
                                  unit=unit[:200]),
    )
    originals = [Original(render(turns).encode(), f"call-{facts.call_id}.txt", "text/plain; charset=utf-8",
                          "transcript")]
    if recording is not None:
        originals.append(recording)
    sub = Submission(body=body, channel=Channel.phone, receiver=facts.operator_id, source_ref=facts.call_id,
                     needs_review=bool(review), review_reason=review, originals=originals)
    accepted: Accepted = await store.accept(sub, raw=raw, group_id=placement.group_id,
                                            idempotency_key=f"call:{facts.call_id}")
    return {"kind": "complaint", **accepted.model_dump(), "known_household": household is not None}


async def record_enquiry(comms: CommunicationLog, placement: Placement, facts: CallFacts,
                         turns: list[Turn]) -> dict[str, Any]:
    """An enquiry is a communication (沟通记录), not a complaint; the same call twice is one record."""
    payload = CommunicationRecorded(
        communication_id=str(uuid.uuid4()), at=facts.started_at, place="电话 phone", counterpart_type="owner",
        counterpart_name=facts.caller_name or "来电人", phone=facts.caller_number, unit=facts.unit or "",
        staff=facts.operator_id or "cti", matter=(caller_words(turns) or render(turns))[:5000],
        result="已答复 answered", channel="phone")
    doc, duplicate = await comms.record(
        doc_id=f"{placement.group_id}:{facts.call_id}", group_id=placement.group_id, estate_id=placement.estate_id,
        payload=payload, extra={"transcript": render(turns), "ended_at": facts.ended_at,
                                "counterpart_phone_masked": mask_phone(facts.caller_number)})
    return {"kind": "communication", "communication_id": doc["communication_id"], "duplicate": duplicate}
