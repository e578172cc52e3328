"""From ``[tracing]`` settings to a recorder the edges count into and the exporter that
sends its points where ``metrics_exporters`` says."""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from tracing_middleware import _guard
from tracing_middleware.config import ExporterURL, Settings
from tracing_middleware.export.otlp_grpc import OTLPGrpcSender
from tracing_middleware.export.otlp_http import OTLPHTTPSender
from tracing_middleware.metrics.exporter import MetricsExporter, OTLPSink, StoreSink
from tracing_middleware.metrics.recorder import Recorder
from tracing_middleware.metrics.store import MetricStore

__all__ = ["GRPC_METHOD", "build", "metrics_url"]

LOG = logging.getLogger(__name__)

GRPC_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


def metrics_url(exporter: ExporterURL) -> str:
    """An OTLP/HTTP URL given without a path posts to ``/v1/metrics``, as
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` does (the span exporter's default is ``/v1/traces``)."""
    raw = urllib.parse.urlsplit(exporter.raw.strip().split("+", 1)[1])
    if raw.path in ("", "/"):
        return urllib.parse.urlunsplit(urllib.parse.urlsplit(exporter.url)._replace(
            path="/v1/metrics"))
    return exporter.url


def _sink(exporter: ExporterURL, settings: Settings) -> Any:
    timeout_s = settings.export_timeout_ms / 1000
    cumulative = settings.metrics_temporality == "cumulative"
    if exporter.scheme == "sqlite":
        return StoreSink(MetricStore.from_url(exporter.url))
    if exporter.scheme == "otlp+grpc":
        return OTLPSink(OTLPGrpcSender(exporter.url, timeout_s, method=GRPC_METHOD),
                        cumulative)
    return OTLPSink(OTLPHTTPSender(metrics_url(exporter), timeout_s), cumulative)


def recorder_for(settings: Settings) -> Recorder:
    return Recorder(max_series=settings.metrics_max_series,
                    bounds=settings.metrics_histogram_buckets or None)


def _sinks(settings: Settings) -> list[Any]:
    sinks = []
    for exporter in settings.metrics_exporters:
        try:
            sinks.append(_sink(exporter, settings))
        except ValueError as exc:  # grpcio missing: said once, the others still work
            _guard.log_once(LOG, "os-tracing: [tracing] metrics_exporters = %s: %s",
                            exporter.display, exc, level=logging.WARNING,
                            key=f"metrics-sink:{exporter.display}")
    return sinks


def build(settings: Settings) -> tuple[Recorder, MetricsExporter] | None:
    """The recorder and its running exporter, or ``None`` when metrics are off or have
    nowhere to go (then the edges count nothing)."""
    if not settings.metrics or not settings.metrics_exporters:
        return None
    sinks = _sinks(settings)
    if not sinks:
        return None
    recorder = recorder_for(settings)
    exporter = MetricsExporter(recorder, sinks, settings.metrics_interval,
                               settings.service_name,
                               source_factory=lambda: recorder_for(settings),
                               sinks_factory=lambda: _sinks(settings))
    return recorder, exporter
