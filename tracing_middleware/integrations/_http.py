"""Client-span logic shared by the HTTP client integrations; each module stays thin.

One CLIENT span per outgoing request, with the configured formats injected into its
headers — only inside a trace (no active span: the original call, untouched). When
several layers are instrumented (keystoneauth over requests over urllib3) only the
outermost creates a span and injects: a ``ContextVar`` marks "inside a client span".
Request headers are never recorded (tokens live there).
"""

from __future__ import annotations

import contextlib
import contextvars
import urllib.parse
from collections.abc import Iterator, MutableMapping
from typing import Any

import opentracing

from tracing_middleware import _guard, registry
from tracing_middleware.httputil import redact_url
from tracing_middleware.propagation.base import Setter

__all__ = ["HeaderSetter", "client_span", "finish_client_span"]

_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("os_tracing_http_client",
                                                                default=False)


class HeaderSetter(Setter[MutableMapping[str, str]]):
    def set(self, carrier: MutableMapping[str, str], key: str, value: str) -> None:
        carrier[key] = value


_setter = HeaderSetter()


@contextlib.contextmanager
def client_span(method: str, url: str, headers: MutableMapping[str, str] | None
                ) -> Iterator[opentracing.Span | None]:
    """Start a CLIENT span and inject into ``headers``; yields ``None`` when not tracing.

    The caller sets the response status with :func:`finish_client_span`; exceptions are
    recorded and re-raised unchanged.
    """
    tracing = registry.get_tracing()
    if tracing is None or _inside.get() or tracing.active_span() is None:
        yield None
        return
    span = None
    with _guard.guarded("starting an HTTP client span"):
        parts = urllib.parse.urlsplit(url)
        method = (method or "GET").upper()
        tags: dict[str, Any] = {
            "span.kind": "client",
            "http.request.method": method,
            "url.full": redact_url(url, tracing.settings.sensitive_query_keys),
        }
        if parts.hostname:
            tags["server.address"] = parts.hostname
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        if port:
            tags["server.port"] = port
        span = tracing.start_span(method, kind="client", tags=tags)
        if headers is not None and tracing.should_propagate(parts.hostname):
            tracing.inject(headers, _setter, span)
    if span is None:
        yield None
        return
    token = _inside.set(True)
    scope = tracing.activate(span)
    try:
        yield span
    except BaseException as exc:
        with _guard.guarded("recording an HTTP client error"):
            tracing.set_error(span, exc)
        raise
    finally:
        scope.close()
        _inside.reset(token)
        span.finish()


def finish_client_span(span: opentracing.Span | None, status: int | None) -> None:
    """Record the status code; 4xx and 5xx are errors for a client (HTTP semconv)."""
    if span is None or status is None:
        return
    with _guard.guarded("recording an HTTP status"):
        span.set_tag("http.response.status_code", status)
        if status >= 400:
            tracing = registry.get_tracing()
            if tracing is not None:
                tracing.set_error(span, description=f"HTTP {status}", error_type=str(status))
