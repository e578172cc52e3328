"""``eventlet``: the active span per greenthread, whatever greenlet's context support.

Stored in ``eventlet.corolocal.local``, which eventlet keys by the current greenlet, so
greenthreads sharing one OS thread never see each other's span even on old greenlet
releases without per-greenlet ``contextvars``.
"""

from __future__ import annotations

from typing import Any

from tracing_middleware.scope.base import BaseScopeManager, TracingScope

__all__ = ["EventletScopeManager"]


class EventletScopeManager(BaseScopeManager):
    name = "eventlet"

    def __init__(self) -> None:
        from eventlet import corolocal

        self._local = corolocal.local()

    def _get(self) -> list[TracingScope] | None:
        return getattr(self._local, "holder", None)

    def _set(self, holder: list[TracingScope] | None) -> Any:
        previous = getattr(self._local, "holder", None)
        self._local.holder = holder
        return previous

    def _restore(self, token: Any) -> None:
        self._local.holder = token
