"""RED metrics as an OTLP ``ExportMetricsServiceRequest``, built with the official
``opentelemetry-proto`` types.

The names and labels are those of the OpenTelemetry Collector's span-metrics connector
(which Jaeger's monitor tab and Grafana's dashboards read), so a dashboard built for
span-derived metrics works on these, which count every request instead of the sampled
ones:

``traces.span.metrics.calls`` (sum, monotonic, unit ``1``)
    requests, split by ``status.code``: ``STATUS_CODE_ERROR`` for the errors,
    ``STATUS_CODE_UNSET`` for the rest.
``traces.span.metrics.duration`` (histogram, unit ``ns``)
    their durations, base-2 exponential (or explicit buckets when configured), with
    exemplars naming a kept trace and span per bucket. Nanoseconds because the
    exponential buckets are powers of two of the recorded unit and cannot be converted
    to seconds exactly.

Data point attributes: ``service.name``, ``span.name`` (the operation), ``span.kind``
(``SPAN_KIND_SERVER`` ...), ``outcome`` (``2xx``...``5xx``, or ``ok``/``error``/
``timeout`` for RPC), and ``status.code`` on the calls. The resource tells processes
apart (``service.instance.id``, ``process.pid``, ``host.name``). Encoding runs on the
metrics exporter's thread once per interval, never on a request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from tracing_middleware.metrics.points import SeriesPoint

__all__ = ["CALLS", "DURATION", "KIND_NAMES", "encode"]

CALLS = "traces.span.metrics.calls"
DURATION = "traces.span.metrics.duration"
#: Our span kinds as the span-metrics connector labels them.
KIND_NAMES = {"server": "SPAN_KIND_SERVER", "client": "SPAN_KIND_CLIENT",
              "producer": "SPAN_KIND_PRODUCER", "consumer": "SPAN_KIND_CONSUMER"}
_SCOPE = "os-tracing"


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _attributes(items: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_value(value)) for key, value in items.items()]


def _labels(point: SeriesPoint) -> dict[str, str]:
    key = point.key
    return {"service.name": key.service, "span.name": key.operation,
            "span.kind": KIND_NAMES.get(key.kind, key.kind), "outcome": key.outcome}


def _exemplars(point: SeriesPoint) -> list[metrics_pb2.Exemplar]:
    found = []
    for exemplar in point.exemplars:
        try:
            trace_id = bytes.fromhex(exemplar.trace_id)
            span_id = bytes.fromhex(exemplar.span_id)
        except ValueError:
            continue  # an id that is not hex names nothing to link to
        found.append(metrics_pb2.Exemplar(
            time_unix_nano=exemplar.time_unix_nano, as_int=exemplar.value_ns,
            trace_id=trace_id, span_id=span_id))
    return found


def _duration_point(point: SeriesPoint, labels: list[KeyValue]) -> Any:
    histogram = point.histogram
    common: dict[str, Any] = {
        "attributes": labels, "start_time_unix_nano": point.start_time_unix_nano,
        "time_unix_nano": point.time_unix_nano, "count": point.count,
        "sum": float(point.sum_ns), "exemplars": _exemplars(point)}
    if point.count:
        common["min"] = float(point.min_ns)
        common["max"] = float(point.max_ns)
    if histogram.bounds:
        return metrics_pb2.HistogramDataPoint(
            bucket_counts=list(histogram.bucket_counts),
            explicit_bounds=[float(b) for b in histogram.bounds], **common)
    return metrics_pb2.ExponentialHistogramDataPoint(
        scale=histogram.scale, zero_count=histogram.zero_count,
        positive=metrics_pb2.ExponentialHistogramDataPoint.Buckets(
            offset=histogram.offset, bucket_counts=list(histogram.bucket_counts)),
        **common)


def encode(points: Sequence[SeriesPoint], resource: Mapping[str, Any],
           cumulative: bool) -> bytes:
    """One request holding every point, for one process's resource."""
    temporality = (metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE if cumulative
                   else metrics_pb2.AGGREGATION_TEMPORALITY_DELTA)
    calls = metrics_pb2.Sum(aggregation_temporality=temporality, is_monotonic=True)
    exponential = metrics_pb2.ExponentialHistogram(aggregation_temporality=temporality)
    explicit = metrics_pb2.Histogram(aggregation_temporality=temporality)
    for point in points:
        labels = _labels(point)
        for status, count in (("STATUS_CODE_UNSET", point.count - point.errors),
                              ("STATUS_CODE_ERROR", point.errors)):
            if count or cumulative:  # a cumulative series keeps reporting its zeros
                calls.data_points.append(metrics_pb2.NumberDataPoint(
                    attributes=_attributes({**labels, "status.code": status}),
                    start_time_unix_nano=point.start_time_unix_nano,
                    time_unix_nano=point.time_unix_nano, as_int=count))
        data = _duration_point(point, _attributes(labels))
        (explicit if point.histogram.bounds else exponential).data_points.append(data)
    metrics = [metrics_pb2.Metric(name=CALLS, unit="1", description="Requests and "
                                  "messages, sampled or not", sum=calls)]
    if exponential.data_points:
        metrics.append(metrics_pb2.Metric(name=DURATION, unit="ns", description="Their "
                                          "durations", exponential_histogram=exponential))
    if explicit.data_points:
        metrics.append(metrics_pb2.Metric(name=DURATION, unit="ns", description="Their "
                                          "durations", histogram=explicit))
    request = ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource={"attributes": _attributes(resource)},
        scope_metrics=[metrics_pb2.ScopeMetrics(scope={"name": _SCOPE},
                                                metrics=metrics)])])
    return request.SerializeToString()
