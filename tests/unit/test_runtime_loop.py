"""Every service runs on uvloop with the httptools parser (docs/adr/0016), and the stack tunes FerretDB's Go
collector: the settings the pipeline benchmark's CPU figures depend on."""

from __future__ import annotations

import asyncio

import uvicorn
import uvloop
from fastapi import FastAPI

from deploy.native import stack
from shared import runtime
from shared.settings import ServiceSettings


def test_a_service_is_served_on_uvloop_and_httptools(monkeypatch):
    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    app = FastAPI()
    runtime.serve(app, ServiceSettings())
    assert seen["app"] is app and seen["loop"] == "uvloop" and seen["http"] == "httptools"

    config = uvicorn.Config(app, **{k: v for k, v in seen.items() if k != "app"})
    loop = config.get_loop_factory()()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()
    config.load()  # the HTTP protocol class resolves (httptools is installed)
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"


def test_ferretdb_runs_with_a_tuned_collector_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("GOGC", raising=False)
    assert stack.ferretdb_env()["GOGC"] == "400"
    monkeypatch.setenv("GOGC", "150")
    assert stack.ferretdb_env()["GOGC"] == "150"
