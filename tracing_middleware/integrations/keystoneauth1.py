"""keystoneauth1: one CLIENT span per ``Session`` request, covering its retries.

Patched at ``Session._send_request``, where the headers are final: keystoneauth has by
then merged osprofiler's own ``X-Trace-Info`` (when osprofiler is active), and our
injection, made last, describes the same call as our span — the two never contradict.
The requests layer underneath sees the "inside a client span" marker and adds nothing.
"""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations._http import client_span, finish_client_span
from tracing_middleware.integrations.base import DidNotEnable, Integration

__all__ = ["KeystoneauthIntegration"]

_original: Any = None


def _send_request(self: Any, url: str, method: str, *args: Any, **kwargs: Any) -> Any:
    headers = kwargs.get("headers")
    with client_span(method, url, headers if isinstance(headers, dict) else None) as span:
        response = _original(self, url, method, *args, **kwargs)
        finish_client_span(span, getattr(response, "status_code", None))
        return response


class KeystoneauthIntegration(Integration):
    identifier = "keystoneauth1"

    @classmethod
    def setup(cls) -> None:
        global _original
        try:
            from keystoneauth1 import session
        except ImportError as exc:
            raise DidNotEnable("keystoneauth1 is not installed") from exc
        _original = session.Session._send_request
        session.Session._send_request = _send_request

    @classmethod
    def uninstrument(cls) -> None:
        from keystoneauth1 import session

        if _original is not None:
            session.Session._send_request = _original
