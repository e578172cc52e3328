"""``exporters`` URLs -> OpenTelemetry SDK span exporters, for the default engine."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import IO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tracing_middleware.config import ExporterURL, Settings
from tracing_middleware.export.records import SpanRecord

__all__ = ["ConsoleExporter", "StoreExporter", "build_otel_exporter"]

LOG = logging.getLogger(__name__)


class StoreExporter(SpanExporter):
    """Writes finished spans into the embedded SQLite store.

    Runs on the batch processor's thread. A locked or full database costs the batch (counted
    in ``dropped`` and logged once per failure streak), never an exception anywhere else.
    """

    def __init__(self, url: str) -> None:
        from tracing_middleware.export.store import SpanStore

        self._store = SpanStore.from_url(url)
        self._url = url
        self.dropped = 0
        self._failing = False

    def write_records(self, records: Sequence[SpanRecord]) -> bool:
        try:
            self._store.write(records)
        except Exception as exc:
            self.dropped += len(records)
            if not self._failing:
                self._failing = True
                LOG.warning("os-tracing: cannot write to the span store %s (%s); spans are "
                            "dropped until it recovers", self._url, exc)
            return False
        if self._failing:
            self._failing = False
            LOG.info("os-tracing: span store %s writable again (%d spans dropped so far)",
                     self._url, self.dropped)
        return True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from tracing_middleware.plugins.otel_convert import to_record

        ok = self.write_records([to_record(s) for s in spans])
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        try:
            self._store.close()
        except Exception:
            LOG.debug("os-tracing: closing the store failed", exc_info=True)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class ConsoleExporter(SpanExporter):
    """One JSON line per span (the ``trace show --format json`` span shape) on stderr."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self._out = out

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from tracing_middleware.export.local import write_console
        from tracing_middleware.plugins.otel_convert import to_record

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
