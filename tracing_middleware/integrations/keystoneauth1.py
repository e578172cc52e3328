"""keystoneauth1: one CLIENT span per ``Session`` request, covering its retries.

Patched at ``Session._send_request``, where the headers are final: keystoneauth has by
then merged osprofiler's own ``X-Trace-Info`` (when osprofiler is active), and our
injection, made last, describes the same call as our span — the two never contradict.
The requests layer underneath sees the "inside a client span" marker and adds nothing.
"""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations._http import client_span, finish_client_span
from tracing_middleware.integrations.base import Integration, require

__all__ = ["KeystoneauthIntegration"]

def _traced(send_request: Any) -> Any:
    def traced_send_request(self: Any, url: str, method: str, *args: Any, **kwargs: Any
                            ) -> Any:
        headers = kwargs.get("headers")
        with client_span(method, url, headers if isinstance(headers, dict) else None) as span:
            response = send_request(self, url, method, *args, **kwargs)
            finish_client_span(span, getattr(response, "status_code", None))
            return response
    return traced_send_request


class KeystoneauthIntegration(Integration):
    identifier = "keystoneauth1"

    @classmethod
    def setup(cls) -> None:
        cls.patch(require("keystoneauth1.session").Session, "_send_request", _traced)
