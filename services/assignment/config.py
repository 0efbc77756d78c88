"""Settings of the assignment service."""

from shared.settings import ServiceSettings


class AssignmentSettings(ServiceSettings):
    service_port: int = 8012
