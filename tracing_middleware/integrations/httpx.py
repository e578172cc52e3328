"""httpx: ``Client.send`` and ``AsyncClient.send`` get a CLIENT span and the headers."""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations._http import client_span, finish_client_span
from tracing_middleware.integrations.base import Integration, require

__all__ = ["HttpxIntegration"]

def _traced(send: Any) -> Any:
    def traced_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        with client_span(request.method, str(request.url), request.headers) as span:
            response = send(self, request, *args, **kwargs)
            finish_client_span(span, response.status_code)
            return response
    return traced_send


def _traced_async(send: Any) -> Any:
    async def traced_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        with client_span(request.method, str(request.url), request.headers) as span:
            response = await send(self, request, *args, **kwargs)
            finish_client_span(span, response.status_code)
            return response
    return traced_send


class HttpxIntegration(Integration):
    identifier = "httpx"

    @classmethod
    def setup(cls) -> None:
        httpx = require("httpx")
        cls.patch(httpx.Client, "send", _traced)
        cls.patch(httpx.AsyncClient, "send", _traced_async)
