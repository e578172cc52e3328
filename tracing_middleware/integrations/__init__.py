"""Registry of integrations, by the names operators type in ``integrations``."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence

from tracing_middleware.errors import ConfigError
from tracing_middleware.integrations.base import DidNotEnable, Integration

__all__ = ["DEFAULT_INTEGRATIONS", "INTEGRATIONS", "DidNotEnable", "Integration", "install",
           "uninstall_all"]

LOG = logging.getLogger(__name__)

#: name -> "module:class"
INTEGRATIONS: dict[str, str] = {
    "requests": "tracing_middleware.integrations.requests:RequestsIntegration",
    "urllib3": "tracing_middleware.integrations.urllib3:Urllib3Integration",
    "keystoneauth1": "tracing_middleware.integrations.keystoneauth1:KeystoneauthIntegration",
    "httpx": "tracing_middleware.integrations.httpx:HttpxIntegration",
    "sqlalchemy": "tracing_middleware.integrations.sqlalchemy:SQLAlchemyIntegration",
    "threading": "tracing_middleware.integrations.threading:ThreadingIntegration",
    "futurist": "tracing_middleware.integrations.futurist:FuturistIntegration",
    "eventlet": "tracing_middleware.integrations.eventlet:EventletIntegration",
    "asyncio": "tracing_middleware.integrations.asyncio:AsyncioIntegration",
    "logging": "tracing_middleware.integrations.logging:LoggingIntegration",
    "osprofiler": "tracing_middleware.integrations.osprofiler:OSProfilerIntegration",
}

#: Enabled when ``integrations`` is unset, each only if its library is importable.
DEFAULT_INTEGRATIONS = (
    "requests", "urllib3", "keystoneauth1", "sqlalchemy", "threading", "futurist", "logging",
)

_installed: list[type[Integration]] = []


def _load(name: str) -> type[Integration]:
    module_name, _, class_name = INTEGRATIONS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DidNotEnable(f"integration module {module_name} is unavailable: {exc}")
    return getattr(module, class_name)


def install(names: Sequence[str] | None, *, explicit: bool,
            defaults: Sequence[str]) -> list[str]:
    """Set up each integration once. Returns the names now active.

    A library missing for a default integration is skipped silently (debug log); one the
    operator named explicitly is a :class:`ConfigError`.
    """
    active = []
    problems = []
    for name in names if names is not None else defaults:
        try:
            cls = _load(name)
            cls.setup_once()
        except DidNotEnable as exc:
            if explicit:
                problems.append(f"[tracing] integrations = {name!r} cannot be enabled: {exc}")
            else:
                LOG.debug("os-tracing: integration %s not enabled: %s", name, exc)
            continue
        if cls not in _installed:
            _installed.append(cls)
        active.append(name)
    if problems:
        raise ConfigError(problems)
    return active


def uninstall_all() -> None:
    """Undo every patch (tests)."""
    while _installed:
        _installed.pop().uninstrument_once()
