"""Every ``[tracing]`` option, in one place, for oslo-config-generator and the docs.

Names follow OpenTelemetry's environment variables where one exists (``propagators`` for
``OTEL_PROPAGATORS``, ``sampler`` for ``OTEL_TRACES_SAMPLER``...) so operators who know
one know the other. Defaults here are the built-in ones; :mod:`tracing_middleware.config`
layers the environment and paste ``local_conf`` over them.
"""

from __future__ import annotations

import copy

from oslo_config import cfg

from tracing_middleware.integrations import DEFAULT_INTEGRATIONS, INTEGRATIONS
from tracing_middleware.propagation import PROPAGATORS
from tracing_middleware.sampling import SAMPLERS
from tracing_middleware.scope import SCOPE_MANAGERS

__all__ = ["GROUP", "OPTS", "list_opts", "register_opts"]

GROUP = "tracing"

OPTS: list[cfg.Opt] = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Trace this service. When false the paste filter and the messaging driver "
        "pass everything through untouched. Environment: OTEL_SDK_DISABLED=true disables.",
    ),
    cfg.StrOpt(
        "service_name",
        help="Service name recorded on every span (OpenTelemetry ``service.name``). "
        "Environment: OTEL_SERVICE_NAME. Default: the program name when it is one of the "
        "project's (nova-conductor, nova-scheduler: one nova.conf serves them all), else "
        "the oslo.config project name, else the program name.",
    ),
    cfg.StrOpt(
        "tracer",
        default="opentelemetry",
        help="Tracer engine, loaded by name from the ``os_tracing.tracers`` entry point: "
        "``opentelemetry`` (default: OpenTelemetry spans over OTLP, recorded by "
        "os-tracing's own lean recorder), ``opentelemetry-sdk`` (the same through the "
        "OpenTelemetry Python SDK and its OpenTracing shim; several times the CPU per "
        "span), ``jaeger`` (jaeger-client, needs the ``jaeger`` extra) or ``noop``.",
    ),
    cfg.ListOpt(
        "propagators",
        default=["tracecontext", "baggage"],
        help="Wire formats extracted from and injected into HTTP requests, in "
        f"order: {', '.join(PROPAGATORS)}. On "
        "extraction the first format that yields a valid context wins; baggage is always "
        "merged; on injection every format is written. RPC messages between traced+ "
        "drivers always carry W3C Trace Context and Baggage (none: no context at all). "
        "Environment: OTEL_PROPAGATORS.",
    ),
    cfg.StrOpt(
        "sampler",
        default="parentbased_always_on",
        help=f"Sampler: {', '.join(SAMPLERS)}. Environment: OTEL_TRACES_SAMPLER.",
    ),
    cfg.StrOpt(
        "sampler_arg",
        help="Sampler argument: a ratio in [0, 1] for the ratio samplers; for the "
        "jaeger_remote samplers ``endpoint=http://host:5778/sampling,"
        "pollingIntervalMs=60000,initialSamplingRate=0.001`` (endpoint may be "
        "file:///path/strategies.json). Environment: OTEL_TRACES_SAMPLER_ARG.",
    ),
    cfg.FloatOpt(
        "upstream_sampling_rate_limit",
        default=100.0,
        min=0,
        help="Traces per second per process that a caller outside the cloud may force "
        "with a sampled flag (traceparent, B3, Jaeger). Beyond it the local sampler "
        "decides. 0 means unlimited. A valid osprofiler signature is always honoured.",
    ),
    cfg.ListOpt(
        "exporters",
        help="Where finished spans go, as URLs: otlp+http://host:4318, "
        "otlp+grpc://host:4317 (``grpc`` extra), sqlite:///path/traces.db, console://, "
        "jaeger+udp://host:6831 (jaeger tracer only). Default: "
        "OTEL_EXPORTER_OTLP_ENDPOINT if set, else the embedded SQLite store.",
    ),
    cfg.StrOpt(
        "scope_manager",
        default="contextvars",
        help=f"Where the current span lives: {', '.join(SCOPE_MANAGERS)} (auto: eventlet or "
        "gevent when the process is monkey-patched by them, else contextvars).",
    ),
    cfg.ListOpt(
        "hmac_keys",
        default=[],
        secret=True,
        help="osprofiler HMAC keys. A request or message signed with one of them is always "
        "traced; the first key signs outgoing osprofiler headers. Never recorded or sent.",
    ),
    cfg.ListOpt(
        "integrations",
        help=f"Libraries to instrument: {', '.join(INTEGRATIONS)}. Default: those of "
        f"{', '.join(DEFAULT_INTEGRATIONS)} that are importable.",
    ),
    cfg.ListOpt(
        "excluded_paths",
        default=["^/healthcheck"],
        help="Regular expressions; requests whose path matches one are never traced.",
    ),
    cfg.BoolOpt(
        "traceresponse",
        default=False,
        help="Return a W3C ``traceresponse`` header (Trace Context Level 2 draft).",
    ),
    cfg.ListOpt(
        "propagation_targets",
        default=[],
        help="Regular expressions matched against the host of outgoing HTTP calls; when "
        "set, trace headers are only sent to matching hosts. Empty: sent everywhere.",
    ),
    cfg.DictOpt(
        "resource_attributes",
        default={},
        help="Extra resource attributes (key:value,...). Environment: "
        "OTEL_RESOURCE_ATTRIBUTES (key=value,...).",
    ),
    cfg.ListOpt(
        "sensitive_query_keys",
        default=["token", "password", "passwd", "secret", "key", "signature",
                 "sig", "auth", "x-auth-token", "temp_url_sig", "credential"],
        help="Query-string keys whose values are redacted before a URL is recorded.",
    ),
    cfg.BoolOpt(
        "rpc_context_fields",
        default=False,
        help="Also write traceparent (and tracestate and baggage when there are any) into "
        "the request context of every RPC call, cast and notification sent inside a "
        "trace, next to the traced+ envelope, so that receivers traced by "
        "oslo.messaging's own tracing or opentelemetry-instrumentation-oslo-messaging "
        "continue the trace. Every receiver then sees these keys, untraced ones too: "
        "code that builds its context with RequestContext(**ctxt) breaks on them. Off: "
        "a request context that already holds traceparent (a peer upstream wrote it) "
        "gets ours instead, and no key is ever added.",
    ),
    cfg.IntOpt(
        "max_spans_per_unit",
        default=1000,
        min=0,
        help="Most spans recorded inside one unit of work (a request or a message) in "
        "this process, besides the unit's own span. Beyond it children are counted, not "
        "recorded: the count is the unit span's ``os_tracing.unit.dropped_spans`` "
        "attribute, and calls made from inside them still carry the trace on. Spans that "
        "hand the trace to another service (HTTP calls, RPC, notifications) are always "
        "recorded. 0: no cap.",
    ),
    cfg.BoolOpt(
        "sql_transaction_spans",
        default=False,
        help="Record transaction-control statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, "
        "RELEASE) as database spans. Off by default: they are most of a service's "
        "statements and say nothing about where time went.",
    ),
    cfg.BoolOpt(
        "sql_fold_repeats",
        default=True,
        help="Record consecutive executions of the same statement under the same parent "
        "span as one span (from the first start to the last end) whose "
        "``os_tracing.db.repeat_count`` attribute says how many there were, instead of "
        "one span each: an N+1 query loop becomes one line with its count.",
    ),
    cfg.IntOpt(
        "max_queue_size",
        default=2048,
        min=1,
        help="Spans kept in memory per exporter while waiting for export; beyond it new "
        "spans are dropped and counted.",
    ),
    cfg.IntOpt(
        "export_batch_size",
        default=512,
        min=1,
        help="Largest batch sent to an exporter at once.",
    ),
    cfg.IntOpt(
        "export_interval_ms",
        default=1000,
        min=1,
        help="How often queued spans are exported, in milliseconds.",
    ),
    cfg.IntOpt(
        "export_timeout_ms",
        default=10000,
        min=1,
        help="Time limit for one export call, in milliseconds.",
    ),
    cfg.BoolOpt(
        "metrics",
        default=True,
        help="Count every request and message at the edges, sampled or not (RED "
        "metrics: rate, errors, duration), with exemplars linking latency buckets to "
        "kept traces. Off costs nothing.",
    ),
    cfg.ListOpt(
        "metrics_exporters",
        help="Where the metrics go, as URLs: otlp+http://host:4318, otlp+grpc://host:4317, "
        "sqlite:///path/traces.db. Default: the embedded store when spans are stored "
        "there, else nowhere (metrics are still counted only if a destination is set).",
    ),
    cfg.IntOpt(
        "metrics_interval",
        default=60,
        min=1,
        help="Seconds between two exports of the metrics (one point per series each).",
    ),
    cfg.StrOpt(
        "metrics_temporality",
        default="cumulative",
        choices=("cumulative", "delta"),
        help="OTLP temporality: cumulative (counts since the process started, as "
        "Prometheus expects) or delta (counts of each interval). The embedded store "
        "always keeps deltas.",
    ),
    cfg.IntOpt(
        "metrics_max_series",
        default=1000,
        min=1,
        help="Most series (service, kind, operation, outcome) one process keeps; past "
        "it new operations are counted in one 'other' series, said once in the log.",
    ),
    cfg.ListOpt(
        "metrics_histogram_buckets",
        default=[],
        help="Explicit latency bucket bounds in milliseconds, ascending (e.g. "
        "5,10,25,50,100,250,500,1000,2500,5000). Empty: OpenTelemetry's base-2 "
        "exponential histogram, which needs no tuning.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the ``[tracing]`` group on ``conf`` (idempotent)."""
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Entry point for ``oslo.config.opts``; deep copies, as oslo.messaging does."""
    return [(GROUP, copy.deepcopy(OPTS))]
