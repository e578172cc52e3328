"""urllib3: ``HTTPConnectionPool.urlopen`` gets a CLIENT span and the trace headers."""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations._http import client_span, finish_client_span
from tracing_middleware.integrations.base import Integration, require

__all__ = ["Urllib3Integration"]

def _traced(urlopen: Any) -> Any:
    def traced_urlopen(self: Any, method: str, url: str, body: Any = None,
                       headers: Any = None, *args: Any, **kwargs: Any) -> Any:
        full = url if "://" in url else f"{self.scheme}://{self.host}:{self.port}{url}"
        headers = dict(headers) if headers is not None else dict(self.headers)
        with client_span(method, full, headers) as span:
            response = urlopen(self, method, url, body, headers, *args, **kwargs)
            finish_client_span(span, getattr(response, "status", None))
            return response
    return traced_urlopen


class Urllib3Integration(Integration):
    identifier = "urllib3"

    @classmethod
    def setup(cls) -> None:
        cls.patch(require("urllib3.connectionpool").HTTPConnectionPool, "urlopen", _traced)
