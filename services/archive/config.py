"""Settings of the archive service."""

from typing import Literal

from pydantic import Field

from shared.settings import ServiceSettings


class ArchiveSettings(ServiceSettings):
    service_port: int = 8014
    retention_days: int = Field(3 * 365, ge=1, description="Days after closing before personal data goes.")
    retention_action: Literal["anonymise", "purge"] = "anonymise"
    retention_sweep_hours: float = Field(24.0, gt=0, description="How often the retention sweep runs.")
    rollup_sweep_seconds: float = Field(
        300.0, gt=0, description="How often unsettled rollup deltas are looked for (and once at start). Each filing "
                                 "settles its own, and a redelivery after a crash settles it again, so this only "
                                 "catches the rare rest; on FerretDB v1 it reads every case record.")
