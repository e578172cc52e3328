"""``exporters`` URLs -> OpenTelemetry SDK span exporters, for the ``opentelemetry-sdk``
engine (the default ``opentelemetry`` engine exports without the SDK)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

from tracing_middleware.config import ExporterURL, Settings
from tracing_middleware.export.local import StoreWriter, write_console
from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.spancontext import format_span_id, format_trace_id

__all__ = ["ConsoleExporter", "StoreExporter", "build_otel_exporter", "to_record"]

LOG = logging.getLogger(__name__)

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
    """An SDK ``ReadableSpan`` as the store's engine-neutral record."""
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


class StoreExporter(StoreWriter, SpanExporter):
    """The embedded store as an SDK span exporter (see :class:`StoreWriter`)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self.write_records([to_record(s) for s in spans])
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class ConsoleExporter(SpanExporter):
    """One JSON line per span (the ``trace show --format json`` span shape) on stderr."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self._out = out

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        write_console([to_record(span) for span in spans], self._out)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _Quiet(logging.Filter):
    """The SDK's OTLP exporters log an ERROR per failed batch; our batch processor already
    reports each change of state once, so during an outage these would be a flood."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING


_QUIET = _Quiet()


def _quiet(logger_name: str) -> None:
    logger = logging.getLogger(logger_name)
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)


def build_otel_exporter(url: ExporterURL, settings: Settings) -> SpanExporter:
    """Raises ``ValueError`` naming the option when the URL cannot be served here."""
    timeout_s = settings.export_timeout_ms / 1000.0
    if url.scheme in ("otlp+http", "otlp+https"):
        from opentelemetry.exporter.otlp.proto.http import trace_exporter

        _quiet(trace_exporter.__name__)
        _quiet("opentelemetry.exporter.otlp.proto.http._common")
        return trace_exporter.OTLPSpanExporter(endpoint=url.url, timeout=timeout_s)
    if url.scheme == "otlp+grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            raise ValueError(f"[tracing] exporters = {url.display!r} needs the OTLP/gRPC "
                             "exporter: pip install 'os-tracing[grpc]'")
        return GrpcExporter(endpoint=url.url, insecure=True, timeout=timeout_s)
    if url.scheme == "sqlite":
        return StoreExporter(url.url)
    if url.scheme == "console":
        return ConsoleExporter()
    raise ValueError(f"[tracing] exporters = {url.display!r} is only supported by "
                     "[tracing] tracer = jaeger")
