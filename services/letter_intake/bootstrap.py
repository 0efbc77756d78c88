"""Composition root of the letter intake service."""

from __future__ import annotations

from fastapi import FastAPI

from services.letter_intake.config import LetterIntakeSettings
from services.letter_intake.entrypoints import ScanInbox, build_router
from shared.http import install_intake_guards
from shared.intake import create_intake
from shared.originals import originals_router
from shared.runtime import create_app

NAME = "letter_intake"


def build_app(settings: LetterIntakeSettings | None = None) -> FastAPI:
    settings = settings or LetterIntakeSettings()
    rt, org, store, keys = create_intake(NAME, settings)
    rt.singleton("scan-inbox", ScanInbox(store, org, settings).run)
    app = create_app(rt, title="信函/意见箱受理 Letter intake", description="Scanned letters and suggestion-box notes.")
    install_intake_guards(app, store, settings.max_body_bytes, channel="letter", keys=keys, use="letter")
    app.include_router(build_router(store, org, settings))
    app.include_router(originals_router(store.originals))
    return app
