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

_originals: dict[str, Any] = {}


async def _in_context(span: Any, coro: Any) -> Any:
    handle = scope.active_manager().activate(span, finish_on_close=False)
    try:
        return await coro
    finally:
        handle.close()


def _create_task(self: Any, coro: Any, **kwargs: Any) -> Any:
    span = current_span()
    if span is not None and not isinstance(scope.active_manager(), ContextVarsScopeManager):
        coro = _in_context(span, coro)
    return _originals["create_task"](self, coro, **kwargs)


def _run_in_executor(self: Any, executor: Any, func: Any, *args: Any) -> Any:
    return _originals["run_in_executor"](self, executor, bind(func), *args)


class AsyncioIntegration(Integration):
    identifier = "asyncio"

    @classmethod
    def setup(cls) -> None:
        loop = _asyncio.BaseEventLoop
        _originals["create_task"] = loop.create_task
        _originals["run_in_executor"] = loop.run_in_executor
        loop.create_task = _create_task  # type: ignore[method-assign]
        loop.run_in_executor = _run_in_executor  # type: ignore[method-assign]

    @classmethod
    def uninstrument(cls) -> None:
        loop = _asyncio.BaseEventLoop
        if _originals:
            loop.create_task = _originals.pop("create_task")  # type: ignore[method-assign]
            loop.run_in_executor = _originals.pop(  # type: ignore[method-assign]
                "run_in_executor")
