"""``threadlocal``: osprofiler's model, one slot per OS thread.

Correct for thread-per-request servers; wrong across asyncio tasks and (unpatched)
greenthreads sharing a thread. Offered for parity and for code that reads the slot from
threads it starts itself; ``contextvars`` is the default for a reason.
"""

from __future__ import annotations

import threading
from typing import Any

from tracing_middleware.scope.base import BaseScopeManager, TracingScope

__all__ = ["LocalSlotScopeManager", "ThreadLocalScopeManager"]


class LocalSlotScopeManager(BaseScopeManager):
    """The active scope in a ``local()`` object; subclasses choose whose local it is
    (OS thread, greenthread, greenlet) by overriding :meth:`_make_local`."""

    def __init__(self) -> None:
        self._local = self._make_local()

    def _make_local(self) -> Any:
        return threading.local()

    def _get(self) -> list[TracingScope] | None:
        return getattr(self._local, "holder", None)

    def _set(self, holder: list[TracingScope] | None) -> Any:
        previous = getattr(self._local, "holder", None)
        self._local.holder = holder
        return previous

    def _restore(self, token: Any) -> None:
        self._local.holder = token


class ThreadLocalScopeManager(LocalSlotScopeManager):
    name = "threadlocal"
