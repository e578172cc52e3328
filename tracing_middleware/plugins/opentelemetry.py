"""The default engine: OpenTelemetry's span model and OTLP, recorded without the SDK.

Why not the OpenTelemetry SDK on the request path: behind its OpenTracing shim, one
sampled span costs two objects per span and context, an OTel ``Context`` per start,
locked bounded attribute and event containers, a ``ReadableSpan`` copy at end, and then
protobuf message objects built at export (``python -m bench --cases span`` and the
profile in ``doc/source/benchmarks.rst`` say what each costs). Here a sampled span is one
object whose fields are what OTLP needs; at ``finish`` it is queued as it is, and the
exporter thread writes the protobuf wire format directly
(:mod:`tracing_middleware.export.otlp_proto`).
An unsampled span is a context carrier with no-op methods. The data model is
OpenTelemetry's (span kinds, status, events, links, resource, bounded attributes), so
collectors, Jaeger and Tempo see the same spans the SDK would send; the SDK engine stays
available as ``tracer = opentelemetry-sdk``.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import opentracing

from tracing_middleware import _guard
from tracing_middleware.config import ExporterURL
from tracing_middleware.export.local import local_exporter
from tracing_middleware.export.otlp_proto import encode_request, encode_resource
from tracing_middleware.export.records import KINDS, STATUSES, SpanEvent, SpanRecord
from tracing_middleware.plugins.base import BatchExportPlugin, DictBaggage, OpenTracingFace
from tracing_middleware.propagation import build_propagator
from tracing_middleware.spancontext import (
    Propagated,
    SpanContext,
    format_span_id,
    format_trace_id,
    new_span_id,
    new_trace_id,
)

__all__ = ["MAX_ATTRIBUTES", "MAX_EVENTS", "MAX_VALUE_LENGTH", "OpenTelemetryContext",
           "OpenTelemetryPlugin", "OpenTelemetrySpan"]

LOG = logging.getLogger(__name__)

#: OpenTelemetry's default span limits; beyond them items are counted as dropped.
MAX_ATTRIBUTES = 128
MAX_EVENTS = 128
#: Longer string values (a huge SQL statement, a body someone tagged) are cut here so a
#: full queue stays a bounded amount of memory.
MAX_VALUE_LENGTH = 8192
#: Items kept of a list or tuple value.
MAX_SEQUENCE_LENGTH = 1024

#: OpenTelemetry's span-limit environment variables, first match wins, and the module
#: limit each sets (environment variables are per process, and so are these limits).
_LIMIT_VARIABLES = {
    "MAX_ATTRIBUTES": ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
    "MAX_EVENTS": ("OTEL_SPAN_EVENT_COUNT_LIMIT",),
    "MAX_VALUE_LENGTH": ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                         "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
}
_LIMIT_DEFAULTS = {"MAX_ATTRIBUTES": 128, "MAX_EVENTS": 128, "MAX_VALUE_LENGTH": 8192}


def span_limits(environ: Mapping[str, str]) -> tuple[dict[str, int], list[str]]:
    """The limits OpenTelemetry's variables ask for, and a problem line per bad value."""
    limits, problems = {}, []
    for name, variables in _LIMIT_VARIABLES.items():
        value = _LIMIT_DEFAULTS[name]
        for variable in variables:
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            if raw.isdigit():
                value = int(raw)
            else:
                problems.append(f"{variable} = {raw!r} is not a non-negative integer; "
                                f"using {value}")
            break
        limits[name] = value
    return limits, problems


def apply_span_limits(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Set the span limits from OpenTelemetry's variables, as the SDK reads them.

    A bad value keeps the default and is reported once, naming the variable: a typo must
    neither take the service down nor silently unbound memory.
    """
    limits, problems = span_limits(os.environ if environ is None else environ)
    for problem in problems:
        _guard.log_once(LOG, "os-tracing: %s", problem, level=logging.ERROR,
                        key="limit:" + problem)
    globals().update(limits)
    return limits


#: OTLP ``Span.SpanKind`` numbers by OpenTracing ``span.kind`` value.
_KIND_CODES = {None: 1, "internal": 1, "server": 2, "client": 3, "producer": 4,
               "consumer": 5, "rpc.server": 2, "rpc.client": 3}
_STATUS_ERROR = 2
_SCALARS = frozenset({str, bool, int, float})

def _clean(value: Any) -> Any:
    """An attribute value OTLP can carry, or ``None`` to skip it."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= MAX_VALUE_LENGTH else value[:MAX_VALUE_LENGTH]
    if kind in _SCALARS:
        return value
    if value is None:
        return None
    if kind in (list, tuple):
        return tuple(_clean(v) for v in value[:MAX_SEQUENCE_LENGTH] if v is not None)
    try:
        text = str(value)
    except Exception:  # a caller's object whose __str__ fails costs its tag, nothing else
        return None
    return text[:MAX_VALUE_LENGTH]


def _nanos(seconds: Any) -> int:
    """OpenTracing's float seconds as nanoseconds; a bad value means now."""
    try:
        return int(seconds * 1e9)
    except (TypeError, ValueError, OverflowError):
        return time.time_ns()


def _cleaned(tags: Mapping[str, Any]) -> dict[str, Any]:
    cleaned = {}
    for key, value in tags.items():
        if type(key) is not str:
            key = str(key)
        kind = type(value)
        if kind is str:
            cleaned[key] = value if len(value) <= MAX_VALUE_LENGTH else \
                value[:MAX_VALUE_LENGTH]
        elif kind in _SCALARS:
            cleaned[key] = value
        else:
            value = _clean(value)
            if value is not None:
                cleaned[key] = value
    return cleaned


class OpenTelemetryContext(opentracing.SpanContext):
    """Ids, the sampling decision, W3C ``tracestate`` members, baggage and whether the
    trace id is random (W3C Level 2's random flag)."""

    __slots__ = ("baggage_items", "random", "sampled", "span_id", "trace_id", "trace_state")

    def __init__(self, trace_id: int, span_id: int, sampled: bool,
                 trace_state: tuple[tuple[str, str], ...] = (),
                 baggage: Mapping[str, str] | None = None, random: bool = True) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled
        self.trace_state = trace_state
        self.baggage_items: dict[str, str] = dict(baggage) if baggage else {}
        self.random = random

    @property
    def baggage(self) -> dict[str, str]:  # type: ignore[override]
        """Plain-dict baggage (the OpenTracing contract), inherited by children."""
        return self.baggage_items


class _Span(DictBaggage, opentracing.Span):
    """What both span kinds share: context, baggage and the owner hooks of the facade."""

    __slots__ = ("_context", "_os_tracing_owner", "_os_tracing_unit", "_tracer")

    def __init__(self, tracer: opentracing.Tracer, context: OpenTelemetryContext) -> None:
        self._tracer = tracer
        self._context = context
        self._os_tracing_unit = False  # read on every activation: a set slot is cheap


class NonRecordingSpan(_Span):
    """An unsampled span: carries the context (and the decision) on; records nothing."""

    __slots__ = ()


class OpenTelemetrySpan(_Span):
    """A sampled span. Its fields are what :mod:`otlp_proto` writes, read after ``finish``."""

    __slots__ = (
        "_emit",
        "attributes",
        "dropped_attributes",
        "dropped_events",
        "end_ns",
        "events",
        "kind",
        "links",
        "name",
        "parent_id",
        "parent_remote",
        "span_id",
        "start_ns",
        "status_code",
        "status_message",
        "trace_id",
        "trace_state",
    )

    def __init__(self, tracer: opentracing.Tracer, context: OpenTelemetryContext,
                 emit: Callable[[OpenTelemetrySpan], None], name: str, parent_id: int,
                 parent_remote: bool, kind: int, start_ns: int,
                 attributes: dict[str, Any]) -> None:
        self._tracer = tracer
        self._context = context
        self._os_tracing_unit = False
        self._emit = emit
        self.trace_id = context.trace_id
        self.span_id = context.span_id
        self.trace_state = context.trace_state
        self.parent_id = parent_id
        self.parent_remote = parent_remote
        self.name = name
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = 0
        self.attributes = attributes
        self.dropped_attributes = 0
        self.events: list[tuple[str, int, dict[str, Any]]] | None = None
        self.dropped_events = 0
        self.links: list[tuple[int, int, bool]] | None = None
        self.status_code = 0
        self.status_message = ""

    def set_operation_name(self, operation_name: str) -> OpenTelemetrySpan:
        self.name = str(operation_name)[:MAX_VALUE_LENGTH]
        return self

    def set_tag(self, key: str, value: Any) -> OpenTelemetrySpan:
        if self.end_ns:
            return self
        if type(key) is not str:
            key = str(key)
        if key == "span.kind":
            self.kind = _KIND_CODES.get(value, 1)
            return self
        if key == "error" and value is True:
            self.status_code = _STATUS_ERROR
        if type(value) not in _SCALARS or type(value) is str:
            value = _clean(value)
            if value is None:
                return self
        attributes = self.attributes
        if key in attributes or len(attributes) < MAX_ATTRIBUTES:
            attributes[key] = value
        else:
            self.dropped_attributes += 1
        return self

    def log_kv(self, key_values: Mapping[str, Any], timestamp: float | None = None
               ) -> OpenTelemetrySpan:
        if self.end_ns:
            return self
        if self.events is None:
            self.events = []
        if len(self.events) >= MAX_EVENTS:
            self.dropped_events += 1
            return self
        when = _nanos(timestamp) if timestamp is not None else time.time_ns()
        name = str(key_values.get("event", "log"))[:MAX_VALUE_LENGTH]
        attributes = {}
        for key, value in list(key_values.items())[:MAX_ATTRIBUTES]:
            value = _clean(value)
            if value is not None and key != "event":
                attributes[str(key)] = value
        self.events.append((name, when, attributes))
        return self

    def add_link(self, context: OpenTelemetryContext | SpanContext) -> None:
        """A FOLLOWS_FROM reference, or any extra parent, as an OTLP link."""
        if self.links is None:
            self.links = []
        if len(self.links) < MAX_EVENTS:
            self.links.append((context.trace_id, context.span_id, bool(context.sampled)))

    def finish(self, finish_time: float | None = None) -> None:
        if self.end_ns:
            return  # finishing twice exports once
        self.end_ns = _nanos(finish_time) if finish_time is not None else time.time_ns()
        self._emit(self)


def to_record(span: OpenTelemetrySpan, resource: Mapping[str, Any]) -> SpanRecord:
    """A finished native span as the store's engine-neutral record."""
    return SpanRecord(
        trace_id=format_trace_id(span.trace_id), span_id=format_span_id(span.span_id),
        parent_span_id=format_span_id(span.parent_id) if span.parent_id else None,
        name=span.name, service=str(resource.get("service.name", "unknown_service")),
        kind=KINDS[span.kind - 1] if 1 <= span.kind <= 5 else "internal",
        start_time_unix_nano=span.start_ns,
        duration_ns=max(0, span.end_ns - span.start_ns),
        status=STATUSES[span.status_code], status_message=span.status_message,
        attributes={k: list(v) if type(v) is tuple else v
                    for k, v in span.attributes.items()},
        events=tuple(SpanEvent(name, when, attributes)
                     for name, when, attributes in span.events or ()),
        resource=dict(resource))


class OpenTelemetryPlugin(BatchExportPlugin):
    name = "opentelemetry"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from tracing_middleware import __version__

        apply_span_limits()

        self.resource: dict[str, Any] = {
            "telemetry.sdk.name": "os-tracing", "telemetry.sdk.language": "python",
            "telemetry.sdk.version": __version__,
            **dict(self.settings.resource_attributes),
            "service.name": self.settings.service_name}
        self._encoded_resource = encode_resource(self.resource, "os-tracing", __version__)
        #: Batches dropped because a span in them could not be encoded (a bug if ever > 0).
        self.unencodable_batches = 0
        self._start_processors()
        #: W3C Trace Context and Baggage: OpenTracing's text formats, for direct callers.
        self._tracer = OpenTracingFace(self, build_propagator(["tracecontext", "baggage"]))
        if len(self.processors) == 1:  # the usual case: spans go straight to its queue
            self._emit = self.processors[0].emit  # type: ignore[method-assign]

    # -- exporters ---------------------------------------------------------------------

    def _exporter(self, url: ExporterURL
                  ) -> tuple[Callable[[Sequence[OpenTelemetrySpan]], bool], Callable[[], None]]:
        timeout_s = self.settings.export_timeout_ms / 1000.0
        resource = self._encoded_resource
        if url.scheme in ("otlp+http", "otlp+https", "otlp+grpc"):
            sender: Any
            if url.scheme == "otlp+grpc":
                from tracing_middleware.export.otlp_grpc import OTLPGrpcSender

                sender = OTLPGrpcSender(url.url, timeout_s)
            else:
                from tracing_middleware.export.otlp_http import OTLPHTTPSender

                sender = OTLPHTTPSender(url.url, timeout_s)

            def export(spans: Sequence[OpenTelemetrySpan]) -> bool:
                try:
                    body = encode_request(spans, resource)
                except Exception:  # retrying could never fix it: drop, never wedge the queue
                    self.unencodable_batches += 1
                    _guard.swallow("encoding a batch of spans")
                    return True
                return sender.send(body)
            return export, sender.close
        local = local_exporter(url, lambda span: to_record(span, self.resource))
        if local is not None:
            return local
        raise ValueError(f"[tracing] exporters = {url.display!r} is only supported by "
                         "[tracing] tracer = jaeger")

    # -- the contract ------------------------------------------------------------------

    def start_span(self, name: str, *, parent: SpanContext | opentracing.SpanContext | None,
                   kind: str | None = None, tags: Mapping[str, Any] | None = None,
                   start_time: float | None = None) -> opentracing.Span:
        if isinstance(parent, opentracing.Span):
            parent = parent.context
        baggage: Mapping[str, str] | None = None
        trace_state: tuple[tuple[str, str], ...] = ()
        parent_id = 0
        remote = False
        random = True  # a trace id of ours is random
        if isinstance(parent, OpenTelemetryContext):
            trace_id, parent_id = parent.trace_id, parent.span_id
            trace_state, baggage = parent.trace_state, parent.baggage_items
            random = parent.random
            decided = SpanContext(trace_id, parent_id, parent.sampled, False, trace_state,
                                  random=random)
        elif isinstance(parent, SpanContext) and parent.is_valid:
            trace_id, parent_id, remote = parent.trace_id, parent.span_id, True
            trace_state, random = parent.trace_state, parent.random
            decided = parent
        else:
            trace_id = new_trace_id()
            decided = None
        # The sampler reads the tags as given; only a span that records pays for cleaning.
        result = self.sampler.should_sample(decided, trace_id, name, kind, tags)
        if result.trace_state is not None:
            trace_state = result.trace_state
        context = OpenTelemetryContext(trace_id, new_span_id(), result.is_sampled, trace_state,
                                       baggage, random)
        if not result.is_sampled:
            return NonRecordingSpan(self._tracer, context)
        attributes = _cleaned(tags) if tags else {}
        attributes.pop("span.kind", None)
        if result.attributes:
            attributes.update(result.attributes)
        if len(attributes) > MAX_ATTRIBUTES:
            attributes = dict(list(attributes.items())[:MAX_ATTRIBUTES])
        start_ns = _nanos(start_time) if start_time is not None else time.time_ns()
        if type(name) is not str or len(name) > MAX_VALUE_LENGTH:
            name = str(name)[:MAX_VALUE_LENGTH]
        return OpenTelemetrySpan(self._tracer, context, self._emit, name, parent_id, remote,
                          _KIND_CODES.get(kind, 1), start_ns, attributes)

    def add_links(self, span: opentracing.Span,
                  contexts: Sequence[opentracing.SpanContext]) -> None:
        if type(span) is OpenTelemetrySpan:
            for context in contexts:
                if isinstance(context, OpenTelemetryContext):
                    span.add_link(context)

    def pass_through(self, context: SpanContext) -> opentracing.Span:
        return NonRecordingSpan(self._tracer, OpenTelemetryContext(
            context.trace_id, context.span_id, False, context.trace_state, None,
            context.random))

    def suppressed(self, parent: opentracing.Span | opentracing.SpanContext
                   ) -> opentracing.Span | None:
        context = parent.context if isinstance(parent, opentracing.Span) else parent
        if not isinstance(context, OpenTelemetryContext):
            return None
        return NonRecordingSpan(self._tracer, OpenTelemetryContext(
            context.trace_id, context.span_id, context.sampled, context.trace_state,
            context.baggage_items, context.random))

    def set_tags(self, span: opentracing.Span, tags: Mapping[str, Any]) -> None:
        if type(span) is not OpenTelemetrySpan:
            return  # unsampled spans record nothing
        if span.end_ns or "span.kind" in tags or "error" in tags or \
                len(span.attributes) + len(tags) > MAX_ATTRIBUTES:
            for key, value in tags.items():  # the careful path, item by item
                span.set_tag(key, value)
            return
        span.attributes.update(_cleaned(tags))

    def span_context_of(self, span: opentracing.Span | opentracing.SpanContext
                        ) -> SpanContext | None:
        context = span.context if isinstance(span, opentracing.Span) else span
        if not isinstance(context, OpenTelemetryContext):
            return None
        return SpanContext(context.trace_id, context.span_id, context.sampled, False,
                           context.trace_state, False, False, context.random)

    def context_from(self, found: Propagated) -> opentracing.SpanContext | None:
        context = found.span_context
        if context is None or not context.is_valid:
            return None
        return OpenTelemetryContext(context.trace_id, context.span_id, bool(context.sampled),
                                    context.trace_state, found.baggage, context.random)

    def is_recording(self, span: opentracing.Span) -> bool:
        return type(span) is OpenTelemetrySpan and not span.end_ns

    def set_error(self, span: opentracing.Span, exc: BaseException | None = None,
                  description: str | None = None) -> None:
        if type(span) is not OpenTelemetrySpan or span.end_ns:
            return
        if exc is not None:
            span.log_kv({"event": "exception", "exception.type": type(exc).__qualname__,
                         "exception.message": str(exc),
                         "exception.stacktrace": "".join(traceback.format_exception(exc))})
            description = description or f"{type(exc).__name__}: {exc}"
        span.status_code = _STATUS_ERROR
        span.status_message = (description or "")[:MAX_VALUE_LENGTH]
