"""The ``jaeger`` engine: jaeger-client behind the same contract (``os-tracing[jaeger]``).

The tracer is built directly, not through ``jaeger_client.Config``, which installs
global state and a tornado IOLoop thread we could not bound. Our sampler decides root
spans (through jaeger's ``is_sampled``) and remote parents (before jaeger sees them, so
forced and deferred flags and the upstream limit apply); local children inherit as usual.
Finished sampled spans go through our :class:`BatchProcessor` to the exporters:
``jaeger+udp://`` (Thrift compact ``emitBatch`` to an agent, what jaeger-client's own
sender does), ``sqlite://`` and ``console://``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import opentracing

from tracing_middleware.config import ExporterURL
from tracing_middleware.export.local import local_exporter
from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.plugins.base import BatchExportPlugin, OpenTracingFace
from tracing_middleware.spancontext import (
    SpanContext,
    format_span_id,
    format_trace_id,
    new_span_id,
    new_trace_id,
)

__all__ = ["JaegerPlugin"]

LOG = logging.getLogger(__name__)

_SAMPLED, _DEBUG = 1, 2
_MAX_UDP = 65000


def _require_jaeger() -> Any:
    try:
        import jaeger_client
    except ImportError as exc:
        raise ValueError("[tracing] tracer = 'jaeger' needs jaeger-client: pip install "
                         "'os-tracing[jaeger]'") from exc
    return jaeger_client


def _tag_value(tag: Any) -> Any:
    for field in ("vStr", "vBool", "vLong", "vDouble"):
        value = getattr(tag, field, None)
        if value is not None:
            return value
    return None


def to_record(span: Any, service: str) -> SpanRecord:
    """jaeger-client ``Span`` -> :class:`SpanRecord` (for the store and the console)."""
    tags = {t.key: _tag_value(t) for t in span.tags}
    kind = str(tags.pop("span.kind", "internal") or "internal")
    kind = {"rpc.server": "server", "rpc.client": "client"}.get(kind, kind)
    error = bool(tags.pop("error", False))
    for key in [k for k in tags if k.startswith("sampler.") or k == "jaeger.version"]:
        tags.pop(key)
    events = []
    for log in span.logs:
        fields = {f.key: _tag_value(f) for f in log.fields}
        name = str(fields.pop("event", "log"))
        events.append(SpanEvent(name, int(log.timestamp) * 1000, fields))
    start = int(span.start_time * 1e9)
    end = int((span.end_time or span.start_time) * 1e9)
    return SpanRecord(
        trace_id=format_trace_id(span.trace_id), span_id=format_span_id(span.span_id),
        parent_span_id=format_span_id(span.parent_id) if span.parent_id else None,
        name=span.operation_name, service=service, kind=kind,
        start_time_unix_nano=start, duration_ns=max(0, end - start),
        status="error" if error else "unset", attributes=tags, events=tuple(events),
        resource={"service.name": service})


def _random_id(bits: int) -> int:
    """jaeger-client's id hook (128 bits for trace ids, 64 for span ids), answered by the
    shared generator."""
    return new_trace_id() if bits > 64 else new_span_id()


class _SamplerAdapter:
    """jaeger's sampler interface over ours, for root spans."""

    def __init__(self, plugin: JaegerPlugin) -> None:
        self._plugin = plugin

    def is_sampled(self, trace_id: int, operation: str = "") -> tuple[bool, dict]:
        result = self._plugin.sampler.should_sample(None, trace_id, operation)
        return result.is_sampled, dict(result.attributes or {})

    def close(self) -> None:
        return None


class _Reporter:
    def __init__(self, emit: Callable[[Any], None]) -> None:
        self._emit = emit

    def report_span(self, span: Any) -> None:
        if span.context.flags & _SAMPLED:
            self._emit(span)

    def close(self) -> Future:
        future: Future = Future()
        future.set_result(True)
        return future

    def set_process(self, service_name: str, tags: Any, max_length: int) -> None:
        return None


class _UDPAgent:
    """``emitBatch`` to a Jaeger agent over UDP, one datagram per batch slice."""

    def __init__(self, hostport: str, service: str) -> None:
        jaeger_client = _require_jaeger()
        from jaeger_client import thrift as jthrift

        host, _, port = hostport.rpartition(":")
        self._address = (host, int(port))
        self._thrift = jthrift
        self._process = jthrift.make_process(
            service, {"jaeger.version": f"Python-{jaeger_client.__version__}"}, 1024)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def _encode(self, spans: Sequence[Any]) -> bytes:
        from jaeger_client.thrift_gen.agent import Agent
        from thrift.protocol import TCompactProtocol
        from thrift.Thrift import TMessageType
        from thrift.transport import TTransport

        # The agent's oneway emitBatch call, written as jaeger-client's sender does.
        buffer = TTransport.TMemoryBuffer()
        protocol = TCompactProtocol.TCompactProtocol(buffer)
        protocol.writeMessageBegin("emitBatch", TMessageType.ONEWAY, 0)
        args = Agent.emitBatch_args()
        args.batch = self._thrift.make_jaeger_batch(spans, self._process)
        args.write(protocol)
        protocol.writeMessageEnd()
        return buffer.getvalue()

    def export(self, spans: Sequence[Any]) -> bool:
        pending = [list(spans)]
        while pending:
            chunk = pending.pop()
            data = self._encode(chunk)
            if len(data) > _MAX_UDP and len(chunk) > 1:
                half = len(chunk) // 2
                pending += [chunk[:half], chunk[half:]]
                continue
            self._socket.sendto(data, self._address)
        return True

    def close(self) -> None:
        self._socket.close()


class _JaegerFace(OpenTracingFace):
    """The shared parent rule over jaeger-client's spans, with jaeger-client's own codecs
    (``uber-trace-id``, binary) for inject and extract, as its users expect."""

    def __init__(self, plugin: JaegerPlugin, client: Any) -> None:
        super().__init__(plugin)
        self._client = client

    def inject(self, span_context: opentracing.SpanContext, format: str,
               carrier: Any) -> None:
        self._client.inject(span_context, format, carrier)

    def extract(self, format: str, carrier: Any) -> opentracing.SpanContext:
        return self._client.extract(format, carrier)


class JaegerPlugin(BatchExportPlugin):
    name = "jaeger"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        jaeger_client = _require_jaeger()
        self._service = self.settings.service_name
        self._start_processors()
        self._client = jaeger_client.Tracer(
            service_name=self._service, reporter=_Reporter(self._emit),
            sampler=_SamplerAdapter(self), generate_128bit_trace_id=True,
            scope_manager=self.scope_manager)
        # NOTE(os-tracing): jaeger-client draws ids from a random.Random of its own, which
        # nothing reseeds after a fork: workers forked after setup (uwsgi, gunicorn with
        # preload) would repeat each other's trace and span ids.
        self._client._random_id = _random_id
        self._tracer = _JaegerFace(self, self._client)

    def _exporter(self, url: ExporterURL
                  ) -> tuple[Callable[[Sequence[Any]], bool], Callable[[], None] | None]:
        if url.scheme == "jaeger+udp":
            agent = _UDPAgent(url.url, self._service)
            return agent.export, agent.close
        local = local_exporter(url, lambda s: to_record(s, self._service))
        if local is not None:
            return local
        raise ValueError(f"[tracing] exporters = {url.display!r} is not supported by "
                         "[tracing] tracer = jaeger; use jaeger+udp://, sqlite:// or "
                         "console://")

    def start_span(self, name: str, *, parent: SpanContext | opentracing.SpanContext | None,
                   kind: str | None = None, tags: Mapping[str, Any] | None = None,
                   start_time: float | None = None) -> opentracing.Span:
        from jaeger_client import SpanContext as JaegerContext

        tags = dict(tags or {})
        if kind:
            tags["span.kind"] = kind
        if isinstance(parent, opentracing.Span):
            parent = parent.context
        if isinstance(parent, SpanContext):
            if not parent.is_valid:
                parent = None
            else:
                result = self.sampler.should_sample(parent, parent.trace_id, name, kind, tags)
                flags = (_SAMPLED if result.is_sampled else 0) | (
                    _DEBUG if parent.debug or parent.forced else 0)
                parent = JaegerContext(parent.trace_id, parent.span_id, None, flags)
        return self._client.start_span(name, child_of=parent, tags=tags,
                                       start_time=start_time, ignore_active_span=True)

    def span_context_of(self, span: opentracing.Span | opentracing.SpanContext
                        ) -> SpanContext | None:
        context = span.context if isinstance(span, opentracing.Span) else span
        trace_id = getattr(context, "trace_id", None)
        span_id = getattr(context, "span_id", None)
        if not trace_id or not span_id:
            return None
        flags = getattr(context, "flags", 0) or 0
        return SpanContext(trace_id, span_id, bool(flags & _SAMPLED), False, (), False,
                           bool(flags & _DEBUG))

    def is_recording(self, span: opentracing.Span) -> bool:
        return bool(getattr(span.context, "flags", 0) & _SAMPLED)

    def set_error(self, span: opentracing.Span, exc: BaseException | None = None,
                  description: str | None = None) -> None:
        span.set_tag("error", True)
        fields: dict[str, Any] = {"event": "error"}
        if exc is not None:
            fields.update({"error.kind": type(exc).__name__, "message": str(exc)[:1024]})
        elif description:
            fields["message"] = description
        span.log_kv(fields)
