"""Rules for letters and suggestion-box notes: which input is the same letter, and how a letter is filed."""

from __future__ import annotations

from shared.scanning import ScanFile, content_key
from shared.terms import Channel


def letter_key(files: list[ScanFile], batch_id: str | None) -> str:
    """The scanner's batch id when it gives one, else the pages' content: the same letter twice is one case."""
    return f"batch:{batch_id}" if batch_id else f"scan:{content_key(files)}"


def receiver_of(source: Channel) -> str:
    """Letters are received by the post room's scanner, notes by whoever empties the suggestion box."""
    return "信函扫描 letter scanner" if source is Channel.letter else "意见箱 suggestion box"
