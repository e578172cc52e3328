"""The ``noop`` engine: context still flows (ids are carried through), nothing is recorded.

Useful to propagate a caller's trace across a service without exporting anything, and as
the cheapest possible baseline in benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import opentracing

from tracing_middleware.plugins.base import DictBaggage, OpenTracingFace, TracerPlugin
from tracing_middleware.spancontext import SpanContext, new_span_id, new_trace_id

__all__ = ["NoopPlugin"]


class _Context(opentracing.SpanContext):
    __slots__ = ("baggage_items", "neutral")

    def __init__(self, neutral: SpanContext, baggage: dict[str, str] | None = None) -> None:
        self.neutral = neutral
        self.baggage_items = dict(baggage or {})

    @property
    def baggage(self) -> dict[str, str]:
        return self.baggage_items


class _Span(DictBaggage, opentracing.Span):
    pass


class NoopPlugin(TracerPlugin):
    name = "noop"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No text propagator: OpenTracing's inject and extract stay no-ops here.
        self._tracer = OpenTracingFace(self)

    def start_span(self, name: str, *, parent: SpanContext | opentracing.SpanContext | None,
                   kind: str | None = None, tags: Mapping[str, Any] | None = None,
                   start_time: float | None = None) -> opentracing.Span:
        baggage = None
        if isinstance(parent, opentracing.Span):
            parent = parent.context
        if isinstance(parent, _Context):
            baggage = parent.baggage
            parent = parent.neutral
        if isinstance(parent, SpanContext) and parent.is_valid:
            neutral = SpanContext(parent.trace_id, new_span_id(), parent.sampled, False,
                                  parent.trace_state, random=parent.random)
        else:
            neutral = SpanContext(new_trace_id(), new_span_id(), False, False, random=True)
        return _Span(self._tracer, _Context(neutral, baggage))

    def span_context_of(self, span: opentracing.Span | opentracing.SpanContext
                        ) -> SpanContext | None:
        context = span.context if isinstance(span, opentracing.Span) else span
        return context.neutral if isinstance(context, _Context) else None

    def is_recording(self, span: opentracing.Span) -> bool:
        return False

    def set_error(self, span: opentracing.Span, exc: BaseException | None = None,
                  description: str | None = None) -> None:
        return None
