"""Composition root of the fax intake service."""

from __future__ import annotations

from fastapi import FastAPI

from services.fax_intake.config import FaxIntakeSettings
from services.fax_intake.entrypoints import FaxMailHandler, ImapPoller, run_smtp
from shared.intake import create_intake
from shared.originals import originals_router
from shared.runtime import create_app

NAME = "fax_intake"


def build_app(settings: FaxIntakeSettings | None = None) -> FastAPI:
    settings = settings or FaxIntakeSettings()
    rt, org, store, keys = create_intake(NAME, settings)
    if settings.smtp_port:
        handler = FaxMailHandler(store, org, settings, keys)
        rt.background.append(lambda: run_smtp(handler, settings))
    if settings.imap_host:
        rt.singleton("imap-poll", ImapPoller(store, org, settings).run)
    app = create_app(rt, title="传真受理 Fax intake", description="Fax-to-email over SMTP and IMAP.")
    app.include_router(originals_router(store.originals))
    return app
