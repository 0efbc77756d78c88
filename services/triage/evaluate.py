"""`make eval-triage EVAL=file.jsonl ESTATES=file.txt [JSON=1]`: triage every line in file order, print the report."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.triage.classifier import Triager
from services.triage.linking import History
from services.triage.model import TriageModel


def f1_macro(gold: list[str], pred: list[str]) -> float:
    labels = sorted(set(gold))
    scores = []
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, pred, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def accuracy(gold: Iterable[Any], pred: Iterable[Any]) -> float:
    pairs = list(zip(gold, pred, strict=True))
    return sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0


def run(triager: Triager, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    history = History()
    out = []
    for r in rows:
        j = triager.judge(r["text"], history, complaint_id=r["id"])
        out.append({"id": r["id"], "category": j.category, "subcategory": j.subcategory, "severity": j.severity,
                    "valid": j.valid, "estate_hint": j.estate_hint, "unit_hint": j.unit_hint,
                    "phone_hint": j.phone_hint, "duplicate_of": j.link.root if j.link else None,
                    "reasons": j.reasons})
    return out


def report(rows: list[dict[str, Any]], preds: list[dict[str, Any]]) -> dict[str, Any]:
    def col(data, key):
        return [d[key] for d in data]

    sev_g, sev_p = col(rows, "severity"), col(preds, "severity")
    em = [p == "emergency" for g, p in zip(sev_g, sev_p, strict=True) if g == "emergency"]
    dup_pairs = [(g["duplicate_of"], p["duplicate_of"]) for g, p in zip(rows, preds, strict=True)]
    tp = sum(1 for g, p in dup_pairs if p is not None and g == p)
    predicted = sum(1 for _, p in dup_pairs if p is not None)
    actual = sum(1 for g, _ in dup_pairs if g is not None)
    return {
        "n": len(rows),
        "category": {"accuracy": accuracy(col(rows, "category"), col(preds, "category")),
                     "macro_f1": f1_macro(col(rows, "category"), col(preds, "category"))},
        "subcategory": {"accuracy": accuracy(col(rows, "subcategory"), col(preds, "subcategory"))},
        "severity": {"accuracy": accuracy(sev_g, sev_p), "macro_f1": f1_macro(sev_g, sev_p),
                     "emergency_recall": sum(em) / len(em) if em else 1.0},
        "valid": {"accuracy": accuracy([bool(v) for v in col(rows, "valid")], col(preds, "valid"))},
        "estate_hint": {"accuracy": accuracy(col(rows, "estate_hint"), col(preds, "estate_hint"))},
        "unit_hint": {"accuracy": accuracy(col(rows, "unit_hint"), col(preds, "unit_hint"))},
        "phone_hint": {"accuracy": accuracy(col(rows, "phone_hint"), col(preds, "phone_hint"))},
        "duplicate_of": {"precision": tp / predicted if predicted else 1.0, "recall": tp / actual if actual else 1.0},
    }


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="eval-triage")
    ap.add_argument("eval")
    ap.add_argument("estates")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--errors", type=int, default=0, help="print this many misjudged lines")
    args = ap.parse_args(argv)
    rows = read_jsonl(args.eval)
    estates = [e.strip() for e in Path(args.estates).read_text(encoding="utf-8").splitlines() if e.strip()]
    preds = run(Triager(TriageModel.load(), estates), rows)
    rep = report(rows, preds)
    for key, value in rep.items():
        print(f"{key:<12} {value}")
    shown = 0
    for g, p in zip(rows, preds, strict=True):
        if shown < args.errors and (g["subcategory"] != p["subcategory"] or g["severity"] != p["severity"]):
            print(f"  {g['id']}: gold {g['subcategory']}/{g['severity']} → {p['subcategory']}/{p['severity']} "
                  f"{p['reasons']} | {g['text'][:60]!r}")
            shown += 1
    if args.json:
        print(json.dumps(rep, ensure_ascii=False))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
