"""``eventlet``: the active span per greenthread, whatever greenlet's context support.

Stored in ``eventlet.corolocal.local``, which eventlet keys by the current greenlet, so
greenthreads sharing one OS thread never see each other's span even on old greenlet
releases without per-greenlet ``contextvars``.
"""

from __future__ import annotations

from typing import Any

from tracing_middleware.scope.threadlocal import LocalSlotScopeManager

__all__ = ["EventletScopeManager"]


class EventletScopeManager(LocalSlotScopeManager):
    name = "eventlet"

    def _make_local(self) -> Any:
        from eventlet import corolocal

        return corolocal.local()
