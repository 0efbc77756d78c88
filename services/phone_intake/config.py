"""Settings of the phone intake service."""

from shared.settings import ServiceSettings


class PhoneIntakeSettings(ServiceSettings):
    service_port: int = 8002
    max_body_bytes: int = 40 * 1024 * 1024  # a recording may come along
