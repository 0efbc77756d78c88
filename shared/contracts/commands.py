"""Commands: requests in the imperative, sent by the operator API to the service that owns the decision."""

from __future__ import annotations

from pydantic import Field, model_validator

from shared.contracts.envelope import Payload
from shared.terms import Satisfaction


class ResolveComplaint(Payload):
    """Ask assignment to mark the case solved by its handler."""

    note: str = Field(min_length=1, max_length=5_000)
    by: str = Field(min_length=1, max_length=100)


class RecordCallback(Payload):
    """Ask follow-up to record one callback attempt (回访)."""

    reached: bool
    satisfaction: Satisfaction | None = None
    note: str = Field("", max_length=5_000)
    by: str = Field("", max_length=100)

    @model_validator(mode="after")
    def _reached_needs_satisfaction(self) -> RecordCallback:
        if self.reached and self.satisfaction is None:
            raise ValueError("a reached complainant gives a satisfaction level")
        if not self.reached and self.satisfaction is not None:
            raise ValueError("satisfaction is only given when the complainant was reached")
        return self


COMMANDS: tuple[type[Payload], ...] = (ResolveComplaint, RecordCallback)
