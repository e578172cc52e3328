"""``eventlet``: ``spawn``, ``spawn_n``, ``spawn_after`` (and so ``GreenPool.spawn``,
``spawn_n`` and ``imap``, which call them) run the greenthread in the spawner's context."""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations.base import Integration, require
from tracing_middleware.scope.executors import bind

__all__ = ["EventletIntegration"]

def _bound(spawn: Any) -> Any:
    def bound_spawn(func: Any, *args: Any, **kwargs: Any) -> Any:
        return spawn(bind(func), *args, **kwargs)
    return bound_spawn


def _bound_after(spawn_after: Any) -> Any:
    def bound_spawn_after(seconds: float, func: Any, *args: Any, **kwargs: Any) -> Any:
        return spawn_after(seconds, bind(func), *args, **kwargs)
    return bound_spawn_after


class EventletIntegration(Integration):
    identifier = "eventlet"

    @classmethod
    def setup(cls) -> None:
        eventlet = require("eventlet")
        greenthread = require("eventlet.greenthread")
        for module in (greenthread, eventlet):
            cls.patch(module, "spawn", _bound)
            cls.patch(module, "spawn_n", _bound)
            cls.patch(module, "spawn_after", _bound_after)
