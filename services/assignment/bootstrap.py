"""Composition root of the assignment service."""

from __future__ import annotations

from fastapi import FastAPI

from services.assignment.config import AssignmentSettings
from services.assignment.directory import DirectoryStore
from services.assignment.entrypoints import build_directory_router, register, timer_loop
from services.assignment.loads import CaseStore, LoadBook
from services.assignment.timer_book import TimerBook
from shared.directory_feed import follow_directory
from shared.org import load_org
from shared.runtime import create_app, create_runtime

NAME = "assignment"


def build_app(settings: AssignmentSettings | None = None) -> FastAPI:
    settings = settings or AssignmentSettings()
    rt = create_runtime(NAME, settings)
    org = load_org(settings.org_seed_path)
    cases = rt.db["cases"]
    book = LoadBook(rt.db)
    store = CaseStore(cases, rt.relay("cases"), settings, book, TimerBook(rt.db["timer_slots"]))
    directory = DirectoryStore(rt.db, rt.relay("dir_changes"), settings, org)

    async def indexes() -> None:
        await cases.create_index([("estate_id", 1), ("status", 1), ("assignee.staff_id", 1)])
        await cases.create_index([("next_timer_at", 1)])
        await cases.create_index([("timer_slot", 1), ("next_timer_at", 1)])
        await cases.create_index([("estate_id", 1), ("status", 1), ("queued_at", 1)])

    rt.on_start.append(indexes)
    rt.on_start.append(book.ensure)
    rt.on_start.append(directory.load)
    # the directory's other instances publish what they change; every instance applies it (its own again: no-op)
    follow_directory(rt.broker, settings, NAME, org)
    rt.singleton("timers", timer_loop(store, org, settings.timer_sweep_seconds))
    register(rt, store, org)
    app = create_app(rt, title="派单 Assignment")
    app.include_router(build_directory_router(org, directory, store))
    return app
