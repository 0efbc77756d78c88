"""Settings of the archive service."""

from shared.settings import ServiceSettings


class ArchiveSettings(ServiceSettings):
    service_port: int = 8014
