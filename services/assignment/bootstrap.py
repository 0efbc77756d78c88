"""Composition root of the assignment service."""

from __future__ import annotations

from fastapi import FastAPI

from services.assignment.config import AssignmentSettings
from services.assignment.entrypoints import register
from shared.aggregate import AggregateStore
from shared.org import load_org
from shared.runtime import create_app, create_runtime

NAME = "assignment"


def build_app(settings: AssignmentSettings | None = None) -> FastAPI:
    settings = settings or AssignmentSettings()
    rt = create_runtime(NAME, settings)
    org = load_org(settings.org_seed_path)
    cases = rt.db["cases"]
    store = AggregateStore(cases, rt.relay("cases"), settings)

    async def indexes() -> None:
        await cases.create_index([("estate_id", 1), ("status", 1), ("assignee.staff_id", 1)])

    rt.on_start.append(indexes)
    register(rt, store, org)
    return create_app(rt, title="派单 Assignment")
