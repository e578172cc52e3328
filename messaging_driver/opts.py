"""The driver has no options of its own: it reads ``[tracing]`` (tracing_middleware.opts)
from the service's configuration, like the paste filter."""

from __future__ import annotations

from tracing_middleware.opts import list_opts

__all__ = ["list_opts"]
