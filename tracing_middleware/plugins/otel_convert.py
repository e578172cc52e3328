"""OpenTelemetry SDK ``ReadableSpan`` -> :class:`SpanRecord`, for the embedded store."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.spancontext import format_span_id, format_trace_id

__all__ = ["to_record"]

_KINDS = {
    SpanKind.INTERNAL: "internal",
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}
_STATUSES = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}


def _plain(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return str(value)


def to_record(span: ReadableSpan) -> SpanRecord:
    context = span.get_span_context()
    parent = span.parent
    resource = dict(span.resource.attributes) if span.resource is not None else {}
    start = span.start_time or 0
    end = span.end_time or start
    return SpanRecord(
        trace_id=format_trace_id(context.trace_id),
        span_id=format_span_id(context.span_id),
        parent_span_id=format_span_id(parent.span_id) if parent is not None else None,
        name=span.name,
        service=str(resource.get("service.name", "unknown_service")),
        kind=_KINDS.get(span.kind, "internal"),
        start_time_unix_nano=start,
        duration_ns=max(0, end - start),
        status=_STATUSES.get(span.status.status_code, "unset"),
        status_message=span.status.description or "",
        attributes={k: _plain(v) for k, v in (span.attributes or {}).items()},
        events=tuple(
            SpanEvent(e.name, e.timestamp,
                      {k: _plain(v) for k, v in (e.attributes or {}).items()})
            for e in span.events
        ),
        resource={k: _plain(v) for k, v in resource.items()},
    )
