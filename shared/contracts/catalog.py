"""Which message travels on which topic, who publishes it and who consumes it; parsing by type.

Topic names are `<topic_prefix>.<name>` with the prefix from settings; a DLQ is `<topic>.dlq`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.contracts import commands, events
from shared.contracts.envelope import Envelope, Payload


@dataclass(frozen=True)
class TopicSpec:
    name: str
    messages: tuple[type[Payload], ...]
    publishers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("complaint.received", (events.ComplaintReceived,), ("web_intake", "operator_api"),
              ("triage", "archive"), "New complaints from every intake channel (受理)."),
    TopicSpec("complaint.triaged", (events.ComplaintTriaged,), ("triage",), ("assignment", "archive"),
              "Classification, severity and validity (判定)."),
    TopicSpec("complaint.assigned", (events.ComplaintAssigned, events.ComplaintQueued, events.ComplaintSentBack,
                                     events.ProgressRecorded),
              ("assignment",), ("archive",),
              "Responsible person and SLA due times (派单), waiting (待派), send-back (退单), progress (接单/到场)."),
    TopicSpec("complaint.sla", (events.ClocksPaused, events.ClocksResumed, events.SlaWarning,
                                events.ComplaintEscalated), ("assignment",), ("archive",),
              "Clocks paused and resumed, warnings before a breach and escalations up the ladder (督办)."),
    TopicSpec("org.directory", (events.DirectoryChanged,), ("assignment",),
              ("assignment", "operator_api", "triage", "web_intake", "phone_intake", "letter_intake", "fax_intake"),
              "Organisation directory changes (组织架构): estates, staff, rotas, rules, holiday notices."),
    TopicSpec("org.credentials", (events.ApiKeyChanged,), ("operator_api",),
              ("web_intake", "phone_intake", "letter_intake", "fax_intake"),
              "Integration API keys created and revoked by a group admin (接口密钥), as hashes; kept forever."),
    TopicSpec("complaint.resolved", (events.ComplaintResolved,), ("assignment",), ("followup", "archive"),
              "Handler reported the case solved (处理)."),
    TopicSpec("complaint.followup", (events.FollowUpRecorded, events.ComplaintReopened, events.ComplaintClosed,
                                     events.CallbackScheduled),
              ("followup",), ("assignment", "archive"), "Callback tasks and attempts, reopen and close (回访/归档)."),
    TopicSpec("complaint.notice", (events.NoticeSent, events.NoticeFailed), ("followup",), ("archive",),
              "Status notices to the complainant by SMS and email (告知), delivered or given up."),
    TopicSpec("communication.recorded", (events.CommunicationRecorded,), ("operator_api", "phone_intake"),
              ("archive",), "Contacts with any counterpart, complaint or not (沟通记录), for the customer archive."),
    TopicSpec("archive.import", (events.HistoryImported,), ("operator_api",), ("archive",),
              "Past cases from a previous system, filed into the archive only (历史数据迁移)."),
    TopicSpec("command.assignment", (commands.ResolveComplaint, commands.AcknowledgeComplaint,
                                     commands.RecordFirstResponse, commands.SendBackComplaint,
                                     commands.ReassignComplaint, commands.PauseClocks, commands.ResumeClocks),
              ("operator_api",), ("assignment",), "Commands for the assignment service."),
    TopicSpec("command.followup", (commands.RecordCallback,), ("operator_api",), ("followup",),
              "Commands for the follow-up service."),
    TopicSpec("command.triage", (commands.CorrectClassification,), ("operator_api",), ("triage",),
              "Operators' corrections of a classification."),
)

MESSAGE_TYPES: dict[str, type[Payload]] = {m.__name__: m for t in TOPICS for m in t.messages}


class BadMessage(ValueError):
    """A message that can never be processed as it is: it goes to the DLQ with this reason."""


def parse(raw: bytes) -> Envelope[Any]:
    """Decode and validate one message; raise BadMessage with a readable reason."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadMessage(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadMessage("not a JSON object")
    kind = data.get("type")
    payload_model = MESSAGE_TYPES.get(kind) if isinstance(kind, str) else None
    if payload_model is None:
        raise BadMessage(f"unknown message type: {kind!r}")
    version = data.get("schema_version", 1)
    if version != 1:
        raise BadMessage(f"unsupported schema_version {version!r} for {kind}")
    try:
        return Envelope[payload_model].model_validate(data)  # type: ignore[valid-type]
    except ValidationError as exc:
        raise BadMessage(f"invalid {kind}: {_short(exc)}") from exc


def parse_obj(data: dict[str, Any]) -> Envelope[Any]:
    """Validate an envelope given as a JSON object (e.g. inside an import), with the same reasons as parse."""
    return parse(json.dumps(data, ensure_ascii=False, default=str).encode())


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])


def encode(envelope: BaseModel) -> bytes:
    return envelope.model_dump_json().encode()


def topic_of(payload_type: type[Payload]) -> str:
    """Unprefixed topic name a message type travels on."""
    for spec in TOPICS:
        if payload_type in spec.messages:
            return spec.name
    raise KeyError(payload_type.__name__)
