"""Each peer set up the way its users would set it up, exporting to the same sink.

Everything built here is remembered so that :func:`flush_all` can empty every export
queue between cases (a queue left over from one case would be exported during another
case's timed window) and :func:`shutdown_all` can stop it all while the sink still
answers (otherwise each exporter retries against a dead sink at interpreter exit).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["JaegerReporterCounts", "SdkDropCounter", "TimedExporter", "flush_all",
           "jaeger_tracer", "os_tracing", "os_tracing_dropped", "os_tracing_filter",
           "os_tracing_options", "OsloMessagingTracing", "osprofiler_filter",
           "osprofiler_signed_headers", "osprofiler_trace", "otel_filter", "otel_provider",
           "otel_tracer", "shutdown_all"]

OSPROFILER_KEY = "bench-key"

_engines: list[Any] = []
_providers: list[Any] = []


def os_tracing_options(sink: str, sampled: bool, **extra: str) -> dict[str, str]:
    """The ``[tracing]`` options every os-tracing variant runs with."""
    return {"exporters": sink, "sampler": "always_on" if sampled else "always_off",
            "integrations": "", "service_name": "bench", **extra}


def os_tracing(sink: str, sampled: bool, *, register: bool = True, **extra: str) -> Any:
    """An os-tracing engine; ``extra`` are ``[tracing]`` options (``tracer=jaeger``, ...).

    ``register=False`` builds a private :class:`~tracing_middleware.tracer.Tracing` that
    the process-wide registry never sees, so several engines can be compared side by side
    without the facade switching to its multi-engine bookkeeping (it tags every span with
    its owner once two engines are registered); the caller shuts it down.
    """
    from tracing_middleware import tracer
    from tracing_middleware.config import load_settings

    settings = load_settings(None, os_tracing_options(sink, sampled, **extra), environ={})
    if register:
        return tracer.setup(settings)
    engine = tracer.Tracing(settings)
    _engines.append(engine)
    return engine


def os_tracing_filter(app: Any, sink: str, sampled: bool, **extra: str) -> Any:
    from tracing_middleware.filter import TracingFilter

    return TracingFilter.factory({}, **os_tracing_options(sink, sampled, **extra))(app)


def os_tracing_processors(engine: Any) -> list[Any]:
    """The engine's batch processors, whichever engine: the default one wraps ours in an
    SDK ``SpanProcessor`` (``.batch``), the jaeger one lists them directly."""
    return [getattr(p, "batch", p) for p in getattr(engine.plugin, "processors", ())]


def os_tracing_dropped(engine: Any) -> int:
    return sum(int(getattr(p, "dropped", 0) or 0) for p in os_tracing_processors(engine))


def otel_provider(sink_url: str, sampled: bool = True, **bsp: Any) -> Any:
    """A ``TracerProvider`` with a ``BatchSpanProcessor`` and ``OTLPSpanExporter``: the
    SDK's documented setup. ``bsp`` are ``BatchSpanProcessor`` arguments."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    provider = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF,
                              resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sink_url),
                                                   **bsp))
    _providers.append(provider)
    return provider


_otel_providers: dict[tuple[str, bool], Any] = {}


def _otel_provider(sink_url: str, sampled: bool) -> Any:
    key = (sink_url, sampled)
    if key not in _otel_providers:
        _otel_providers[key] = otel_provider(sink_url, sampled)
    return _otel_providers[key]


def otel_filter(app: Any, sink_url: str, sampled: bool) -> Any:
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app, tracer_provider=_otel_provider(sink_url, sampled))


def otel_tracer(sink_url: str) -> Any:
    return _otel_provider(sink_url, True).get_tracer("bench")


class TimedExporter:
    """An SDK span exporter that adds up the CPU its ``export`` takes, in whichever thread
    calls it, as ``export_cpu_s``: what os-tracing's batch processor counts of its own, so
    a case that charges export CPU per message charges this peer the same way."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.export_cpu_s = 0.0

    def export(self, spans: Any) -> Any:
        start = time.thread_time()
        try:
            return self.inner.export(spans)
        finally:
            self.export_cpu_s += time.thread_time() - start

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class OsloMessagingTracing:
    """oslo.messaging's own OpenTelemetry tracing (18.3 and later, ``[oslo_messaging_tracing]
    tracing_enabled``): its ``trace_send``/``trace_receive`` start a span per message and
    carry the context in the request context.

    oslo.messaging takes the process's global ``TracerProvider`` (or builds one like
    :func:`otel_provider` from its options) and keeps one tracer per process. The bench
    builds the same SDK setup per variant and :meth:`install` hands its tracer over, so
    sampled and unsampled rows can run in one process.
    """

    def __init__(self, sink_url: str, sampled: bool) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

        self.exporter = TimedExporter(OTLPSpanExporter(endpoint=sink_url))
        self.provider = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF,
                                       resource=Resource.create({"service.name": "bench"}))
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter))
        _providers.append(self.provider)
        self.tracer = self.provider.get_tracer("oslo.messaging")

    @staticmethod
    def available() -> bool:
        try:
            import oslo_messaging._tracing.client  # noqa: F401
        except ImportError:
            return False
        return True

    def install(self) -> None:
        """Make this tracer the one oslo.messaging's client and server use."""
        from oslo_messaging._tracing import client

        client._TRACER = self.tracer

    def enter_request(self) -> Callable[[], None]:
        """Make a request span current, as the API's WSGI instrumentation would; the
        result ends it and restores the context."""
        from opentelemetry import context, trace

        span = self.tracer.start_span("bench request", kind=trace.SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span))

        def leave() -> None:
            span.end()
            context.detach(token)
        return leave


class SdkDropCounter(logging.Handler):
    """Counts the SDK batch processor's "Queue full" warnings: its only public sign of a
    drop. The SDK de-duplicates the warning, so this says *whether*, not how many."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self._logger = logging.getLogger("opentelemetry.sdk._shared_internal")

    def emit(self, record: logging.LogRecord) -> None:
        if "Queue full" in record.getMessage():
            self.count += 1

    def __enter__(self) -> SdkDropCounter:
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)


_osprofiler_ready: list[bool] = []


def _osprofiler_notifier(sink_port: int) -> None:
    if _osprofiler_ready:
        return
    from oslo_config import cfg
    from osprofiler import notifier, opts

    opts.set_defaults(cfg.CONF)
    notifier.set(notifier.create(f"otlp://127.0.0.1:{sink_port}", project="bench",
                                 service="api", conf=cfg.CONF))
    _osprofiler_ready.append(True)


def osprofiler_filter(app: Any, sink_port: int) -> Any:
    from osprofiler import web

    _osprofiler_notifier(sink_port)
    web.enable(OSPROFILER_KEY)
    return web.WsgiMiddleware(app, hmac_keys=OSPROFILER_KEY, enabled=True)


def osprofiler_signed_headers() -> dict[str, str]:
    from osprofiler import _utils as utils

    data = {"base_id": str(uuid.uuid4()), "parent_id": str(uuid.uuid4())}
    info, signature = utils.signed_pack(data, OSPROFILER_KEY)
    return {"HTTP_X_TRACE_INFO": info.decode(), "HTTP_X_TRACE_HMAC": signature or ""}


def osprofiler_trace(sink_port: int) -> Any:
    from osprofiler import profiler

    _osprofiler_notifier(sink_port)

    @profiler.trace("bench")
    def traced() -> None:
        return None

    return traced


def osprofiler_flush() -> None:
    """osprofiler's OTLP driver installs the SDK's *global* provider with default batch
    settings (no options of its own); flushing that provider flushes osprofiler."""
    from opentelemetry import trace

    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is not None:
        flush()


class JaegerReporterCounts:
    """A jaeger-client ``MetricsFactory`` that counts what the reporter submitted, failed
    or dropped, so the bench can wait until a round's spans have left. Every other metric
    stays a no-op, as with the default factory."""

    def __init__(self) -> None:
        self.counts = {"ok": 0, "err": 0, "dropped": 0}
        self._changed = threading.Condition()

    def _noop(self, *args: Any) -> None:
        return None

    def create_counter(self, name: str, tags: dict[str, str] | None = None) -> Any:
        result = (tags or {}).get("result", "")
        if name != "jaeger:reporter_spans" or result not in self.counts:
            return self._noop

        def increment(value: int) -> None:
            with self._changed:
                self.counts[result] += value
                self._changed.notify_all()
        return increment

    def create_timer(self, name: str, tags: dict[str, str] | None = None) -> Any:
        return self._noop

    def create_gauge(self, name: str, tags: dict[str, str] | None = None) -> Any:
        return self._noop

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def wait_for(self, total: int, timeout_s: float = 30.0) -> bool:
        """Until ``total`` spans were submitted, failed or dropped since start."""
        with self._changed:
            return self._changed.wait_for(lambda: self.done >= total, timeout_s)


def jaeger_tracer(agent_port: int, metrics_factory: Any = None, **reporter: Any) -> Any:
    """jaeger-client as documented: ``Config(...).new_tracer()``, const sampler, UDP agent.
    ``reporter`` are ``reporter_queue_size``/``reporter_batch_size``/...``Config`` keys."""
    from jaeger_client.config import Config

    config = Config({"sampler": {"type": "const", "param": 1},
                     "local_agent": {"reporting_host": "127.0.0.1",
                                     "reporting_port": agent_port},
                     "logging": False, **reporter},
                    service_name="bench", validate=True, metrics_factory=metrics_factory)
    return config.new_tracer()


def flush_all() -> None:
    """Export whatever any tracer built here still holds (between cases)."""
    from tracing_middleware import tracer

    tracer.force_flush_all()
    for engine in _engines:
        engine.force_flush()
    for provider in _providers:
        provider.force_flush()
    if _osprofiler_ready:
        osprofiler_flush()


def shutdown_all() -> None:
    """Stop every tracer built here while the sink still answers."""
    from opentelemetry import trace

    from tracing_middleware import tracer

    tracer.reset()
    while _engines:
        _engines.pop().shutdown()
    while _providers:
        _providers.pop().shutdown()
    _otel_providers.clear()
    shutdown = getattr(trace.get_tracer_provider(), "shutdown", None)
    if _osprofiler_ready and shutdown is not None:
        shutdown()
