"""Archive handler: file every lifecycle event on its case and recompute the record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.archive.domain import fold
from shared.aggregate import AggregateStore, Decision
from shared.contracts import Envelope


async def file_event(event: Envelope[Any], *, store: AggregateStore) -> None:
    entry = {"event_id": str(event.event_id), "type": event.type, "at": event.occurred_at,
             "payload": _parse_dates(event.payload.model_dump(mode="json"))}

    def decide(doc: dict[str, Any] | None) -> Decision:
        events = [*(doc or {}).get("events", []), entry]
        changes = {"group_id": event.group_id, "estate_id": event.estate_id, "events": events,
                   "updated_at": datetime.now(UTC), **fold(events)}
        return Decision(changes=changes)

    await store.apply(event.complaint_id, str(event.event_id), decide)


def _parse_dates(payload: dict[str, Any]) -> dict[str, Any]:
    """Keep due times and timestamps as real dates so they sort and filter in MongoDB."""
    out: dict[str, Any] = {}
    for k, v in payload.items():
        if isinstance(v, dict):
            out[k] = _parse_dates(v)
        elif isinstance(v, str) and (k.endswith("_at") or k.endswith("_due")):
            try:
                out[k] = datetime.fromisoformat(v)
            except ValueError:
                out[k] = v
        else:
            out[k] = v
    return out
