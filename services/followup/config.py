"""Settings of the follow-up service."""

from shared.settings import ServiceSettings


class FollowUpSettings(ServiceSettings):
    service_port: int = 8013
    max_callback_attempts: int = 3
    callback_hour: int = 10
