"""Settings of the archive service."""

from typing import Literal

from pydantic import Field

from shared.settings import ServiceSettings


class ArchiveSettings(ServiceSettings):
    service_port: int = 8014
    retention_days: int = Field(3 * 365, ge=1, description="Days after closing before personal data goes.")
    retention_action: Literal["anonymise", "purge"] = "anonymise"
    retention_sweep_hours: float = Field(24.0, gt=0, description="How often the retention sweep runs.")
    rollup_sweep_seconds: float = Field(30.0, gt=0, description="How often unsettled rollup deltas are retried.")
