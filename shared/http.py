"""HTTP edge rules shared by the intake APIs: size limit, and 422s that keep what was sent."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.gate import Gate
from shared.keyring import API_KEY_HEADER, KeyRefused, KeyRing
from shared.ratelimit import PostRateLimit

log = logging.getLogger(__name__)


class BodyLimit(Gate):
    def __init__(self, app: Any, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def refuse(self, request: Request) -> Response | None:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return JSONResponse({"detail": f"request body larger than {self.max_bytes} bytes"}, status_code=413)
        return None


class KeyGate(Gate):
    """Submissions (POST /api/…) carry an integration's API key allowed for this channel (`use`).

    Checked before the body is read, so an unknown caller can neither submit nor fill the rejected-input
    store. On the public web form the key is optional: with one, the owners' app backend is known (and not
    rate limited per address); a wrong key is refused, never quietly treated as anonymous.
    The accepted grant is on `request.state.grant` for the route's estate-scope check.
    """

    def __init__(self, app: Any, ring: KeyRing, use: str, required: bool = True) -> None:
        super().__init__(app)
        self.ring, self.use, self.required = ring, use, required

    async def refuse(self, request: Request) -> Response | None:
        request.state.grant = None
        if request.method == "POST" and request.url.path.startswith("/api/"):
            key = request.headers.get(API_KEY_HEADER)
            if key or self.required:
                try:
                    request.state.grant = self.ring.check(key, self.use)
                except KeyRefused as exc:
                    headers = {"Retry-After": "5"} if exc.status == 503 else None
                    return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=headers)
        return None


def out_of_scope(what: str) -> HTTPException:
    return HTTPException(status_code=403, detail=f"该密钥无权提交{what}的投诉 this API key may not submit for {what}")


def summarize(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:8]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg')}")
    return "; ".join(parts)


def install_intake_guards(app: FastAPI, store: Any, max_body_bytes: int, channel: str, *,
                          keys: KeyRing | None = None, use: str = "", key_required: bool = True,
                          per_minute: int | None = None) -> None:
    """API keys; bad input gets a clear 422 and what was sent is kept (never a lost complaint); size and rate
    limits. Middleware added last runs first: the key gate, then the rate limit, then the size limit."""
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    if per_minute:
        # counted in the service's database, so N instances behind a load balancer allow the limit, not N times it
        kept = getattr(store, "submissions", None)  # an intake store; in-memory counting without one (unit tests)
        app.add_middleware(PostRateLimit, per_minute=per_minute,
                           collection=kept.database["ratelimits"] if kept is not None else None)
    if keys is not None:  # the operator API authenticates people and keys itself
        app.add_middleware(KeyGate, ring=keys, use=use, required=key_required)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = summarize(list(exc.errors()))
        if request.method == "POST":
            try:
                await store.keep_rejected(await request.body(), message, channel)
            except Exception:  # noqa: BLE001 - the client still gets its 422
                log.exception("could not keep a rejected submission")
        errors = jsonable_encoder(exc.errors(), custom_encoder={bytes: lambda b: b.decode(errors="replace")})
        for e in errors:
            e.pop("input", None)  # never echo personal data back into logs or proxies
            e.pop("ctx", None)
        return JSONResponse({"detail": errors, "message": message}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def unreadable(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and request.method == "POST":  # body could not even be decoded
            try:
                await store.keep_rejected(await request.body(), f"unreadable body: {exc.detail}", channel)
            except Exception:  # noqa: BLE001
                log.exception("could not keep a rejected submission")
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
