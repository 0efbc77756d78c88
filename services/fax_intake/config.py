"""Settings of the fax intake service."""

from pydantic import Field

from shared.settings import ServiceSettings


class FaxIntakeSettings(ServiceSettings):
    service_port: int = 8004
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(2525, description="SMTP listener the fax gateway delivers to; 0 turns it off.")
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
