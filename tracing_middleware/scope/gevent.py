"""``gevent``: the active span per greenlet, in ``gevent.local.local``."""

from __future__ import annotations

from typing import Any

from tracing_middleware.scope.threadlocal import LocalSlotScopeManager

__all__ = ["GeventScopeManager"]


class GeventScopeManager(LocalSlotScopeManager):
    name = "gevent"

    def _make_local(self) -> Any:
        from gevent import local

        return local.local()
