"""urllib3: ``HTTPConnectionPool.urlopen`` gets a CLIENT span and the trace headers."""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations._http import client_span, finish_client_span
from tracing_middleware.integrations.base import DidNotEnable, Integration

__all__ = ["Urllib3Integration"]

_original: Any = None


def _urlopen(self: Any, method: str, url: str, body: Any = None, headers: Any = None,
             *args: Any, **kwargs: Any) -> Any:
    full = url if "://" in url else f"{self.scheme}://{self.host}:{self.port}{url}"
    headers = dict(headers) if headers is not None else dict(self.headers)
    with client_span(method, full, headers) as span:
        response = _original(self, method, url, body, headers, *args, **kwargs)
        finish_client_span(span, getattr(response, "status", None))
        return response


class Urllib3Integration(Integration):
    identifier = "urllib3"

    @classmethod
    def setup(cls) -> None:
        global _original
        try:
            import urllib3.connectionpool
        except ImportError as exc:
            raise DidNotEnable("urllib3 is not installed") from exc
        _original = urllib3.connectionpool.HTTPConnectionPool.urlopen
        urllib3.connectionpool.HTTPConnectionPool.urlopen = _urlopen

    @classmethod
    def uninstrument(cls) -> None:
        import urllib3.connectionpool

        if _original is not None:
            urllib3.connectionpool.HTTPConnectionPool.urlopen = _original
