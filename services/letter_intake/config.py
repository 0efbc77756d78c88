"""Settings of the letter intake service."""

from pydantic import Field

from shared.settings import ServiceSettings


class LetterIntakeSettings(ServiceSettings):
    service_port: int = 8003
    max_body_bytes: int = 60 * 1024 * 1024
    max_file_bytes: int = 25 * 1024 * 1024
    review_below_confidence: float = Field(0.85, description="OCR confidence below which an operator checks the text.")
    scan_inbox: str = Field(".run/scan-inbox", description="Folder the scanner writes into: <inbox>/<estate>/<source>/")
    scan_poll_seconds: float = 2.0
