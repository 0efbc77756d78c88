"""Settings of the archive service."""

from typing import Literal

from pydantic import Field

from shared.settings import ServiceSettings


class ArchiveSettings(ServiceSettings):
    service_port: int = 8014
    # a case's events of the same second are filed in one write (its record and views once, not per event); the
    # lists and the console see a new case up to this much later (docs/adr/0019)
    consumer_batch_linger_ms: int = Field(1000, ge=0, le=10_000,
                                          description="How long the broker holds the archive's fetches.")
    retention_days: int = Field(3 * 365, ge=1, description="Days after closing before personal data goes.")
    retention_action: Literal["anonymise", "purge"] = "anonymise"
    retention_sweep_hours: float = Field(24.0, gt=0, description="How often the retention sweep runs.")
    rollup_settle_seconds: float = Field(
        1.0, gt=0, le=60, description="How often the rollup deltas of the cases filed since are counted, together "
                                      "(the analysis figures lag the cases by this much).")
    rollup_sweep_seconds: float = Field(
        300.0, gt=0, description="How often unsettled rollup deltas are looked for (and once at start). Each "
                                 "instance settles its own filings' (rollup_settle_seconds), so this only catches "
                                 "what a crash left; on FerretDB v1 it reads every case record.")
