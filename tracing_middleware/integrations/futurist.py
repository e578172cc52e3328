"""``futurist``: its executors (thread, green, synchronous) run submitted work in the
submitter's context. futurist does not subclass the stdlib executor, so it is patched on
its own."""

from __future__ import annotations

from typing import Any

from tracing_middleware.integrations.base import DidNotEnable, Integration
from tracing_middleware.scope.executors import bind

__all__ = ["FuturistIntegration"]

_originals: dict[type, Any] = {}


def _make_submit(original: Any) -> Any:
    def submit(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, bind(fn), *args, **kwargs)
    return submit


class FuturistIntegration(Integration):
    identifier = "futurist"

    @classmethod
    def setup(cls) -> None:
        try:
            import futurist
        except ImportError as exc:
            raise DidNotEnable("futurist is not installed") from exc
        for name in ("ThreadPoolExecutor", "GreenThreadPoolExecutor", "SynchronousExecutor"):
            executor = getattr(futurist, name, None)
            if executor is None or executor in _originals:
                continue
            _originals[executor] = executor.__dict__.get("submit")
            executor.submit = _make_submit(executor.submit)

    @classmethod
    def uninstrument(cls) -> None:
        for executor, original in list(_originals.items()):
            if original is None:
                del executor.submit
            else:
                executor.submit = original
        _originals.clear()
