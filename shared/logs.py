"""Structured logging: one JSON line per record, phone numbers masked on the way out, and the case being
worked on (correlation id = the complaint's first event id, and the complaint id) on every line logged while
a message of that case is handled."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from shared.masking import mask_text

CASE: ContextVar[tuple[str, str] | None] = ContextVar("case", default=None)  # (correlation_id, complaint_id)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        case = CASE.get()
        if case is not None:
            entry["correlation_id"], entry["complaint_id"] = case
        if record.exc_info:
            entry["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
