"""Settings of the triage service."""

from shared.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    service_port: int = 8011
    review_below_confidence: float = 0.5
