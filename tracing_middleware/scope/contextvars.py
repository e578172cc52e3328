"""Default scope manager: a ``ContextVar``, correct for threads, asyncio tasks and greenlets.

Each thread, each asyncio task (which copies the context at creation) and, since
greenlet 1.0, each greenlet has its own context, so one variable serves all of them.
"""

from __future__ import annotations

import contextvars
from typing import Any

from tracing_middleware.scope.base import BaseScopeManager, TracingScope

__all__ = ["ContextVarsScopeManager"]

_ACTIVE: contextvars.ContextVar[list[TracingScope] | None] = contextvars.ContextVar(
    "os_tracing_active_scope", default=None
)


class ContextVarsScopeManager(BaseScopeManager):
    name = "contextvars"

    def _get(self) -> list[TracingScope] | None:
        return _ACTIVE.get()

    def _set(self, holder: list[TracingScope] | None) -> Any:
        return _ACTIVE.set(holder)

    def _restore(self, token: Any) -> None:
        try:
            _ACTIVE.reset(token)
        except ValueError:
            # NOTE(os-tracing): closed in another context (a scope handed to a callback
            # on another task). Resetting there is impossible; clear this context instead
            # so nothing leaks into the next unit of work.
            _ACTIVE.set(None)
