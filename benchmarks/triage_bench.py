"""Triage throughput on one core (`make bench-triage`), beside the foundation's keyword rules in the same run."""

from __future__ import annotations

import os
import time

from services.triage.classifier import Triager
from services.triage.evaluate import read_jsonl
from services.triage.keywords import classify
from services.triage.linking import History
from services.triage.model import TriageModel
from services.triage.train import DATA


def per_second(fn, texts: list[str], rounds: int) -> float:
    t0 = time.perf_counter()
    for _ in range(rounds):
        for t in texts:
            fn(t)
    return rounds * len(texts) / (time.perf_counter() - t0)


def main() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    texts = [r["text"] for name in ("dev.jsonl", "holdout.jsonl") for r in read_jsonl(DATA / name)]
    estates = [e for e in (DATA / "estates.txt").read_text(encoding="utf-8").split() if e]
    triager = Triager(TriageModel.load(), estates)
    history = History()
    triager.judge(texts[0], history)  # warm up
    v2 = per_second(lambda t: triager.judge(t, history), texts, 3)
    base = per_second(classify, texts, 3)
    print(f"\n{'figure':<40} {'value':>10}   baseline (same run)")
    print(f"{'triage v2: complaints judged /s, 1 core':<40} {v2:>10.0f}   {base:>8.0f} keyword rules /s "
          f"(ratio {v2 / base:.2f}); target ≥ 500 /s")


if __name__ == "__main__":
    main()
