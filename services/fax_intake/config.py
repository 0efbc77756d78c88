"""Settings of the fax intake service."""

from pydantic import Field, model_validator

from shared.settings import ServiceSettings


class FaxIntakeSettings(ServiceSettings):
    service_port: int = 8004
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(2525, description="SMTP listener the fax gateway delivers to; 0 turns it off.")
    smtp_auth_required: bool = Field(True, description="The gateway signs in (SMTP AUTH PLAIN/LOGIN) with an API key "
                                                         "for `fax` as the password; off only for a closed network.")
    smtp_tls_cert: str = Field("", description="Certificate (PEM) for STARTTLS; with it, AUTH only after STARTTLS.")
    smtp_tls_key: str = ""
    max_message_bytes: int = 40 * 1024 * 1024
    imap_host: str = Field("", description="IMAP server to poll; empty turns polling off.")
    imap_port: int = 143
    imap_ssl: bool = False
    imap_user: str = ""
    imap_password: str = ""
    imap_folder: str = "INBOX"
    imap_poll_seconds: float = 10.0
    review_below_confidence: float = 0.85
    default_group_id: str = Field("g-hengan", description="Group whose default estate takes faxes to unknown lines.")

    @model_validator(mode="after")
    def _tls_in_production(self) -> "FaxIntakeSettings":
        """Keys must not cross the network in clear: production needs STARTTLS when the listener is on."""
        if self.environment == "production" and self.smtp_port and self.smtp_auth_required and not self.smtp_tls_cert:
            raise ValueError("CC_SMTP_TLS_CERT is required in production (the gateway's key travels in SMTP AUTH)")
        return self
