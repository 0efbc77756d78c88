"""Composition root of the web intake service."""

from __future__ import annotations

from fastapi import FastAPI

from services.web_intake.config import WebIntakeSettings
from services.web_intake.entrypoints import build_router
from shared.http import install_intake_guards
from shared.intake import IntakeStore
from shared.org import load_org
from shared.originals import originals_router
from shared.runtime import create_app, create_runtime

NAME = "web_intake"


def build_app(settings: WebIntakeSettings | None = None) -> FastAPI:
    settings = settings or WebIntakeSettings()
    rt = create_runtime(NAME, settings)
    org = load_org(settings.org_seed_path)
    store = IntakeStore(rt.db, rt.relay("submissions"), settings, source=NAME)
    rt.on_start.append(store.ensure_indexes)
    app = create_app(rt, title="网上投诉受理 Web intake",
                     description="Complaints from the web form and the owners' app.")
    install_intake_guards(app, store, settings.max_body_bytes, channel="online")
    app.include_router(build_router(store, org))
    app.include_router(originals_router(store.originals))
    return app
