"""The engines of this process: built once per engine settings, found by integrations.

:func:`configure` is what the edges call with their pipeline's configuration: it loads
the settings and returns the (possibly shared) :class:`~tracing_middleware.facade.Tracing`.
A misconfiguration disables tracing for the whole process, with one ERROR line per
problem naming the option and value: a service never fails to start because of its
tracing configuration. :func:`get_tracing` is what integrations call on every library
call they wrap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from tracing_middleware import _guard, integrations, lifecycle, scope
from tracing_middleware.config import ConfigError, Settings, load_settings
from tracing_middleware.facade import Tracing
from tracing_middleware.metrics import setup as metrics_setup
from tracing_middleware.metrics.exporter import MetricsExporter

__all__ = ["all_tracings", "configure", "force_flush_all", "from_config", "get_tracing",
           "metrics_exporter", "reset", "setup"]

LOG = logging.getLogger(__name__)

_lock = threading.RLock()
_by_key: dict[tuple[Any, ...], Tracing] = {}
_default: Tracing | None = None
#: Why tracing is off for the whole process (a bad configuration), or ``None``.
_disabled: str | None = None
#: The metrics exporter of each engine that counts, by ``id()`` of its Tracing.
_exporters: dict[int, MetricsExporter] = {}


def setup(settings: Settings) -> Tracing:
    """The :class:`Tracing` for ``settings``, built on first use. Raises :class:`ConfigError`."""
    global _default
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
            integrations.install(settings.integrations,
                                 explicit=settings.integrations is not None,
                                 defaults=integrations.DEFAULT_INTEGRATIONS)
        except ConfigError:
            tracing.shutdown()
            raise
        _start_metrics(tracing, settings)
        _by_key[key] = tracing
        if _default is None:
            _default = tracing
        if len(_by_key) > 1:
            for each in _by_key.values():
                each.marks_owner = True
        lifecycle.install(_shutdown_all, _after_fork_in_child)
        return tracing


def _start_metrics(tracing: Tracing, settings: Settings) -> None:
    """Count at the edges into a recorder whose exporter runs beside the engine; a
    failure costs the metrics, never the traces."""
    try:
        built = metrics_setup.build(settings)
    except Exception:
        _guard.log_once(LOG, "os-tracing: metrics could not be set up; spans are not "
                        "affected", level=logging.ERROR, exc_info=True, key="metrics-setup")
        return
    if built is not None:
        tracing.metrics, _exporters[id(tracing)] = built


def from_config(conf: Any = None, local_conf: Mapping[str, Any] | None = None
                ) -> Tracing | None:
    """Load settings and set up tracing; ``None`` when disabled or misconfigured."""
    return configure(conf, local_conf)[1]


def configure(conf: Any = None, local_conf: Mapping[str, Any] | None = None
              ) -> tuple[Settings | None, Tracing | None]:
    """Settings for this pipeline and the (possibly shared) tracing they select.

    ``(None, None)`` when disabled or misconfigured.
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


def all_tracings() -> list[Tracing]:
    """Every engine of the process, the first built first."""
    return list(_by_key.values())


def force_flush_all(timeout_s: float = 10.0) -> bool:
    """Flush every engine in the process, and its metrics (CLI, demo and tests)."""
    deadline = time.monotonic() + timeout_s
    for exporter in list(_exporters.values()):
        exporter.flush(deadline)
    return all([tracing.force_flush(timeout_s) for tracing in all_tracings()])


def metrics_exporter(tracing: Tracing) -> MetricsExporter | None:
    """The exporter sending ``tracing.metrics`` (``None`` when metrics are off): for
    tests and tools that flush it or look at what a collector left pending."""
    return _exporters.get(id(tracing))


def _shutdown_all(timeout_s: float = 5.0) -> None:
    # Metrics first: their exemplars name spans, which then still go out after them.
    for exporter in list(_exporters.values()):
        try:
            exporter.shutdown(timeout_s)
        except Exception:
            LOG.debug("os-tracing: metrics shutdown failed", exc_info=True)
    for tracing in all_tracings():
        tracing.shutdown(timeout_s)


def _after_fork_in_child() -> None:
    # NOTE(os-tracing): batch processors restart their own export threads after fork;
    # samplers that poll restart here, so each worker polls on its own.
    for tracing in all_tracings():
        try:
            tracing.sampler.after_fork()
            for processor in getattr(tracing.plugin, "processors", ()):
                processor.check_fork()
            exporter = _exporters.get(id(tracing))
            if exporter is not None:  # a new stream: the parent's counts are its own
                exporter.after_fork()
                tracing.metrics = exporter.source
        except Exception:
            LOG.debug("os-tracing: after_fork failed", exc_info=True)


def reset() -> None:
    """Shut everything down and forget it (tests; never needed in a service)."""
    global _default, _disabled
    with _lock:
        _shutdown_all()
        _by_key.clear()
        _exporters.clear()
        _default = None
        _disabled = None
        scope.forget()
        integrations.uninstall_all()
        _guard.reset_log_once()
