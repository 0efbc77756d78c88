"""`make train-triage` step one: write operators' corrections from MongoDB to data/corrections.jsonl."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from services.triage.config import TriageSettings
from shared.mongo import make_client

OUT = Path(__file__).parent / "data" / "corrections.jsonl"


async def export(settings: TriageSettings, out: Path = OUT) -> int:
    client = make_client(settings)
    try:
        docs = await client[settings.database("triage")]["corrections"].find({}).sort([("at", 1)]).to_list(None)
    finally:
        await client.close()
    latest = {d["complaint_id"]: d for d in docs}  # the last correction of a case is the one that counts
    lines = [json.dumps({"id": f"corr-{d['complaint_id']}", "channel": d.get("channel", ""), "text": d["text"],
                         "category": d["category"], "subcategory": d["subcategory"], "severity": d["severity"],
                         "valid": d["valid"], "estate_hint": None, "unit_hint": None, "phone_hint": None,
                         "duplicate_of": None}, ensure_ascii=False) for d in latest.values() if d.get("text")]
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def main() -> None:
    try:
        n = asyncio.run(export(TriageSettings()))
    except Exception as exc:  # noqa: BLE001 - no database running: train on the labelled sets alone
        print(f"corrections not exported ({type(exc).__name__}: {exc}); training on the labelled sets only")
        sys.exit(0)
    print(f"exported {n} corrections to {OUT}")


if __name__ == "__main__":
    main()
