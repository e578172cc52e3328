"""Scope managers by the names operators type in ``scope_manager``."""

from __future__ import annotations

import importlib

from tracing_middleware.scope.base import BaseScopeManager
from tracing_middleware.scope.contextvars import ContextVarsScopeManager

__all__ = ["SCOPE_MANAGERS", "active_manager", "get_scope_manager", "set_active_manager"]

SCOPE_MANAGERS = {
    "contextvars": "tracing_middleware.scope.contextvars:ContextVarsScopeManager",
    "threadlocal": "tracing_middleware.scope.threadlocal:ThreadLocalScopeManager",
    "asyncio": "tracing_middleware.scope.asyncio:AsyncioScopeManager",
    "eventlet": "tracing_middleware.scope.eventlet:EventletScopeManager",
    "gevent": "tracing_middleware.scope.gevent:GeventScopeManager",
    "auto": "tracing_middleware.scope.auto:auto_scope_manager",
}

_active: BaseScopeManager = ContextVarsScopeManager()


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
