"""Scope managers by the names operators type in ``scope_manager``."""

from __future__ import annotations

import importlib
import logging
import threading

from tracing_middleware import _guard
from tracing_middleware.scope.base import BaseScopeManager
from tracing_middleware.scope.contextvars import ContextVarsScopeManager

__all__ = ["SCOPE_MANAGERS", "active_manager", "forget", "get_scope_manager",
           "set_active_manager", "use"]

LOG = logging.getLogger(__name__)

SCOPE_MANAGERS = {
    "contextvars": "tracing_middleware.scope.contextvars:ContextVarsScopeManager",
    "threadlocal": "tracing_middleware.scope.threadlocal:ThreadLocalScopeManager",
    "asyncio": "tracing_middleware.scope.asyncio:AsyncioScopeManager",
    "eventlet": "tracing_middleware.scope.eventlet:EventletScopeManager",
    "gevent": "tracing_middleware.scope.gevent:GeventScopeManager",
    "auto": "tracing_middleware.scope.auto:auto_scope_manager",
}

_active: BaseScopeManager = ContextVarsScopeManager()
#: The ``scope_manager`` the process chose (by :func:`use`), ``None`` before the first.
_chosen: str | None = None
_lock = threading.Lock()


def get_scope_manager(name: str) -> BaseScopeManager:
    if name not in SCOPE_MANAGERS:
        raise ValueError(f"unknown scope manager {name!r}; expected one of "
                         f"{', '.join(SCOPE_MANAGERS)}")
    module_name, _, attr = SCOPE_MANAGERS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)()


def set_active_manager(manager: BaseScopeManager) -> None:
    global _active
    _active = manager


def active_manager() -> BaseScopeManager:
    return _active


def use(name: str) -> BaseScopeManager:
    """The process-wide scope manager: the first pipeline's choice holds for the process.

    Two managers in one process would each see only half of the active spans, so a later
    pipeline that names another one gets the first, with one WARNING line.
    """
    global _chosen
    with _lock:
        if _chosen is None:
            manager = get_scope_manager(name)
            set_active_manager(manager)
            _chosen = name
            return manager
        chosen = _chosen
    if name != chosen:
        _guard.log_once(LOG, "os-tracing: [tracing] scope_manager = %r ignored; this "
                        "process already uses %r", name, chosen, key="scope:" + name)
    return _active


def forget() -> None:
    """Let the next :func:`use` choose again (tests; never needed in a service)."""
    global _chosen
    with _lock:
        _chosen = None
