"""Checks in front of an app, as plain ASGI middleware.

Starlette's `BaseHTTPMiddleware` (and `@app.middleware("http")`, built on it) runs the rest of the app in a task
group behind memory streams: about 0.28 ms of CPU per request and middleware, where the web intake's own route
took about 0.1 ms (1.2 ms for its four checks, 0.14 ms as `Gate`s; docs/adr/0024). A `Gate` looks at the
request's headers only and either refuses it or hands it on untouched.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send


class Gate(ABC):
    """`refuse(request)` returns the response to send instead, or None to let the request through. The request
    has no body to read (a gate decides before the body is read); `request.state` is the route's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = await self.refuse(Request(scope))
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @abstractmethod
    async def refuse(self, request: Request) -> Response | None:
        """The response refusing `request`, or None."""
