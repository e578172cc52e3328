"""``asyncio``: the active span per task.

asyncio copies the ``contextvars`` context into every task at creation, which is exactly
per-task isolation with inheritance from the creator; this manager is that, under the name
asyncio users look for. Outside a running loop it behaves as per-thread.
"""

from __future__ import annotations

from tracing_middleware.scope.contextvars import ContextVarsScopeManager

__all__ = ["AsyncioScopeManager"]


class AsyncioScopeManager(ContextVarsScopeManager):
    name = "asyncio"
