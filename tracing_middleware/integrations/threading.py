"""``threading``: a ``Thread`` started in a trace, and ``concurrent.futures`` thread-pool
work, run in the context that started or submitted them — and only that work.

Pool worker threads themselves are never bound (they outlive the request that happened
to start them); each submitted callable is.
"""

from __future__ import annotations

import concurrent.futures
import threading as _threading
from typing import Any

from tracing_middleware.integrations.base import Integration
from tracing_middleware.scope.executors import bind, bound_submit

__all__ = ["ThreadingIntegration"]

_POOL_MODULES = ("concurrent.futures", "futurist", "eventlet", "oslo_messaging", "kombu",
                 "amqp", "tracing_middleware")


def _is_pool_worker(thread: _threading.Thread) -> bool:
    target = getattr(thread, "_target", None)
    module = getattr(target, "__module__", "") or ""
    return module.startswith(_POOL_MODULES) or type(thread).__module__.startswith(
        _POOL_MODULES)


def _bound(start: Any) -> Any:
    def bound_start(self: _threading.Thread) -> None:
        if not _is_pool_worker(self):
            bound = bind(self.run)
            if bound is not self.run:
                self.run = bound  # type: ignore[method-assign]
        return start(self)
    return bound_start


class ThreadingIntegration(Integration):
    identifier = "threading"

    @classmethod
    def setup(cls) -> None:
        cls.patch(_threading.Thread, "start", _bound)
        cls.patch(concurrent.futures.ThreadPoolExecutor, "submit", bound_submit)
