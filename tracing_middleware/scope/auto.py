"""``auto``: eventlet when the process is monkey-patched by eventlet, gevent when by
gevent, contextvars otherwise — decided once, when tracing is set up (after the service
has patched, as OpenStack services do first thing)."""

from __future__ import annotations

import sys

from tracing_middleware import scope
from tracing_middleware.scope.base import BaseScopeManager

__all__ = ["auto_scope_manager", "detect"]


def detect() -> str:
    """The model this process runs under, without importing eventlet or gevent."""
    if "eventlet" in sys.modules:
        try:
            from eventlet import patcher

            if patcher.is_monkey_patched("thread"):
                return "eventlet"
        except Exception:
            pass
    if "gevent" in sys.modules:
        try:
            from gevent import monkey

            if monkey.is_module_patched("threading"):
                return "gevent"
        except Exception:
            pass
    return "contextvars"


def auto_scope_manager() -> BaseScopeManager:
    return scope.get_scope_manager(detect())
