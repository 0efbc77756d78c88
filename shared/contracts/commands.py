"""Commands: requests in the imperative, sent by the operator API to the service that owns the decision."""

from __future__ import annotations

from pydantic import Field, model_validator

from shared.contracts.envelope import Payload
from shared.terms import SUBCATEGORY_OF, Satisfaction, Severity


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


class CorrectClassification(Payload):
    """Ask triage to replace its judgement with an operator's; stored, and fed to the next training run."""

    subcategory: str = Field(description="细类, e.g. repair, gas, noise")
    severity: Severity
    valid: bool
    note: str = Field("", max_length=2_000, description="Why it was corrected")
    by: str = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _known_subcategory(self) -> CorrectClassification:
        if self.subcategory not in SUBCATEGORY_OF:
            raise ValueError(f"unknown subcategory {self.subcategory!r}; one of {', '.join(sorted(SUBCATEGORY_OF))}")
        if (SUBCATEGORY_OF[self.subcategory] == "emergency") != (self.severity is Severity.emergency):
            raise ValueError("emergency subcategories, and only they, have severity emergency")
        return self


class AcknowledgeComplaint(Payload):
    """The handler takes the case (接单): stops the acknowledge clock."""

    by: str = Field(min_length=1, max_length=100)


class RecordFirstResponse(Payload):
    """The handler is on site or has first responded (到场/首次响应): stops that clock."""

    by: str = Field(min_length=1, max_length=100)
    note: str = Field("", max_length=2_000)


class SendBackComplaint(Payload):
    """The handler sends a wrongly routed case back (退单) within the group's window; it is re-routed (改派)."""

    by: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=2, max_length=2_000)
    to_department: str = Field("", max_length=64, description="Where it belongs, if the handler knows.")


class ReassignComplaint(Payload):
    """A supervisor gives the case to another person by hand (改派)."""

    by: str = Field(min_length=1, max_length=100)
    to_staff_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=2, max_length=2_000)


class PauseClocks(Payload):
    """Stop the clocks while waiting on the complainant (e.g. no access to the flat until Saturday)."""

    by: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=2, max_length=2_000)


class ResumeClocks(Payload):
    """Run the clocks again from where they stopped."""

    by: str = Field(min_length=1, max_length=100)


COMMANDS: tuple[type[Payload], ...] = (ResolveComplaint, RecordCallback, CorrectClassification,
                                       AcknowledgeComplaint, RecordFirstResponse, SendBackComplaint,
                                       ReassignComplaint, PauseClocks, ResumeClocks)
