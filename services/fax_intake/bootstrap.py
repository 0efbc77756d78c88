"""Composition root of the fax intake service."""

from __future__ import annotations

from fastapi import FastAPI

from services.fax_intake.config import FaxIntakeSettings
from services.fax_intake.entrypoints import FaxMailHandler, ImapPoller, run_smtp
from shared.intake import IntakeStore
from shared.org import load_org
from shared.originals import originals_router
from shared.runtime import create_app, create_runtime

NAME = "fax_intake"


def build_app(settings: FaxIntakeSettings | None = None) -> FastAPI:
    settings = settings or FaxIntakeSettings()
    rt = create_runtime(NAME, settings)
    org = load_org(settings.org_seed_path)
    store = IntakeStore(rt.db, rt.relay("submissions"), settings, source=NAME)
    rt.on_start.append(store.ensure_indexes)
    if settings.smtp_port:
        handler = FaxMailHandler(store, org, settings)
        rt.background.append(lambda: run_smtp(handler, settings))
    if settings.imap_host:
        rt.background.append(ImapPoller(store, org, settings).run)
    app = create_app(rt, title="传真受理 Fax intake", description="Fax-to-email over SMTP and IMAP.")
    app.include_router(originals_router(store.originals))
    return app
