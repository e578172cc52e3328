"""The facade both edges and every integration call; nothing here runs when tracing is off.

A :class:`Tracing` owns the propagator, the sampler, the scope manager and the engine
plugin of one set of engine settings, and offers the few operations the edges need on top
of OpenTracing: extract (from HTTP headers, a WSGI environ or a request context), start a
span from an extracted context, inject, record an error. It is built by
:mod:`tracing_middleware.registry`, once per process and settings.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

import opentracing
from stevedore import driver

from tracing_middleware import _guard, scope, unit
from tracing_middleware.config import Settings
from tracing_middleware.errors import ConfigError
from tracing_middleware.metrics.recorder import Recorder
from tracing_middleware.plugins.base import TracerPlugin
from tracing_middleware.propagation import CompositePropagator, build_propagator
from tracing_middleware.propagation.base import (
    Getter,
    Setter,
    default_getter,
    default_setter,
    environ_getter,
    environ_key,
)
from tracing_middleware.propagation.osprofiler import trace_info_to_span_context
from tracing_middleware.sampling import Sampler, build_sampler
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

__all__ = ["CURRENT", "Tracing", "build_parts"]

LOG = logging.getLogger(__name__)

#: ``start_span(parent=CURRENT)``: the active span, or a new trace when there is none.
CURRENT: Any = object()

_UNIT_KINDS = frozenset({"server", "consumer"})


def _hands_on(kind: str | None, tags: Mapping[str, Any] | None) -> bool:
    """Does a span hand the trace on to another process (a message sent, an HTTP call)?

    Those are never left out by the span cap: there are few of them, and each is the
    edge another service's spans hang from. Database statements are CLIENT spans too,
    but they are the volume the cap is for.
    """
    return kind == "producer" or (kind == "client" and not (tags and "db.system.name" in tags))


class _UnitScope(opentracing.Scope):
    """A scope that also undoes the unit hooks, in reverse order, when closed."""

    def __init__(self, inner: opentracing.Scope, undo: list[Any]) -> None:
        super().__init__(inner.manager, inner.span)
        self._inner = inner
        self._undo = undo

    def close(self) -> None:
        try:
            for undo in reversed(self._undo):
                with _guard.guarded("leaving a unit of work"):
                    undo()
        finally:
            self._inner.close()


def build_parts(settings: Settings) -> tuple[CompositePropagator, Sampler]:
    """The propagator and the sampler ``settings`` name; :class:`ConfigError` naming each
    option that cannot be built. ``check-config`` calls it to find what a service would
    fail on, before deploy."""
    problems: list[str] = []
    propagator = sampler = None
    try:
        propagator = build_propagator(settings.propagators, settings.hmac_keys)
    except ValueError as exc:
        problems.append(f"[tracing] propagators: {exc}")
    try:
        sampler = build_sampler(settings.sampler, settings.sampler_arg,
                                settings.service_name, settings.upstream_sampling_rate_limit)
    except ValueError as exc:
        problems.append(f"[tracing] sampler = {settings.sampler!r}, sampler_arg = "
                        f"{settings.sampler_arg!r}: {exc}")
    if problems:
        if sampler is not None:
            sampler.shutdown()
        raise ConfigError(problems)
    assert propagator is not None and sampler is not None
    return propagator, sampler


class Tracing:
    """Everything one tracer engine needs, wired together. Thread-safe after ``__init__``."""

    #: The RED metrics every edge counts into, sampled or not; ``None`` (metrics off)
    #: costs the edges one attribute read.
    metrics: Recorder | None = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: ``propagators = none``: no context enters or leaves, over HTTP or the bus.
        self.propagates = bool(settings.propagators)
        self.propagator, self.sampler = build_parts(settings)
        self.scope_manager = scope.use(settings.scope_manager)
        try:
            manager = driver.DriverManager(
                "os_tracing.tracers", settings.tracer, invoke_on_load=True,
                invoke_args=(settings, self.sampler, self.scope_manager, settings.exporters))
        except Exception as exc:
            self.sampler.shutdown()
            cause = exc.__cause__ or exc
            raise ConfigError([f"[tracing] tracer = {settings.tracer!r} cannot be loaded: "
                               f"{cause}"]) from exc
        self.plugin: TracerPlugin = manager.driver
        #: Whether recorded units keep a budget: a span cap, or statements to fold.
        self._units = bool(settings.max_spans_per_unit or settings.sql_fold_repeats)
        self.tracer: opentracing.Tracer = self.plugin.tracer
        self._targets = settings.propagation_targets
        # The environ keys of every header the formats read; none when a format also reads
        # headers under a prefix (Jaeger's uberctx-*), whose names cannot be listed.
        self._environ_probe: tuple[str, ...] | None = None \
            if self.propagator.prefixed_fields \
            else tuple(environ_key(field) for field in self.propagator.fields)
        keys = set(self.propagator.fields) if self.propagates else set()
        if settings.hmac_keys:
            keys.add("trace_info")
        #: The request-context keys that may carry a trace (see
        #: :meth:`extract_request_context`): a message without any has nothing to continue.
        self.request_context_keys = frozenset(keys)
        #: Set by the registry once a second engine shares the process: spans then say
        #: which engine (service) started them, so outgoing calls are attributed to it.
        self.marks_owner = False

    # -- context in and out ------------------------------------------------------------

    def extract(self, carrier: Any, getter: Getter[Any] = default_getter) -> Propagated:
        """Never raises: a malformed carrier gives :data:`EMPTY`."""
        try:
            return self.propagator.extract(carrier, EMPTY, getter)
        except Exception:
            _guard.log_once(LOG, "os-tracing: extraction failed; request continues untraced",
                            exc_info=True, key="extract")
            return EMPTY

    def extract_environ(self, environ: Mapping[str, Any]) -> Propagated:
        """:meth:`extract` from a WSGI environ; a request without any trace header (most
        requests) costs a few dict lookups instead of a pass of every format."""
        probe = self._environ_probe
        if probe is not None:
            for key in probe:
                if key in environ:
                    break
            else:
                return EMPTY
        return self.extract(environ, environ_getter)

    def extract_request_context(self, ctxt: Any) -> Propagated:
        """The trace in an oslo.messaging request context, from a sender that does not
        write our envelope: an osprofiler ``trace_info`` signed with one of our
        ``hmac_keys``, else the configured formats' headers, where oslo.messaging's own
        OpenTelemetry tracing (18.3+, ``[oslo_messaging_tracing]``) writes them."""
        if not isinstance(ctxt, Mapping):
            return EMPTY
        if "trace_info" in ctxt:
            context = trace_info_to_span_context(ctxt.get("trace_info"),
                                                 self.settings.hmac_keys)
            if context is not None:
                return Propagated(context)
        if self.propagates and not self.propagator.fields.isdisjoint(ctxt):
            return self.extract(ctxt)
        return EMPTY

    def inject(self, carrier: Any, setter: Setter[Any] = default_setter,
               span: opentracing.Span | None = None) -> None:
        """Write every configured format for ``span`` (default: the active span)."""
        span = span if span is not None else self.active_span()
        if span is None:
            return
        try:
            propagated = self.propagated_of(span)
            if propagated is not None:
                self.propagator.inject(carrier, propagated, setter)
        except Exception:  # a plain try: this runs for every outgoing call and message
            _guard.swallow("inject")

    def propagated_of(self, span: opentracing.Span) -> Propagated | None:
        """What :meth:`inject` writes for ``span``, in neutral form (``None`` for a span
        of another engine)."""
        neutral = self.plugin.span_context_of(span)
        if neutral is None:
            return None
        baggage = getattr(span.context, "baggage", None)
        return Propagated(neutral, dict(baggage)) if baggage else Propagated(neutral)

    def should_propagate(self, host: str | None) -> bool:
        """``propagation_targets``: may trace headers be sent to ``host``?"""
        if not self._targets:
            return True
        return bool(host) and any(p.search(host) for p in self._targets)

    # -- spans -------------------------------------------------------------------------

    def start_span(self, name: str, *, parent: Any = CURRENT, kind: str | None = None,
                   tags: Mapping[str, Any] | None = None,
                   start_time: float | None = None) -> opentracing.Span:
        """Start (not activate) a span.

        ``parent`` is :data:`CURRENT`, ``None`` (new trace), a :class:`Propagated` or
        neutral :class:`SpanContext` (remote; sampled by policy) or an OpenTracing span
        or span context (local).
        """
        baggage: Mapping[str, str] = {}
        if parent is CURRENT:
            parent = self.active_span()
        if isinstance(parent, Propagated):
            baggage = parent.baggage
            parent = parent.span_context
        elif parent is not None and not isinstance(parent, SpanContext):
            current_unit = unit.current()  # a local parent: inside a unit, if any
            if current_unit is not None:
                if current_unit.pending is not None:  # another span: a repeat no longer
                    current_unit.flush_pending()      # follows the held statement
                if not _hands_on(kind, tags) and not current_unit.take():
                    suppressed = self.plugin.suppressed(parent)
                    if suppressed is not None:
                        return suppressed
        span = self.plugin.start_span(name, parent=parent, kind=kind, tags=tags,
                                      start_time=start_time)
        return self._adopted(span, kind, baggage)

    def continue_unsampled(self, parent: Propagated, kind: str) -> opentracing.Span | None:
        """The span of an edge that receives an unsampled trace, or ``None`` when the
        sampler has to decide (:meth:`start_span` then).

        When the caller did not sample and the sampler follows it (the ``parentbased_*``
        samplers, ``always_off``), no name, kind or tag can change the outcome: the edge
        skips building them, and this skips the sampler. The span keeps the caller's
        span id, as W3C allows a pass-through to: nothing records it, so a new id would
        name nothing. An unsampled message then costs its context alone.
        """
        context = parent.span_context
        if context is None or context.sampled is not False or context.forced \
                or not self.sampler.follows_unsampled_remote_parent or not context.is_valid:
            return None
        span = self.plugin.pass_through(context)
        # not a unit: nothing of it is recorded
        return None if span is None else self._adopted(span, None, parent.baggage)

    def _adopted(self, span: opentracing.Span, kind: str | None,
                 baggage: Mapping[str, str]) -> opentracing.Span:
        """``span`` with the facade's marks (owner, unit of work) and ``baggage``."""
        if self.marks_owner:
            try:
                span._os_tracing_owner = self  # type: ignore[attr-defined]
            except AttributeError:  # engines with __slots__ spans: the default owns them
                pass
        if kind in _UNIT_KINDS and (unit.HOOKS or self._units) \
                and self.plugin.is_recording(span):
            try:
                span._os_tracing_unit = True  # type: ignore[attr-defined]
            except AttributeError:
                pass
        for key, value in baggage.items():
            span.set_baggage_item(key, value)
        return span

    def activate(self, span: opentracing.Span, finish_on_close: bool = False
                 ) -> opentracing.Scope:
        """Make ``span`` current; ``close()`` on the result restores what was current."""
        scope = self.scope_manager.activate(span, finish_on_close)
        if not getattr(span, "_os_tracing_unit", False):
            return scope
        undo = []
        if self._units:
            with _guard.guarded("entering a unit of work"):
                current_unit = unit.Unit(span, self.settings.max_spans_per_unit)
                previous = unit.enter(current_unit)
                undo.append(functools.partial(unit.leave, current_unit, previous))
        for hook in list(unit.HOOKS):
            with _guard.guarded("entering a unit of work"):
                result = hook(self, span)
                if result is not None:
                    undo.append(result)
        return _UnitScope(scope, undo) if undo else scope

    def active_span(self) -> opentracing.Span | None:
        scope = self.scope_manager.active
        return scope.span if scope is not None else None

    def span_context_of(self, span: opentracing.Span) -> SpanContext | None:
        return self.plugin.span_context_of(span)

    def is_recording(self, span: opentracing.Span) -> bool:
        return self.plugin.is_recording(span)

    def set_tags(self, span: opentracing.Span, tags: Mapping[str, Any]) -> None:
        """``set_tag`` for each item, in one call where the engine can do it at once."""
        self.plugin.set_tags(span, tags)

    def set_error(self, span: opentracing.Span, exc: BaseException | None = None,
                  description: str | None = None, error_type: str | None = None) -> None:
        """Record a failure as OpenTelemetry's conventions say: status ERROR (with
        ``description``), an ``exception`` event for ``exc``, and ``error.type``: the
        exception's class, or ``error_type`` (an HTTP status code, say) when given."""
        with _guard.guarded("set_error"):
            self.plugin.set_error(span, exc, description)
            if error_type is None and exc is not None:
                error_type = type(exc).__qualname__
            if error_type is not None:
                span.set_tag("error.type", error_type)

    # -- lifecycle ---------------------------------------------------------------------

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        try:
            return self.plugin.force_flush(timeout_s)
        except Exception:
            LOG.debug("os-tracing: flush failed", exc_info=True)
            return False

    def shutdown(self, timeout_s: float = 5.0) -> None:
        for part in (self.plugin, self.sampler):
            try:
                part.shutdown() if part is self.sampler else part.shutdown(timeout_s)
            except Exception:
                LOG.debug("os-tracing: shutdown of %r failed", part, exc_info=True)
