"""Client-span logic shared by the HTTP client integrations; each module stays thin.

One CLIENT span per outgoing request, with the configured formats injected into its
headers — only inside a trace (no active span: the original call, untouched). When
several layers are instrumented (keystoneauth over requests over urllib3) only the
outermost creates a span and injects: a ``ContextVar`` marks "inside a client span".
Request headers are never recorded (tokens live there).

With RED metrics on, each call that gets a span, sampled or not, is counted under the
span's name (the method) with the response's status class, ``timeout`` for an exception
named so (requests', urllib3's, httpx's and the socket's all are) or ``error`` for any
other exception.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import urllib.parse
from collections.abc import Iterator, MutableMapping
from typing import Any

import opentracing

from tracing_middleware import _guard, registry
from tracing_middleware.httputil import redact_url
from tracing_middleware.propagation.base import Setter

__all__ = ["HeaderSetter", "client_span", "finish_client_span"]

#: Inside a client span: the one-item list :func:`finish_client_span` puts the status in.
_inside: contextvars.ContextVar[list[int | None] | None] = contextvars.ContextVar(
    "os_tracing_http_client", default=None)


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
    metrics = tracing.metrics
    start = time.perf_counter_ns() if metrics is not None else 0
    status: list[int | None] = [None]
    token = _inside.set(status)
    scope = tracing.activate(span)
    outcome: Any = None
    try:
        yield span
    except BaseException as exc:
        outcome = "timeout" if "Timeout" in type(exc).__name__ else "error"
        with _guard.guarded("recording an HTTP client error"):
            tracing.set_error(span, exc)
        raise
    finally:
        if metrics is not None:
            with _guard.guarded("counting an HTTP call"):
                metrics.record(tracing.settings.service_name, "client", method,
                               outcome or status[0], time.perf_counter_ns() - start,
                               span.context if tracing.is_recording(span) else None)
        scope.close()
        _inside.reset(token)
        span.finish()


def finish_client_span(span: opentracing.Span | None, status: int | None) -> None:
    """Record the status code; 4xx and 5xx are errors for a client (HTTP semconv)."""
    if span is None or status is None:
        return
    inside = _inside.get()
    if inside is not None:
        inside[0] = status
    with _guard.guarded("recording an HTTP status"):
        span.set_tag("http.response.status_code", status)
        if status >= 400:
            tracing = registry.get_tracing()
            if tracing is not None:
                tracing.set_error(span, description=f"HTTP {status}", error_type=str(status))
