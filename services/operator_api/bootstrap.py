"""Composition root of the operator API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from services.archive import queries
from services.operator_api.archive_routes import build_archive_router
from services.operator_api.auth import AuthStore, install_audit
from services.operator_api.auth_routes import build_auth_router
from services.operator_api.config import OperatorApiSettings
from services.operator_api.directory import build_clock_router, build_directory_router
from services.operator_api.entrypoints import build_docs_router, build_router
from services.operator_api.live import CaseChanges
from shared.communications import CommunicationLog
from shared.directory_feed import follow_directory
from shared.http import install_intake_guards
from shared.intake import IntakeStore
from shared.org import load_org
from shared.runtime import create_app, create_runtime

NAME = "operator_api"


CONSOLE = Path(__file__).parent / "console"


def mount_console(app: FastAPI) -> None:
    """The operator console: static files, no build step (plain JS + vendored Apache ECharts)."""
    app.mount("/console", StaticFiles(directory=CONSOLE, html=True), name="console")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console/")


def build_app(settings: OperatorApiSettings | None = None) -> FastAPI:
    settings = settings or OperatorApiSettings()
    rt = create_runtime(NAME, settings)
    org = load_org(settings.org_seed_path)
    follow_directory(rt.broker, settings, NAME, org)
    archive_db = rt.mongo[settings.database("archive")]  # read only through services.archive.queries
    intake = IntakeStore(rt.db, rt.relay("submissions"), settings, source=NAME)
    command_relay = rt.relay("commands")
    rt.on_start.append(intake.ensure_indexes)
    rt.on_start.append(lambda: queries.ensure_indexes(archive_db))
    auth = AuthStore(rt.db, org, idle_minutes=settings.session_idle_minutes, max_hours=settings.session_max_hours,
                     login_per_minute=settings.login_per_minute, settings=settings,
                     key_relay=rt.relay("api_keys"))
    rt.on_start.append(auth.ensure_indexes)
    if settings.environment == "development":
        rt.on_start.append(lambda: auth.seed(settings.dev_accounts_path))
    live = CaseChanges(archive_db)
    rt.background.append(live.run)
    app = create_app(rt, title="坐席工作台 API Operator API",
                     description="Queue, complete case record, operator intake, resolve, callbacks.")
    install_intake_guards(app, intake, settings.max_body_bytes, channel="operator")
    app.state.auth = auth
    install_audit(app, auth)
    app.include_router(build_auth_router(auth, settings))
    app.include_router(build_router(org=org, settings=settings, archive_db=archive_db, own_db=rt.db,
                                    command_relay=command_relay, intake=intake, live=live))
    app.include_router(build_directory_router(org, settings))
    comms = CommunicationLog(rt.db["communications"], rt.relay("communications"), settings)
    app.include_router(build_archive_router(org=org, settings=settings, archive_db=archive_db, comms=comms,
                                            imports=rt.db, import_relay=rt.relay("imports")))
    app.include_router(build_clock_router(org, settings, archive_db))
    app.include_router(build_docs_router(settings))
    mount_console(app)
    return app
