"""The tracer-engine contract: an OpenTracing tracer plus what OpenTracing cannot say.

The edges speak OpenTracing to whatever engine the operator picked. OpenTracing has no
notion of span kind, status, forced sampling or a format-neutral span context, so each
plugin also maps :class:`~tracing_middleware.spancontext.SpanContext` in and out of its
own span contexts and starts spans with a kind and a sampling hint. The OpenTracing
tracer itself is :class:`OpenTracingFace`, written once over that contract.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import opentracing
from opentracing.propagation import Format

from tracing_middleware.config import ExporterURL, Settings
from tracing_middleware.export.batch import BatchProcessor
from tracing_middleware.propagation.base import Propagator
from tracing_middleware.sampling.base import Sampler
from tracing_middleware.scope.base import BaseScopeManager
from tracing_middleware.spancontext import Propagated, SpanContext

__all__ = ["BatchExportPlugin", "DictBaggage", "OpenTracingFace", "TracerPlugin"]


class DictBaggage:
    """Span mixin: OpenTracing baggage kept in a plain dict, ``baggage_items`` of the span
    context, which the engines copy into each child's context, so children inherit it.

    The dict is reached through ``_context`` rather than the ``context`` and ``baggage``
    properties: each baggage item of every span passes here.
    """

    __slots__ = ()

    def set_baggage_item(self, key: str, value: str) -> Any:
        self._context.baggage_items[key] = value  # type: ignore[attr-defined]
        return self

    def get_baggage_item(self, key: str) -> str | None:
        return self._context.baggage_items.get(key)  # type: ignore[attr-defined,no-any-return]


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

    #: Set by each engine before its first span.
    _tracer: opentracing.Tracer

    @property
    def tracer(self) -> opentracing.Tracer:
        """The OpenTracing tracer the edges use; its scope manager is ours."""
        return self._tracer

    @abc.abstractmethod
    def start_span(self, name: str, *, parent: SpanContext | opentracing.SpanContext | None,
                   kind: str | None = None, tags: Mapping[str, Any] | None = None,
                   start_time: float | None = None) -> opentracing.Span:
        """Start a span. ``parent`` is a neutral context (remote) or an engine one (local).

        A neutral remote parent is sampled by the configured sampler, which sees its
        ``forced`` and ``sampled`` flags.
        """

    def pass_through(self, context: SpanContext) -> opentracing.Span | None:
        """A span that records nothing and carries ``context`` (an unsampled remote
        parent) on unchanged, span id included; ``None`` where the engine has no such
        span (the facade then starts one through the sampler)."""
        return None

    def suppressed(self, parent: opentracing.Span | opentracing.SpanContext
                   ) -> opentracing.Span | None:
        """A span that records nothing and carries ``parent``'s context on unchanged
        (sampled flag included, so calls made inside it continue the trace under
        ``parent``); ``None`` where the engine has no such span (the child is then
        recorded after all)."""
        return None

    @abc.abstractmethod
    def span_context_of(self, span: opentracing.Span | opentracing.SpanContext
                        ) -> SpanContext | None:
        """The neutral context of ``span`` (for injection), ``None`` if invalid."""

    def context_from(self, found: Propagated) -> opentracing.SpanContext | None:
        """An engine span context for what :meth:`OpenTracingFace.extract` found, or
        ``None`` (extract then raises ``SpanContextCorruptedException``). Only engines
        whose face has a text propagator are asked."""
        return None

    def add_links(self, span: opentracing.Span,
                  contexts: Sequence[opentracing.SpanContext]) -> None:
        """Record ``contexts`` (references not taken as the parent) as links of ``span``;
        engines without links ignore them."""
        return None

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


_TEXT_FORMATS = (Format.HTTP_HEADERS, Format.TEXT_MAP)


def _first_parent(references: Sequence[opentracing.Reference]
                  ) -> opentracing.SpanContext | None:
    fallback = None
    for reference in references:
        context = reference.referenced_context
        if context is None:
            continue
        if reference.type == opentracing.ReferenceType.CHILD_OF:
            return context
        if fallback is None:
            fallback = context
    return fallback


class OpenTracingFace(opentracing.Tracer):
    """The OpenTracing tracer of every engine that does not bring its own (jaeger does).

    Written once so that engines cannot disagree on who the parent is. The rule is
    OpenTracing's, as OpenTelemetry's OpenTracing compatibility spec words it ("Start a
    new Span"): ``child_of`` when given; else, from ``references``, "the first
    SpanContext with Child Of type in the entire list is used as parent, else the first
    SpanContext"; else the active span unless ``ignore_active_span``. An explicit
    reference therefore wins over the active span. References not taken as the parent go
    to :meth:`TracerPlugin.add_links`.

    ``HTTP_HEADERS`` and ``TEXT_MAP`` go through ``propagator`` and the engine's neutral
    mapping (:meth:`TracerPlugin.span_context_of`, :meth:`TracerPlugin.context_from`);
    without a propagator, inject and extract are OpenTracing's no-ops.
    """

    def __init__(self, plugin: TracerPlugin, propagator: Propagator | None = None) -> None:
        super().__init__(scope_manager=plugin.scope_manager)
        self._plugin = plugin
        self._propagator = propagator

    def start_active_span(self, operation_name: str, child_of: Any = None,
                          references: Sequence[opentracing.Reference] | None = None,
                          tags: Mapping[str, Any] | None = None,
                          start_time: float | None = None, ignore_active_span: bool = False,
                          finish_on_close: bool = True) -> opentracing.Scope:
        span = self.start_span(operation_name, child_of, references, tags, start_time,
                               ignore_active_span)
        return self.scope_manager.activate(span, finish_on_close)

    def start_span(self, operation_name: str | None = None, child_of: Any = None,
                   references: Sequence[opentracing.Reference] | None = None,
                   tags: Mapping[str, Any] | None = None, start_time: float | None = None,
                   ignore_active_span: bool = False) -> opentracing.Span:
        parent = child_of
        if parent is None and references:
            parent = _first_parent(references)
        if parent is None and not ignore_active_span:
            parent = self.active_span
        kind = tags.get("span.kind") if tags else None
        span = self._plugin.start_span(operation_name or "", parent=parent, kind=kind,
                                       tags=tags, start_time=start_time)
        if references:
            others = [r.referenced_context for r in references
                      if r.referenced_context is not None and r.referenced_context
                      is not parent]
            if others:
                self._plugin.add_links(span, others)
        return span

    def inject(self, span_context: opentracing.SpanContext, format: str,
               carrier: Any) -> None:
        if self._propagator is None:
            return super().inject(span_context, format, carrier)
        if format not in _TEXT_FORMATS:
            raise opentracing.UnsupportedFormatException(format)
        neutral = self._plugin.span_context_of(span_context)
        if neutral is None:
            return None
        baggage = getattr(span_context, "baggage", None)
        self._propagator.inject(carrier, Propagated(neutral, dict(baggage))
                                if baggage else Propagated(neutral))
        return None

    def extract(self, format: str, carrier: Any) -> opentracing.SpanContext:
        if self._propagator is None:
            return super().extract(format, carrier)
        if format not in _TEXT_FORMATS:
            raise opentracing.UnsupportedFormatException(format)
        context = self._plugin.context_from(self._propagator.extract(carrier))
        if context is None:
            raise opentracing.SpanContextCorruptedException("no valid trace context")
        return context


Export = Callable[[Sequence[Any]], bool]


class BatchExportPlugin(TracerPlugin):
    """An engine whose finished spans go through one :class:`BatchProcessor` per exporter.

    Subclasses say how one ``exporters`` URL is served (:meth:`_exporter`) and call
    :meth:`_start_processors` once; queue accounting, flush and shutdown are shared.
    """

    processors: list[BatchProcessor]

    @abc.abstractmethod
    def _exporter(self, url: ExporterURL) -> tuple[Export, Callable[[], None] | None]:
        """``(export, close)`` for one URL; ``ValueError`` naming it when unsupported."""

    def _start_processors(self) -> None:
        """One processor per URL, sized and timed by the ``[tracing]`` queue options."""
        settings = self.settings
        self.processors = []
        for url in self.exporters:
            export, close = self._exporter(url)
            self.processors.append(BatchProcessor(
                export, name=url.display or url.scheme, max_queue_size=settings.max_queue_size,
                max_batch_size=settings.export_batch_size,
                interval_s=settings.export_interval_ms / 1000.0, on_shutdown=close))

    def _emit(self, span: Any) -> None:
        for processor in self.processors:
            processor.emit(span)

    def dropped_spans(self) -> int:
        return sum(p.dropped for p in self.processors)

    def queued_spans(self) -> int:
        return sum(p.queued for p in self.processors)

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        """Every exporter within one deadline (``timeout_s`` in all, not per exporter)."""
        deadline = time.monotonic() + timeout_s
        return all([p.force_flush(max(0.0, deadline - time.monotonic()))
                    for p in self.processors])

    def shutdown(self, timeout_s: float = 10.0) -> None:
        for processor in self.processors:
            processor.shutdown(timeout_s)
