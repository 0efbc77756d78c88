"""Composition root of the web intake service."""

from __future__ import annotations

from fastapi import FastAPI

from services.web_intake.config import WebIntakeSettings
from services.web_intake.entrypoints import build_router
from shared.http import install_intake_guards
from shared.intake import create_intake
from shared.originals import originals_router
from shared.runtime import create_app

NAME = "web_intake"


def build_app(settings: WebIntakeSettings | None = None) -> FastAPI:
    settings = settings or WebIntakeSettings()
    rt, org, store, keys = create_intake(NAME, settings)
    app = create_app(rt, title="网上投诉受理 Web intake",
                     description="Complaints from the web form and the owners' app.")
    install_intake_guards(app, store, settings.max_body_bytes, channel="online", keys=keys, use="web",
                          key_required=False, per_minute=settings.intake_per_minute)
    app.include_router(build_router(store, org))
    app.include_router(originals_router(store.originals))
    return app
