"""The tracer-engine contract: an OpenTracing tracer plus what OpenTracing cannot say.

The edges speak OpenTracing to whatever engine the operator picked. OpenTracing has no
notion of span kind, status, forced sampling or a format-neutral span context, so each
plugin also maps :class:`~tracing_middleware.spancontext.SpanContext` in and out of its
own span contexts and starts spans with a kind and a sampling hint.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import opentracing

from tracing_middleware.config import ExporterURL, Settings
from tracing_middleware.sampling.base import Sampler
from tracing_middleware.scope.base import BaseScopeManager
from tracing_middleware.spancontext import SpanContext

__all__ = ["TracerPlugin"]


class TracerPlugin(abc.ABC):
    """One engine per (process, settings). Built once; thread-safe after construction."""

    name: str = ""

    def __init__(self, settings: Settings, sampler: Sampler,
                 scope_manager: BaseScopeManager,
                 exporters: Sequence[ExporterURL]) -> None:
        self.settings = settings
        self.sampler = sampler
        self.scope_manager = scope_manager
        self.exporters = tuple(exporters)

    @property
    @abc.abstractmethod
    def tracer(self) -> opentracing.Tracer:
        """The OpenTracing tracer the edges use; its scope manager is ours."""

    @abc.abstractmethod
    def start_span(self, name: str, *, parent: SpanContext | opentracing.SpanContext | None,
                   kind: str | None = None, tags: Mapping[str, Any] | None = None,
                   start_time: float | None = None) -> opentracing.Span:
        """Start a span. ``parent`` is a neutral context (remote) or an engine one (local).

        A neutral remote parent is sampled by the configured sampler, which sees its
        ``forced`` and ``sampled`` flags.
        """

    @abc.abstractmethod
    def span_context_of(self, span: opentracing.Span | opentracing.SpanContext
                        ) -> SpanContext | None:
        """The neutral context of ``span`` (for injection), ``None`` if invalid."""

    @abc.abstractmethod
    def is_recording(self, span: opentracing.Span) -> bool:
        """False for spans that will never be exported (unsampled)."""

    @abc.abstractmethod
    def set_error(self, span: opentracing.Span, exc: BaseException | None = None,
                  description: str | None = None) -> None:
        """Mark ``span`` failed; record ``exc`` as an ``exception`` event when given."""

    def set_tags(self, span: opentracing.Span, tags: Mapping[str, Any]) -> None:
        """Tag ``span`` with every item; engines override this with a bulk update."""
        for key, value in tags.items():
            span.set_tag(key, value)

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        return True

    def dropped_spans(self) -> int:
        """Sampled spans lost since start (full queue, export failed for good)."""
        return 0

    def queued_spans(self) -> int:
        """Finished spans waiting in every exporter queue now."""
        return 0

    def shutdown(self, timeout_s: float = 10.0) -> None:  # noqa: B027 - optional hook
        """Flush and stop background work. Idempotent."""
