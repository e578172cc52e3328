"""requests: ``Session.send`` gets a CLIENT span and the trace headers."""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations._http import client_span, finish_client_span
from tracing_middleware.integrations.base import Integration, require

__all__ = ["RequestsIntegration"]

def _traced(send: Any) -> Any:
    def traced_send(self: Any, request: Any, **kwargs: Any) -> Any:
        with client_span(request.method, request.url, request.headers) as span:
            response = send(self, request, **kwargs)
            finish_client_span(span, getattr(response, "status_code", None))
            return response
    return traced_send


class RequestsIntegration(Integration):
    identifier = "requests"

    @classmethod
    def setup(cls) -> None:
        cls.patch(require("requests.sessions").Session, "send", _traced)
