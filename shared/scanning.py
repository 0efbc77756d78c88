"""Reading scanned pages (letters, suggestion-box notes, faxes): OCR every file, judge the result, find who wrote."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass

from shared.ocr import UnreadableDocument, ocr_document_async

PLACEHOLDER = "【扫描件无法识别，请人工查看原件】 Unreadable scan: see the original."
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}-?\d{7,8})(?!\d)")
_UNIT = re.compile(r"\d{1,3}\s*[栋幢座号楼]\s*(?:\d{1,2}\s*单元)?\s*\d{2,5}\s*(?:室|号)?")
_NAME = re.compile(r"(?:业主|投诉人|署名|联系人|住户)\s*[:：]?\s*([\u4e00-\u9fa5]{2,4}?)(?=[\s，,。；;]|$|\d)")


@dataclass(frozen=True)
class ScanFile:
    data: bytes
    name: str
    content_type: str


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float
    pages: int
    unreadable: str  # which files could not be read, and why


@dataclass(frozen=True)
class WriterDetails:
    name: str = ""
    phone: str = ""
    unit: str = ""


def content_key(files: list[ScanFile]) -> str:
    """The same pages twice are the same input: their content hash serves as the idempotency key."""
    h = hashlib.sha256()
    for f in files:
        h.update(hashlib.sha256(f.data).digest())
    return h.hexdigest()


OCR_AT_ONCE = 1  # OCR takes a core for a second or two a page; more at once starves the event loop on 2 cores
_gate: asyncio.Semaphore | None = None
_recent: OrderedDict[str, Reading] = OrderedDict()  # a retried upload (e.g. after a storage outage) is not re-read


async def read_scans(files: list[ScanFile]) -> Reading:
    """OCR every file in order into one text; one document at a time per process, and the last few readings
    remembered by content, so a burst of retries after an outage queues up instead of starving the service."""
    global _gate
    key = content_key(files)
    if key in _recent:
        _recent.move_to_end(key)
        return _recent[key]
    _gate = _gate or asyncio.Semaphore(OCR_AT_ONCE)
    async with _gate:
        if key not in _recent:  # another request may have read the same pages while this one waited
            _recent[key] = await _read(files)
            while len(_recent) > 32:
                _recent.popitem(last=False)
    return _recent[key]


async def _read(files: list[ScanFile]) -> Reading:
    """OCR every file in order into one text; confidence weighted by characters read."""
    texts, weights, pages, problems = [], [], 0, []
    for f in files:
        try:
            result = await ocr_document_async(f.data, f.content_type, f.name)
        except UnreadableDocument as exc:
            problems.append(f"{f.name}: {exc}")
            continue
        pages += len(result.pages)
        if result.text.strip():
            texts.append(unwrap(result.text))
            weights.append((result.confidence, len(result.text)))
    total = sum(n for _, n in weights)
    confidence = sum(c * n for c, n in weights) / total if total else 0.0
    return Reading("\n\n".join(texts), confidence, pages, "; ".join(problems))


def unwrap(text: str) -> str:
    """Join lines the page width broke: Chinese has no spaces, so a wrapped line continues the sentence.

    A line that ends a sentence (。！？：；) or is followed by a blank line keeps its break.
    """
    return re.sub(r"(?<![。！？!?：:；;\n])\n(?!\n)", "", text)


def review_reason(reading: Reading, threshold: float) -> str:
    """Why an operator should check the OCR: a file unreadable, nothing read, or read with low confidence."""
    reasons = []
    if reading.unreadable:
        reasons.append(f"unreadable: {reading.unreadable}")
    if not reading.text.strip():
        reasons.append("OCR found no text")
    elif reading.confidence < threshold:
        reasons.append(f"OCR confidence {reading.confidence:.2f} below {threshold:.2f}")
    return "; ".join(reasons)


def details_from_text(text: str) -> WriterDetails:
    """Phone, unit and name as the writer gives them; empty where the text does not say."""
    flat = text.replace("\n", "")
    phone = m.group(1) if (m := _PHONE.search(flat)) else ""
    unit = m.group(0) if (m := _UNIT.search(flat)) else ""
    name = m.group(1) if (m := _NAME.search(flat)) else ""
    return WriterDetails(name=name, phone=re.sub(r"\s", "", phone), unit=unit.replace(" ", ""))
