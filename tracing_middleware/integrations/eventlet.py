"""``eventlet``: ``spawn``, ``spawn_n``, ``spawn_after`` (and so ``GreenPool.spawn``,
``spawn_n`` and ``imap``, which call them) run the greenthread in the spawner's context."""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations.base import DidNotEnable, Integration
from tracing_middleware.scope.executors import bind

__all__ = ["EventletIntegration"]

_originals: dict[tuple[Any, str], Any] = {}


def _wrap(original: Any, delayed: bool) -> Any:
    if delayed:
        def spawn_after(seconds: float, func: Any, *args: Any, **kwargs: Any) -> Any:
            return original(seconds, bind(func), *args, **kwargs)
        return spawn_after

    def spawn(func: Any, *args: Any, **kwargs: Any) -> Any:
        return original(bind(func), *args, **kwargs)
    return spawn


class EventletIntegration(Integration):
    identifier = "eventlet"

    @classmethod
    def setup(cls) -> None:
        try:
            import eventlet
            from eventlet import greenthread
        except ImportError as exc:
            raise DidNotEnable("eventlet is not installed") from exc
        for module in (greenthread, eventlet):
            for name in ("spawn", "spawn_n", "spawn_after"):
                original = getattr(module, name, None)
                if original is None:
                    continue
                _originals[(module, name)] = original
                setattr(module, name, _wrap(original, name == "spawn_after"))

    @classmethod
    def uninstrument(cls) -> None:
        for (module, name), original in list(_originals.items()):
            setattr(module, name, original)
        _originals.clear()
