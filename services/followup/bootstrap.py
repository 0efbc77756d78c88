"""Composition root of the follow-up service."""

from __future__ import annotations

from fastapi import FastAPI

from services.followup.config import FollowUpSettings
from services.followup.entrypoints import register
from shared.aggregate import AggregateStore
from shared.directory_feed import follow_directory
from shared.org import load_org
from shared.runtime import create_app, create_runtime

NAME = "followup"


def build_app(settings: FollowUpSettings | None = None) -> FastAPI:
    settings = settings or FollowUpSettings()
    rt = create_runtime(NAME, settings)
    store = AggregateStore(rt.db["callbacks"], rt.relay("callbacks"), settings)
    register(rt, store, settings.max_callback_attempts, settings.callback_hour)
    # callbacks fall on the next working day: holiday notices entered by an admin arrive as directory changes
    follow_directory(rt.broker, settings, NAME, load_org(settings.org_seed_path))
    return create_app(rt, title="回访 Follow-up")
