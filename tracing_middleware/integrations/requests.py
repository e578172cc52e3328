"""requests: ``Session.send`` gets a CLIENT span and the trace headers."""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations._http import client_span, finish_client_span
from tracing_middleware.integrations.base import DidNotEnable, Integration

__all__ = ["RequestsIntegration"]

_original: Any = None


def _send(self: Any, request: Any, **kwargs: Any) -> Any:
    with client_span(request.method, request.url, request.headers) as span:
        response = _original(self, request, **kwargs)
        finish_client_span(span, getattr(response, "status_code", None))
        return response


class RequestsIntegration(Integration):
    identifier = "requests"

    @classmethod
    def setup(cls) -> None:
        global _original
        try:
            import requests.sessions
        except ImportError as exc:
            raise DidNotEnable("requests is not installed") from exc
        _original = requests.sessions.Session.send
        requests.sessions.Session.send = _send

    @classmethod
    def uninstrument(cls) -> None:
        import requests.sessions

        if _original is not None:
            requests.sessions.Session.send = _original
