"""Settings of the operator API."""

from pydantic import Field

from shared.settings import ServiceSettings


class OperatorApiSettings(ServiceSettings):
    service_port: int = 8000
    max_body_bytes: int = 12 * 1024 * 1024
    command_wait_seconds: float = Field(5.0, ge=0, description="How long a command waits to see its effect.")
    dev_group_id: str = Field("g-hengan", description="Scope of a caller who names none (development, before login).")
    assignment_url: str = Field("http://127.0.0.1:8012", description="The assignment service (directory admin).")
    intake_urls: dict[str, str] = Field(
        default_factory=lambda: {"web_intake": "http://127.0.0.1:8001", "phone_intake": "http://127.0.0.1:8002",
                                 "letter_intake": "http://127.0.0.1:8003", "fax_intake": "http://127.0.0.1:8004"},
        description="Where each intake service serves its originals (internal network).")
