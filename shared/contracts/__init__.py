"""Message contracts: the envelope, lifecycle events, commands, and the topic catalogue."""

from shared.contracts.catalog import TOPICS, BadMessage, encode, parse, parse_obj, topic_of
from shared.contracts.commands import (
    AcknowledgeComplaint,
    CorrectClassification,
    PauseClocks,
    ReassignComplaint,
    RecordCallback,
    RecordFirstResponse,
    ResolveComplaint,
    ResumeClocks,
    SendBackComplaint,
)
from shared.contracts.envelope import Envelope, Payload, utcnow
from shared.contracts.events import (
    ApiKeyChanged,
    Assignee,
    Attachment,
    CallbackScheduled,
    Candidate,
    ClocksPaused,
    ClocksResumed,
    CommunicationRecorded,
    Complainant,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintQueued,
    ComplaintReceived,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintSentBack,
    ComplaintTriaged,
    DirectoryChanged,
    FollowUpRecorded,
    HistoryImported,
    NoticeFailed,
    NoticeSent,
    ProgressRecorded,
    SlaDue,
    SlaWarning,
)

__all__ = [
    "TOPICS", "Assignee", "Attachment", "BadMessage", "Complainant", "ComplaintAssigned", "ComplaintClosed",
    "CorrectClassification",
    "ComplaintReceived", "ComplaintReopened", "ComplaintResolved", "ComplaintTriaged", "Envelope",
    "FollowUpRecorded", "Payload", "RecordCallback", "ResolveComplaint", "SlaDue", "encode", "parse",
    "topic_of", "utcnow",
    "parse_obj", "AcknowledgeComplaint", "PauseClocks", "ReassignComplaint", "RecordFirstResponse",
    "ResumeClocks", "SendBackComplaint", "ClocksPaused", "ClocksResumed", "ComplaintEscalated", "ComplaintQueued",
    "ComplaintSentBack", "DirectoryChanged", "ApiKeyChanged", "ProgressRecorded", "SlaWarning", "Candidate",
    "CallbackScheduled",
    "CommunicationRecorded", "HistoryImported", "NoticeFailed", "NoticeSent",
]
