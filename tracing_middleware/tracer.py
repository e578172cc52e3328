"""The public face of os-tracing: what the edges, integrations and users import.

Each concern lives in its own module; this one only gathers their public names:
:mod:`~tracing_middleware.facade` (the :class:`Tracing` operations),
:mod:`~tracing_middleware.registry` (one engine per process and settings, ``configure``)
and, behind them, :mod:`~tracing_middleware.lifecycle` (exit, SIGTERM, fork).
"""

from __future__ import annotations

from tracing_middleware.facade import CURRENT, Tracing
from tracing_middleware.registry import (
    all_tracings,
    configure,
    force_flush_all,
    from_config,
    get_tracing,
    reset,
    setup,
)

__all__ = [
    "CURRENT",
    "Tracing",
    "all_tracings",
    "configure",
    "force_flush_all",
    "from_config",
    "get_tracing",
    "reset",
    "setup",
]
