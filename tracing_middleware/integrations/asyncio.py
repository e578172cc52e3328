"""``asyncio``: tasks and ``run_in_executor`` run in the context that created them.

Tasks copy ``contextvars`` themselves; for the other scope managers ``create_task`` binds
the coroutine to the creator's span. ``run_in_executor`` goes through the executor's
``submit``, which the ``threading`` integration binds, so it is bound here too for the
case where only ``asyncio`` is enabled.
"""

from __future__ import annotations

import asyncio as _asyncio
from typing import Any

from tracing_middleware import scope
from tracing_middleware.integrations.base import Integration
from tracing_middleware.scope.contextvars import ContextVarsScopeManager
from tracing_middleware.scope.executors import bind, current_span

__all__ = ["AsyncioIntegration"]

async def _in_context(span: Any, coro: Any) -> Any:
    handle = scope.active_manager().activate(span, finish_on_close=False)
    try:
        return await coro
    finally:
        handle.close()


def _bound_task(create_task: Any) -> Any:
    def bound_create_task(self: Any, coro: Any, **kwargs: Any) -> Any:
        span = current_span()
        if span is not None and not isinstance(scope.active_manager(),
                                               ContextVarsScopeManager):
            coro = _in_context(span, coro)
        return create_task(self, coro, **kwargs)
    return bound_create_task


def _bound_executor(run_in_executor: Any) -> Any:
    def bound_run_in_executor(self: Any, executor: Any, func: Any, *args: Any) -> Any:
        return run_in_executor(self, executor, bind(func), *args)
    return bound_run_in_executor


class AsyncioIntegration(Integration):
    identifier = "asyncio"

    @classmethod
    def setup(cls) -> None:
        cls.patch(_asyncio.BaseEventLoop, "create_task", _bound_task)
        cls.patch(_asyncio.BaseEventLoop, "run_in_executor", _bound_executor)
