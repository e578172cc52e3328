"""``gevent``: the active span per greenlet, in ``gevent.local.local``."""

from __future__ import annotations

from typing import Any

from tracing_middleware.scope.base import BaseScopeManager, TracingScope

__all__ = ["GeventScopeManager"]


class GeventScopeManager(BaseScopeManager):
    name = "gevent"

    def __init__(self) -> None:
        from gevent import local

        self._local = local.local()

    def _get(self) -> list[TracingScope] | None:
        return getattr(self._local, "holder", None)

    def _set(self, holder: list[TracingScope] | None) -> Any:
        previous = getattr(self._local, "holder", None)
        self._local.holder = holder
        return previous

    def _restore(self, token: Any) -> None:
        self._local.holder = token
