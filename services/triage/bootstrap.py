"""Composition root of the triage service."""

from __future__ import annotations

from fastapi import FastAPI

from services.triage.config import TriageSettings
from services.triage.entrypoints import register
from shared.aggregate import AggregateStore
from shared.runtime import create_app, create_runtime

NAME = "triage"


def build_app(settings: TriageSettings | None = None) -> FastAPI:
    settings = settings or TriageSettings()
    rt = create_runtime(NAME, settings)
    store = AggregateStore(rt.db["classifications"], rt.relay("classifications"), settings)
    register(rt, store, settings.review_below_confidence)
    return create_app(rt, title="投诉判定 Triage")
