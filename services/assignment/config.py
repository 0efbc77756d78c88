"""Settings of the assignment service."""

from pydantic import Field

from shared.settings import ServiceSettings


class AssignmentSettings(ServiceSettings):
    service_port: int = 8012
    timer_sweep_seconds: float = Field(1.0, gt=0, description="How often stored SLA timers are swept.")
