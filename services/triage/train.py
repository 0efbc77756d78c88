"""`make train-triage`: train the model on the labelled sets and operators' corrections, write it, print CV figures."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from services.triage.classifier import Triager
from services.triage.evaluate import read_jsonl, report, run
from services.triage.model import MODEL_PATH, SEED, TriageModel

DATA = Path(__file__).parent / "data"
TRAIN_SETS = ("dev.jsonl", "holdout.jsonl", "corrections.jsonl")


def cross_validate(rows: list[dict], estates: list[str], folds: int = 5) -> dict:
    """k-fold over shuffled lines; linking runs per fold on the lines in their original order."""
    order = list(range(len(rows)))
    random.Random(SEED).shuffle(order)
    preds: dict[int, dict] = {}
    for k in range(folds):
        test = sorted(order[k::folds])
        train = [rows[i] for i in order if i not in set(test)]
        triager = Triager(TriageModel.train(train), estates)
        for i, p in zip(test, run(triager, [rows[i] for i in test]), strict=True):
            preds[i] = p
    rep = report(rows, [preds[i] for i in range(len(rows))])
    rep.pop("duplicate_of")  # folds break the chains; linking is measured on whole files
    return rep


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="train-triage")
    ap.add_argument("--no-cv", action="store_true")
    args = ap.parse_args(argv)
    estates = [e for e in (DATA / "estates.txt").read_text(encoding="utf-8").split() if e]
    dev = read_jsonl(DATA / "dev.jsonl")
    holdout = read_jsonl(DATA / "holdout.jsonl")
    if not args.no_cv:
        print("5-fold cross-validation on dev:", json.dumps(cross_validate(dev, estates), ensure_ascii=False))
        print("dev-trained model on holdout:",
              json.dumps(report(holdout, run(Triager(TriageModel.train(dev), estates), holdout)), ensure_ascii=False))
    rows = [r for name in TRAIN_SETS if (DATA / name).exists() for r in read_jsonl(DATA / name)]
    TriageModel.train(rows).save(MODEL_PATH)
    print(f"trained on {len(rows)} complaints → {MODEL_PATH} ({MODEL_PATH.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
