"""Settings of the operator API."""

from pydantic import Field, model_validator

from shared.settings import ServiceSettings


class OperatorApiSettings(ServiceSettings):
    service_port: int = 8000
    max_body_bytes: int = 12 * 1024 * 1024
    command_wait_seconds: float = Field(5.0, ge=0, description="How long a command waits to see its effect.")
    dev_group_id: str = Field("g-hengan", description="Group of the development accounts.")
    auth_required: bool = Field(True, description="Every call needs a session or an API key (false: development "
                                                  "only, the whole dev group).")
    dev_accounts_path: str = Field("deploy/accounts_dev.yaml", description="Seeded in development mode.")
    session_idle_minutes: int = Field(480, ge=5, description="A session ends this long after its last use.")
    session_max_hours: int = Field(12, ge=1, description="…and at the latest this long after sign-in.")
    login_per_minute: int = Field(10, ge=1, description="Sign-in attempts per client address per minute.")
    assignment_url: str = Field("http://127.0.0.1:8012", description="The assignment service (directory admin).")
    intake_urls: dict[str, str] = Field(
        default_factory=lambda: {"web_intake": "http://127.0.0.1:8001", "phone_intake": "http://127.0.0.1:8002",
                                 "letter_intake": "http://127.0.0.1:8003", "fax_intake": "http://127.0.0.1:8004"},
        description="Where each intake service serves its originals (internal network).")

    @model_validator(mode="after")
    def _auth_in_production(self) -> "OperatorApiSettings":
        if self.environment == "production" and not self.auth_required:
            raise ValueError("CC_AUTH_REQUIRED=false is for development only")
        return self
