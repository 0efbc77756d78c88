"""Letter intake handler: OCR the pages of one letter, keep the scans, publish one complaint."""

from __future__ import annotations

from services.letter_intake.domain import letter_key, receiver_of
from shared.intake import Accepted, ComplainantIn, ComplaintIn, IntakeStore, Submission
from shared.originals import Original
from shared.scanning import PLACEHOLDER, ScanFile, details_from_text, read_scans, review_reason
from shared.terms import Channel


async def take_letter(*, store: IntakeStore, files: list[ScanFile], estate_id: str, group_id: str,
                      source: Channel, threshold: float, batch_id: str | None = None,
                      complainant: ComplainantIn | None = None) -> tuple[Accepted, dict]:
    key = letter_key(files, batch_id)
    if dup := await store.find_duplicate(group_id, key):
        return dup, {}
    reading = await read_scans(files)
    reason = review_reason(reading, threshold)
    found = details_from_text(reading.text)
    given = complainant or ComplainantIn()
    body = ComplaintIn(
        estate_id=estate_id, text=(reading.text or PLACEHOLDER)[:20_000],
        complainant=ComplainantIn(name=given.name or found.name, phone=given.phone or found.phone,
                                  unit=given.unit or found.unit),
    )
    originals = [Original(f.data, f.name, f.content_type, "scan") for f in files]
    sub = Submission(body=body, channel=source, receiver=receiver_of(source), source_ref=key,
                     needs_review=bool(reason), review_reason=reason, originals=originals)
    accepted = await store.accept(sub, raw=reading.text.encode(), group_id=group_id, idempotency_key=key)
    return accepted, {"pages": reading.pages, "ocr_confidence": round(reading.confidence, 3),
                      "needs_review": bool(reason), "review_reason": reason}
