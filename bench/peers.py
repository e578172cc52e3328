"""Each peer set up the way its users would set it up, exporting to the same sink."""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["os_tracing_filter", "osprofiler_filter", "otel_filter", "otel_tracer",
           "jaeger_tracer", "osprofiler_signed_headers", "os_tracing"]

OSPROFILER_KEY = "bench-key"


def os_tracing(sink: str, sampled: bool, **extra: str) -> Any:
    from tracing_middleware import tracer
    from tracing_middleware.config import load_settings

    conf = {"exporters": sink, "sampler": "always_on" if sampled else "always_off",
            "integrations": "", "service_name": "bench", **extra}
    return tracer.setup(load_settings(None, conf, environ={}))


def os_tracing_filter(app: Any, sink: str, sampled: bool, **extra: str) -> Any:
    from tracing_middleware.filter import TracingFilter

    conf = {"exporters": sink, "sampler": "always_on" if sampled else "always_off",
            "integrations": "", "service_name": "bench", **extra}
    return TracingFilter.factory({}, **conf)(app)


_otel_providers: dict[tuple[str, bool], Any] = {}


def _otel_provider(sink_url: str, sampled: bool) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    key = (sink_url, sampled)
    if key not in _otel_providers:
        provider = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF,
                                  resource=Resource.create({"service.name": "bench"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sink_url)))
        _otel_providers[key] = provider
    return _otel_providers[key]


def otel_filter(app: Any, sink_url: str, sampled: bool) -> Any:
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app, tracer_provider=_otel_provider(sink_url, sampled))


def otel_tracer(sink_url: str) -> Any:
    return _otel_provider(sink_url, True).get_tracer("bench")


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
    return {"HTTP_X_TRACE_INFO": info.decode(), "HTTP_X_TRACE_HMAC": signature}


def osprofiler_trace(sink_port: int) -> Any:
    from osprofiler import profiler

    _osprofiler_notifier(sink_port)

    @profiler.trace("bench")
    def traced() -> None:
        return None

    return traced


def jaeger_tracer(agent_port: int) -> Any:
    from jaeger_client import Config

    config = Config({"sampler": {"type": "const", "param": 1},
                     "local_agent": {"reporting_host": "127.0.0.1",
                                     "reporting_port": agent_port},
                     "logging": False}, service_name="bench", validate=True)
    return config.new_tracer()
