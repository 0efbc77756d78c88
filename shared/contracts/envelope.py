"""The envelope every message on Kafka carries: identity, causality, tenant scope, and the payload."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

P = TypeVar("P", bound=BaseModel)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Payload(BaseModel):
    """Base of every event and command body: unknown fields are refused so a typo is an error, not data loss."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Envelope(BaseModel, Generic[P]):
    """One message on the wire. `complaint_id` is the Kafka key, so a case's messages keep their order per topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique id; consumers dedupe on it.")
    type: str = Field(description="Message type, the payload model's name, e.g. ComplaintReceived.")
    schema_version: int = Field(1, ge=1, description="Bumped on a breaking change; handled side by side.")
    occurred_at: datetime = Field(default_factory=utcnow, description="When it happened, UTC.")
    correlation_id: uuid.UUID = Field(description="The complaint's first event id; ties a whole case together.")
    causation_id: uuid.UUID | None = Field(None, description="The message that caused this one.")
    group_id: str = Field(min_length=1, max_length=64, description="Property group (集团) the case belongs to.")
    estate_id: str = Field(min_length=1, max_length=64, description="Estate (项目/小区) the case belongs to.")
    complaint_id: str = Field(min_length=1, max_length=64, description="The case; also the Kafka message key.")
    payload: P

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("occurred_at must carry a timezone")
        return v.astimezone(UTC)

    def child(self, payload: BaseModel, **overrides: Any) -> Envelope[Any]:
        """A message caused by this one: same case, tenant and correlation."""
        fields: dict[str, Any] = dict(
            type=type(payload).__name__, correlation_id=self.correlation_id, causation_id=self.event_id,
            group_id=self.group_id, estate_id=self.estate_id, complaint_id=self.complaint_id, payload=payload,
        )
        fields.update(overrides)
        return Envelope[type(payload)](**fields)  # type: ignore[valid-type]
