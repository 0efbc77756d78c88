"""Settings of the triage service."""

from pydantic import Field

from shared.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    service_port: int = 8011
    review_below_confidence: float = 0.5
    prune_hours: float = Field(6.0, gt=0, description="How often the linking memory forgets what it no longer "
                                                      "looks at (complaints and households quiet for a month).")
