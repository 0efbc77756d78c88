"""Composition root of the archive service."""

from __future__ import annotations

from fastapi import FastAPI

from services.archive import queries
from services.archive.config import ArchiveSettings
from services.archive.entrypoints import register, retention_loop, rollup_loop
from services.archive.handlers import CASE_GUARDS, Settler, chain_legacy_records
from shared.aggregate import AggregateStore
from shared.runtime import create_app, create_runtime

NAME = "archive"


def build_app(settings: ArchiveSettings | None = None) -> FastAPI:
    settings = settings or ArchiveSettings()
    rt = create_runtime(NAME, settings)
    store = AggregateStore(queries.cases(rt.db), rt.relay("cases"), settings, guards=CASE_GUARDS)
    rt.on_start.append(lambda: queries.ensure_indexes(rt.db))
    rt.once("queue keys backfill", lambda: queries.backfill_queue_keys(rt.db))
    rt.once("search weeks backfill", lambda: queries.backfill_search_weeks(rt.db))
    rt.on_start.append(lambda: chain_legacy_records(store))
    rt.singleton("retention", retention_loop(rt, settings.retention_days, settings.retention_action,
                                             settings.retention_sweep_hours))
    rt.singleton("rollups", rollup_loop(store, settings.rollup_sweep_seconds))
    settler = Settler(store, settings.rollup_settle_seconds)  # every instance counts its own filings' deltas
    rt.background.append(settler.run)
    rt.on_stop.append(settler.flush_logged)  # a clean stop: counted now, not by the next start's sweep
    register(rt, store, settler)
    return create_app(rt, title="归档 Archive")
