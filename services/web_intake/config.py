"""Settings of the web intake service."""

from shared.settings import ServiceSettings


class WebIntakeSettings(ServiceSettings):
    service_port: int = 8001
    max_body_bytes: int = 12 * 1024 * 1024
