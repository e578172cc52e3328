"""The facade both edges and every integration call; nothing here runs when tracing is off.

One :class:`Tracing` per process and engine settings, built once under a lock. It owns
the propagator, the sampler, the scope manager and the engine plugin, and offers the few
operations the edges need on top of OpenTracing: extract, start a span from an extracted
context, inject, mark an error. A bad configuration disables tracing for the process with
one ERROR line per problem; it never raises into the host service.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

import opentracing

from tracing_middleware import _guard, unit
from tracing_middleware.config import (
    DEFAULT_INTEGRATIONS,
    ConfigError,
    Settings,
    load_settings,
)
from tracing_middleware.plugins.base import TracerPlugin
from tracing_middleware.propagation.base import (
    Getter,
    Setter,
    default_getter,
    default_setter,
    environ_getter,
    environ_key,
)
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

__all__ = [
    "CURRENT",
    "Tracing",
    "UNIT_HOOKS",
    "configure",
    "force_flush_all",
    "from_config",
    "get_tracing",
    "reset",
    "setup",
]

LOG = logging.getLogger(__name__)

#: ``start_span(parent=CURRENT)``: the active span, or a new trace when there is none.
CURRENT: Any = object()

_lock = threading.RLock()
_by_key: dict[tuple[Any, ...], Tracing] = {}
_default: Tracing | None = None
_disabled: str | None = None
_atexit_registered = False
_scope_name: str | None = None

#: Called as ``hook(tracing, span)`` when a sampled unit of work (a SERVER or CONSUMER span:
#: one request or one message) becomes active; each returns an undo callable or ``None``.
#: The osprofiler bridge uses this to activate osprofiler for exactly that unit.
UNIT_HOOKS: list[Any] = []
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


def _use_scope_manager(name: str) -> Any:
    """The process-wide scope manager: the first pipeline's choice holds for the process.

    Two managers in one process would each see only half of the active spans.
    """
    global _scope_name
    from tracing_middleware import scope

    with _lock:
        if _scope_name is None:
            manager = scope.get_scope_manager(name)
            scope.set_active_manager(manager)
            _scope_name = name
            return manager
        if name != _scope_name:
            _guard.log_once(LOG, "os-tracing: [tracing] scope_manager = %r ignored; this "
                            "process already uses %r", name, _scope_name,
                            key="scope:" + name)
        return scope.active_manager()


class Tracing:
    """Everything one tracer engine needs, wired together. Thread-safe after ``__init__``."""

    def __init__(self, settings: Settings) -> None:
        from stevedore import driver

        from tracing_middleware.propagation import build_propagator
        from tracing_middleware.sampling import build_sampler

        problems: list[str] = []
        self.settings = settings
        #: ``propagators = none``: no context enters or leaves, over HTTP or the bus.
        self.propagates = bool(settings.propagators)
        try:
            self.propagator = build_propagator(settings.propagators, settings.hmac_keys)
        except ValueError as exc:
            problems.append(f"[tracing] propagators: {exc}")
        try:
            self.sampler = build_sampler(settings.sampler, settings.sampler_arg,
                                         settings.service_name,
                                         settings.upstream_sampling_rate_limit)
        except ValueError as exc:
            problems.append(f"[tracing] sampler = {settings.sampler!r}, sampler_arg = "
                            f"{settings.sampler_arg!r}: {exc}")
        if problems:
            raise ConfigError(problems)
        self.scope_manager = _use_scope_manager(settings.scope_manager)
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
        if len(_by_key) > 1:
            try:
                span._os_tracing_owner = self  # type: ignore[attr-defined]
            except AttributeError:  # engines with __slots__ spans: the default owns them
                pass
        if kind in _UNIT_KINDS and (UNIT_HOOKS or self._units) \
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
        for hook in list(UNIT_HOOKS):
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
                  description: str | None = None) -> None:
        with _guard.guarded("set_error"):
            self.plugin.set_error(span, exc, description)

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


def _install_integrations(settings: Settings) -> None:
    from tracing_middleware.integrations import install

    install(settings.integrations, explicit=settings.integrations is not None,
            defaults=DEFAULT_INTEGRATIONS)


def setup(settings: Settings) -> Tracing:
    """The :class:`Tracing` for ``settings``, built on first use. Raises :class:`ConfigError`."""
    global _default, _atexit_registered
    key = settings.engine_key()
    tracing = _by_key.get(key)
    if tracing is not None:
        return tracing
    with _lock:
        tracing = _by_key.get(key)
        if tracing is not None:
            return tracing
        tracing = Tracing(settings)
        try:
            _install_integrations(settings)
        except ConfigError:
            tracing.shutdown()
            raise
        _by_key[key] = tracing
        if _default is None:
            _default = tracing
        if not _atexit_registered:
            atexit.register(_shutdown_all)
            _install_sigterm_flush()
            _chain_uwsgi_post_fork()
            _atexit_registered = True
        return tracing


def from_config(conf: Any = None, local_conf: Mapping[str, Any] | None = None
                ) -> Tracing | None:
    """Load settings and set up tracing; ``None`` when disabled or misconfigured."""
    return configure(conf, local_conf)[1]


def configure(conf: Any = None, local_conf: Mapping[str, Any] | None = None
              ) -> tuple[Settings | None, Tracing | None]:
    """Settings for this pipeline and the (possibly shared) tracing they select.

    ``(None, None)`` when disabled or misconfigured.

    A misconfiguration is logged once per problem at ERROR, naming the option and value,
    and disables tracing for the whole process: a service never fails to start because
    of its tracing configuration.
    """
    global _disabled
    if _disabled is not None:
        return None, None
    try:
        settings = load_settings(conf, local_conf)
        if not settings.enabled:
            return settings, None
        return settings, setup(settings)
    except ConfigError as exc:
        with _lock:
            _disabled = "configuration"
        for problem in exc.problems:
            _guard.log_once(LOG, "os-tracing: %s; tracing is disabled for this process",
                            problem, level=logging.ERROR, key="config:" + problem)
        return None, None
    except Exception:
        with _lock:
            _disabled = "error"
        _guard.log_once(LOG, "os-tracing: setup failed; tracing is disabled for this process",
                        level=logging.ERROR, exc_info=True, key="setup")
        return None, None


def get_tracing() -> Tracing | None:
    """The tracing integrations should use now, or ``None`` when tracing is off.

    Nearly always the process's only engine. When one process hosts several services
    (different ``service_name`` per pipeline), the engine that started the active span,
    so an outgoing call is attributed to the service making it.
    """
    default = _default
    if default is None or len(_by_key) < 2:
        return default
    span = default.active_span()
    owner = getattr(span, "_os_tracing_owner", None) if span is not None else None
    return owner if owner is not None else default


def _install_sigterm_flush() -> None:
    """Flush on SIGTERM when nobody else handles it.

    Python's default SIGTERM ends the process without running ``atexit``, which would
    lose every queued span of a worker being stopped. Only when the handler is still the
    default (oslo.service and most servers install their own, which exit normally and so
    run ``atexit``) we install one that flushes with a deadline and then dies by SIGTERM
    as before, so the exit status the supervisor sees is unchanged. ``signal.signal``
    itself refuses outside the main thread; ``threading.main_thread()`` is not asked,
    because under eventlet's monkey-patching it names no thread that is current.
    """
    import signal

    def terminate() -> None:
        try:
            _shutdown_all(timeout_s=2.0)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    def flush_then_terminate(signum: int, frame: Any) -> None:
        if wake is not None:
            # NOTE(os-tracing): under eventlet the handler runs in the hub, which must
            # not block (joining the export thread there raises "Cannot switch to
            # MAINLOOP from MAINLOOP"), and which an idle server never leaves: the flush
            # runs in a green thread that a byte on a pipe wakes.
            wake()
            return
        terminate()

    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        wake = _green_waker(terminate)
        signal.signal(signal.SIGTERM, flush_then_terminate)
    except (ValueError, OSError, AttributeError):
        return


def _green_waker(work: Any) -> Any:
    """Under eventlet's monkey-patching: a green thread that runs ``work`` once woken,
    and the function that wakes it from a signal handler; else ``None``."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None or not patcher.is_monkey_patched("thread"):
        return None
    eventlet = sys.modules["eventlet"]
    real_os = patcher.original("os")  # the patched os.write refuses to run in the hub
    read_end, write_end = real_os.pipe()

    def wait_then_work() -> None:
        eventlet.hubs.trampoline(read_end, read=True)
        work()

    eventlet.spawn_n(wait_then_work)
    return lambda: real_os.write(write_end, b"x")


def force_flush_all(timeout_s: float = 10.0) -> bool:
    """Flush every engine in the process (CLI, demo and tests)."""
    return all([tracing.force_flush(timeout_s) for tracing in list(_by_key.values())])


def _shutdown_all(timeout_s: float = 5.0) -> None:
    for tracing in list(_by_key.values()):
        tracing.shutdown(timeout_s)


def reset() -> None:
    """Shut everything down and forget it (tests; never needed in a service)."""
    global _default, _disabled, _scope_name
    from tracing_middleware.integrations import uninstall_all

    with _lock:
        _shutdown_all()
        _by_key.clear()
        _default = None
        _disabled = None
        _scope_name = None
        uninstall_all()
        _guard.reset_log_once()


def _after_fork_in_child() -> None:
    # NOTE(os-tracing): batch processors restart their own export threads after fork;
    # samplers that poll restart here, so each worker polls on its own.
    for tracing in list(_by_key.values()):
        try:
            tracing.sampler.after_fork()
            for processor in getattr(tracing.plugin, "processors", ()):
                processor.check_fork()
        except Exception:
            LOG.debug("os-tracing: after_fork failed", exc_info=True)


def _chain_uwsgi_post_fork() -> None:
    """Run the after-fork work in each uwsgi worker.

    uwsgi forks its workers in C and, unless ``py-call-osafterfork`` is set, runs no
    ``os.register_at_fork`` hook; it calls ``uwsgi.post_fork_hook`` instead (the hook
    uwsgidecorators' ``@postfork`` chains through). We chain onto whatever is there.
    Batch processors also notice such a fork by themselves, before their first span;
    this makes samplers that poll restart in workers that never record a span.
    """
    try:
        import uwsgi  # the server's embedded module: importable only inside uwsgi
    except ImportError:
        return
    if getattr(uwsgi, "_os_tracing_chained", False):
        return
    previous = getattr(uwsgi, "post_fork_hook", None)

    def post_fork_hook() -> None:
        _after_fork_in_child()
        if previous is not None:
            previous()

    try:
        uwsgi.post_fork_hook = post_fork_hook
        uwsgi._os_tracing_chained = True
    except Exception:
        LOG.debug("os-tracing: uwsgi post_fork_hook not settable", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
