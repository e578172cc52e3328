"""The ``opentelemetry-sdk`` engine: the OpenTelemetry SDK behind its OpenTracing shim.

Choose it when spans must pass through the SDK itself (its span processors, or a process
that shares one SDK ``TracerProvider`` with other instrumentation). The default engine
(:mod:`tracing_middleware.plugins.opentelemetry`) sends the same spans over OTLP at a fraction of
the cost per span; see its docstring for why.

The OpenTracing tracer is the shared :class:`OpenTracingFace` (span kind from the
``span.kind`` tag, our scope manager instead of the OTel context, so the operator's
``scope_manager`` choice holds); the shim's span and span context are subclassed only for
plain-dict baggage that children inherit. The facade samples root spans and remote
parents before the SDK sees them; the SDK samples local children through our sampler.
Finished spans go to OTLP, the console or the embedded store through the batch processors
every engine shares (:class:`BatchExportPlugin`), never on the request thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import opentracing
from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import sampling as otel_sampling
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.shim.opentracing_shim import SpanContextShim, SpanShim
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from tracing_middleware.config import ExporterURL
from tracing_middleware.export.otel_exporters import build_otel_exporter
from tracing_middleware.plugins.base import BatchExportPlugin, DictBaggage, OpenTracingFace
from tracing_middleware.propagation.base import Getter, Propagator, Setter, default_setter
from tracing_middleware.sampling.base import Sampler
from tracing_middleware.spancontext import Propagated, SpanContext, new_span_id, new_trace_id

__all__ = ["OpenTelemetrySDKPlugin"]

LOG = logging.getLogger(__name__)

#: The facade already sampled this span (remote or root parent): the SDK must not again.
DECIDED_ATTRIBUTE = "_os_tracing.decided"

_KINDS = {
    None: SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
_KIND_NAMES = {v: k for k, v in _KINDS.items()}
_EMPTY: Mapping[str, str] = {}


class _SamplerAdapter(otel_sampling.Sampler):
    """Runs our sampler inside the SDK, unless the facade has already decided (and then
    hands the SDK the tracestate that decision gave, see :meth:`preset`)."""

    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler
        self._decided = threading.local()

    def preset(self, trace_state: tuple[tuple[str, str], ...] | None) -> None:
        """The tracestate of the span this thread starts next on a decision already made
        (``None``: its parent's)."""
        self._decided.trace_state = trace_state

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None,
                      links=None, trace_state=None) -> otel_sampling.SamplingResult:
        parent_span = otel_trace.get_current_span(parent_context).get_span_context()
        attrs = dict(attributes) if attributes else {}
        if attrs.pop(DECIDED_ATTRIBUTE, False):
            decided = getattr(self._decided, "trace_state", None)
            return otel_sampling.SamplingResult(
                otel_sampling.Decision.RECORD_AND_SAMPLE, attrs,
                TraceState(list(decided)) if decided is not None
                else parent_span.trace_state if parent_span.is_valid else None)
        parent = None
        parent_state = None
        if parent_span.is_valid:
            parent_state = parent_span.trace_state
            parent = _neutral(parent_span, parent_span.is_remote)
        result = self._sampler.should_sample(parent, trace_id, name, _KIND_NAMES.get(kind),
                                             attrs)
        if result.attributes:
            attrs.update(result.attributes)
        if result.trace_state is not None:
            parent_state = TraceState(list(result.trace_state))
        decision = (otel_sampling.Decision.RECORD_AND_SAMPLE if result.is_sampled
                    else otel_sampling.Decision.DROP)
        return otel_sampling.SamplingResult(decision, attrs, parent_state)

    def get_description(self) -> str:
        return self._sampler.get_description()


class _Emitter(SpanProcessor):
    """The SDK's hook in front of the engine's batch processors: sampled spans go in, and
    the provider's own ``force_flush`` and ``shutdown`` reach them too."""

    def __init__(self, plugin: OpenTelemetrySDKPlugin) -> None:
        self._plugin = plugin

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self._plugin._emit(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._plugin.force_flush(timeout_millis / 1000.0)

    def shutdown(self) -> None:
        for processor in self._plugin.processors:
            processor.shutdown()


class _PresetIds(IdGenerator):
    """The SDK's ids from the shared generator; lets the facade choose a root span's
    trace id: the id its sampler decided on."""

    def __init__(self) -> None:
        self._next = threading.local()

    def preset(self, trace_id: int | None) -> None:
        self._next.trace_id = trace_id

    def generate_span_id(self) -> int:
        return new_span_id()

    def generate_trace_id(self) -> int:
        trace_id = getattr(self._next, "trace_id", None)
        if trace_id:
            self._next.trace_id = None
            return trace_id
        return new_trace_id()

    def is_trace_id_random(self) -> bool:
        """Ours are: the SDK then sets W3C Level 2's random flag on the traces we start."""
        return True


class _ContextShim(SpanContextShim):
    def __init__(self, otel_context: otel_trace.SpanContext,
                 baggage: Mapping[str, str] = _EMPTY) -> None:
        super().__init__(otel_context)
        self.baggage_items: dict[str, str] = dict(baggage)

    @property
    def baggage(self) -> dict[str, str]:  # type: ignore[override]
        """Plain-dict baggage: the OpenTracing contract, which children inherit here."""
        return self.baggage_items


class _SpanShim(DictBaggage, SpanShim):
    pass


class _GlobalTextMap(Propagator):
    """OpenTelemetry's global propagator (``OTEL_PROPAGATORS``), which the OpenTelemetry
    shim injects and extracts OpenTracing's text formats with, behind our interface.

    Only the span context crosses, as with the shim: OpenTracing baggage is not
    OpenTelemetry baggage, so the shim never wrote or read it.
    """

    def _extract(self, carrier: Any, propagated: Propagated, getter: Getter[Any]
                 ) -> Propagated:
        context = otel_trace.get_current_span(
            propagate.get_global_textmap().extract(carrier)).get_span_context()
        if not context.is_valid:
            return propagated
        return propagated.with_span_context(_neutral(context, True))

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        context = propagated.span_context
        if context is None:
            return
        propagate.get_global_textmap().inject(
            carrier, context=set_span_in_context(NonRecordingSpan(_otel_context(context))))


#: TraceFlags' Level 2 random trace id bit.
_RANDOM = 0x02


def _otel_context(parent: SpanContext) -> otel_trace.SpanContext:
    flags = (TraceFlags.SAMPLED if parent.sampled or parent.forced else TraceFlags.DEFAULT) \
        | (_RANDOM if parent.random else 0)
    return otel_trace.SpanContext(
        parent.trace_id, parent.span_id, is_remote=parent.remote,
        trace_flags=TraceFlags(flags),
        trace_state=TraceState(list(parent.trace_state)) if parent.trace_state else None)


def _neutral(context: otel_trace.SpanContext, remote: bool) -> SpanContext:
    return SpanContext(context.trace_id, context.span_id, context.trace_flags.sampled,
                       remote, tuple(context.trace_state.items()),
                       random=bool(context.trace_flags & _RANDOM))


class OpenTelemetrySDKPlugin(BatchExportPlugin):
    name = "opentelemetry-sdk"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        attributes: dict[str, Any] = dict(self.settings.resource_attributes)
        attributes["service.name"] = self.settings.service_name
        self._ids = _PresetIds()
        self._adapter = _SamplerAdapter(self.sampler)
        self._provider = TracerProvider(
            sampler=self._adapter, id_generator=self._ids,
            resource=Resource.create(attributes),
            shutdown_on_exit=False,
        )
        self._start_processors()
        self._provider.add_span_processor(_Emitter(self))
        self._otel_tracer = self._provider.get_tracer("os-tracing")
        self._tracer = OpenTracingFace(self, _GlobalTextMap())

    def _exporter(self, url: ExporterURL
                  ) -> tuple[Callable[[Sequence[ReadableSpan]], bool], Callable[[], None]]:
        exporter = build_otel_exporter(url, self.settings)

        def export(spans: Sequence[ReadableSpan]) -> bool:
            return exporter.export(spans) is SpanExportResult.SUCCESS
        return export, exporter.shutdown

    @property
    def provider(self) -> TracerProvider:
        return self._provider

    def start_span(self, name: str, *, parent: SpanContext | opentracing.SpanContext | None,
                   kind: str | None = None, tags: Mapping[str, Any] | None = None,
                   start_time: float | None = None) -> opentracing.Span:
        attributes = {k: v for k, v in tags.items() if k != "span.kind"} if tags else {}
        baggage: Mapping[str, str] = _EMPTY
        if isinstance(parent, opentracing.Span):
            parent = parent.context
        if parent is None or (isinstance(parent, SpanContext) and not parent.is_valid):
            # Root span: decide here, so an unsampled request never enters the SDK.
            trace_id = new_trace_id()
            result = self.sampler.should_sample(None, trace_id, name, kind, attributes)
            if not result.is_sampled:
                return self._unsampled(trace_id, None, baggage, result.trace_state)
            attributes[DECIDED_ATTRIBUTE] = True
            if result.attributes:
                attributes.update(result.attributes)
            self._ids.preset(trace_id)
            self._adapter.preset(result.trace_state)
            try:
                span = self._otel_tracer.start_span(
                    name, context=set_span_in_context(otel_trace.INVALID_SPAN),
                    kind=_KINDS.get(kind, SpanKind.INTERNAL), attributes=attributes,
                    start_time=int(start_time * 1e9) if start_time is not None else None)
            finally:
                self._ids.preset(None)
                self._adapter.preset(None)
            return _SpanShim(self._tracer, _ContextShim(span.get_span_context(), baggage),
                             span)
        if isinstance(parent, SpanContext):
            result = self.sampler.should_sample(parent, parent.trace_id, name, kind,
                                                attributes)
            if not result.is_sampled:
                return self._unsampled(parent.trace_id, parent, baggage, result.trace_state)
            attributes[DECIDED_ATTRIBUTE] = True
            if result.attributes:
                attributes.update(result.attributes)
            if result.trace_state is not None:
                parent = parent._replace(trace_state=result.trace_state)
            context = set_span_in_context(NonRecordingSpan(_otel_context(parent)))
        elif isinstance(parent, SpanContextShim):
            baggage = getattr(parent, "baggage_items", _EMPTY)
            context = set_span_in_context(NonRecordingSpan(parent.unwrap()))
        else:
            context = set_span_in_context(otel_trace.INVALID_SPAN)
        span = self._otel_tracer.start_span(
            name, context=context, kind=_KINDS.get(kind, SpanKind.INTERNAL),
            attributes=attributes,
            start_time=int(start_time * 1e9) if start_time is not None else None,
        )
        return _SpanShim(self._tracer, _ContextShim(span.get_span_context(), baggage), span)

    def _unsampled(self, trace_id: int, parent: SpanContext | None,
                   baggage: Mapping[str, str],
                   decided: tuple[tuple[str, str], ...] | None) -> opentracing.Span:
        """A non-recording span that still carries the context (and the decision) on,
        with the tracestate the decision gave (``decided``) or else its parent's."""
        members = decided if decided is not None else parent.trace_state if parent else ()
        state = TraceState(list(members)) if members else None
        random = parent.random if parent is not None else True
        context = otel_trace.SpanContext(trace_id, new_span_id(), is_remote=False,
                                         trace_flags=TraceFlags(_RANDOM if random else 0),
                                         trace_state=state)
        return _SpanShim(self._tracer, _ContextShim(context, baggage),
                         NonRecordingSpan(context))

    def span_context_of(self, span: opentracing.Span | opentracing.SpanContext
                        ) -> SpanContext | None:
        context = span.context if isinstance(span, opentracing.Span) else span
        if not isinstance(context, SpanContextShim):
            return None
        otel_context = context.unwrap()
        if not otel_context.is_valid:
            return None
        return _neutral(otel_context, False)

    def context_from(self, found: Propagated) -> opentracing.SpanContext:
        """As the OpenTelemetry shim's ``extract``: no valid context gives an invalid one,
        never an error."""
        context = found.span_context
        if context is None or not context.is_valid:
            return _ContextShim(otel_trace.INVALID_SPAN_CONTEXT)
        return _ContextShim(_otel_context(context))

    def is_recording(self, span: opentracing.Span) -> bool:
        return isinstance(span, SpanShim) and span.unwrap().is_recording()

    def set_error(self, span: opentracing.Span, exc: BaseException | None = None,
                  description: str | None = None) -> None:
        if not isinstance(span, SpanShim):
            return
        otel_span = span.unwrap()
        if not otel_span.is_recording():
            return
        if exc is not None:
            otel_span.record_exception(exc)
            description = description or f"{type(exc).__name__}: {exc}"
        otel_span.set_status(Status(StatusCode.ERROR, description))

    def shutdown(self, timeout_s: float = 10.0) -> None:
        super().shutdown(timeout_s)
        try:  # span processors others added to the provider
            self._provider.shutdown()
        except Exception:
            LOG.debug("os-tracing: provider shutdown failed", exc_info=True)
