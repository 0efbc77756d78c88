"""Composition root of the phone intake service."""

from __future__ import annotations

from fastapi import FastAPI

from services.archive import queries
from services.phone_intake.config import PhoneIntakeSettings
from services.phone_intake.entrypoints import build_router
from shared.communications import CommunicationLog
from shared.http import install_intake_guards
from shared.intake import create_intake
from shared.originals import originals_router
from shared.runtime import create_app

NAME = "phone_intake"


def build_app(settings: PhoneIntakeSettings | None = None) -> FastAPI:
    settings = settings or PhoneIntakeSettings()
    rt, org, store, keys = create_intake(NAME, settings)
    archive_db = rt.mongo[settings.database("archive")]  # household look-up through the archive's query module
    rt.on_start.append(lambda: queries.ensure_indexes(archive_db))
    app = create_app(rt, title="电话投诉受理 Phone intake", description="Finished calls from the CTI system.")
    install_intake_guards(app, store, settings.max_body_bytes, channel="phone", keys=keys, use="phone")
    comms = CommunicationLog(rt.db["communications"], rt.relay("communications"), settings)
    app.include_router(build_router(store, comms, org, archive_db))
    app.include_router(originals_router(store.originals))
    return app
