"""Message contracts: the envelope, lifecycle events, commands, and the topic catalogue."""

from shared.contracts.catalog import TOPICS, BadMessage, encode, parse, topic_of
from shared.contracts.commands import CorrectClassification, RecordCallback, ResolveComplaint
from shared.contracts.envelope import Envelope, Payload, utcnow
from shared.contracts.events import (
    Assignee,
    Attachment,
    Complainant,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintReceived,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintTriaged,
    FollowUpRecorded,
    SlaDue,
)

__all__ = [
    "TOPICS", "Assignee", "Attachment", "BadMessage", "Complainant", "ComplaintAssigned", "ComplaintClosed",
    "CorrectClassification",
    "ComplaintReceived", "ComplaintReopened", "ComplaintResolved", "ComplaintTriaged", "Envelope",
    "FollowUpRecorded", "Payload", "RecordCallback", "ResolveComplaint", "SlaDue", "encode", "parse",
    "topic_of", "utcnow",
]
