"""Composition root of the triage service."""

from __future__ import annotations

from fastapi import FastAPI

from services.triage.classifier import Triager
from services.triage.config import TriageSettings
from services.triage.entrypoints import register
from services.triage.history import RecentComplaints, prune_loop
from services.triage.model import TriageModel
from shared.aggregate import AggregateStore
from shared.org import load_org
from shared.runtime import create_app, create_runtime

NAME = "triage"


def build_app(settings: TriageSettings | None = None) -> FastAPI:
    settings = settings or TriageSettings()
    rt = create_runtime(NAME, settings)
    org = load_org(settings.org_seed_path)
    estates = sorted({name for _, e in org.estates.values() for name in [e.name, *e.aliases]})
    triager = Triager(TriageModel.load(), estates, review_below=settings.review_below_confidence)
    store = AggregateStore(rt.db["classifications"], rt.relay("classifications"), settings)
    recent = RecentComplaints(rt.db["recent"])
    rt.on_start.append(recent.ensure_indexes)
    rt.singleton("prune-recent", prune_loop(recent, settings.prune_hours))
    register(rt, store, triager, recent)
    return create_app(rt, title="投诉判定 Triage")
