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


def test_no_service_runs_its_requests_through_a_base_http_middleware():
    """Every service's middleware is plain ASGI (shared.gate): Starlette's BaseHTTPMiddleware, which
    `@app.middleware("http")` also builds, cost about 0.28 ms of CPU per request each (docs/adr/0024)."""
    import importlib
    import pkgutil

    from starlette.middleware.base import BaseHTTPMiddleware

    import services

    names = sorted(m.name for m in pkgutil.iter_modules(services.__path__) if m.ispkg)
    seen = {}
    for name in names:
        try:
            bootstrap = importlib.import_module(f"services.{name}.bootstrap")
        except ModuleNotFoundError:
            continue
        app = bootstrap.build_app()
        seen[name] = [m.cls.__name__ for m in app.user_middleware]
        assert not [m for m in app.user_middleware if issubclass(m.cls, BaseHTTPMiddleware)], name
    assert len(seen) == 9 and all("InternalOnly" in v for v in seen.values())
    assert seen["web_intake"] == ["KeyGate", "PostRateLimit", "BodyLimit", "InternalOnly"]
