"""httpx: ``Client.send`` and ``AsyncClient.send`` get a CLIENT span and the headers."""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations._http import client_span, finish_client_span
from tracing_middleware.integrations.base import DidNotEnable, Integration

__all__ = ["HttpxIntegration"]

_originals: dict[str, Any] = {}


def _send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
    with client_span(request.method, str(request.url), request.headers) as span:
        response = _originals["sync"](self, request, *args, **kwargs)
        finish_client_span(span, response.status_code)
        return response


async def _send_async(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
    with client_span(request.method, str(request.url), request.headers) as span:
        response = await _originals["async"](self, request, *args, **kwargs)
        finish_client_span(span, response.status_code)
        return response


class HttpxIntegration(Integration):
    identifier = "httpx"

    @classmethod
    def setup(cls) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise DidNotEnable("httpx is not installed") from exc
        _originals["sync"] = httpx.Client.send
        _originals["async"] = httpx.AsyncClient.send
        httpx.Client.send = _send
        httpx.AsyncClient.send = _send_async

    @classmethod
    def uninstrument(cls) -> None:
        import httpx

        if _originals:
            httpx.Client.send = _originals.pop("sync")
            httpx.AsyncClient.send = _originals.pop("async")
