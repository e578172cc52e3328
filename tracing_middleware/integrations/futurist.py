"""``futurist``: its executors (thread, green, synchronous) run submitted work in the
submitter's context. futurist does not subclass the stdlib executor, so it is patched on
its own."""

from __future__ import annotations

from tracing_middleware.integrations.base import Integration, require
from tracing_middleware.scope.executors import bound_submit

__all__ = ["FuturistIntegration"]

class FuturistIntegration(Integration):
    identifier = "futurist"

    @classmethod
    def setup(cls) -> None:
        futurist = require("futurist")
        for name in ("ThreadPoolExecutor", "GreenThreadPoolExecutor", "SynchronousExecutor"):
            executor = getattr(futurist, name, None)
            if executor is not None:
                cls.patch(executor, "submit", bound_submit)
