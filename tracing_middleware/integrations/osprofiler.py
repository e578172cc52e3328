"""The osprofiler bridge: existing ``@profiler.trace`` points become spans in our trace.

Two patches, both reversible:

* a *unit hook*: when a sampled request or message becomes current, osprofiler's
  thread-local profiler is initialised with our ids (base id = the trace id as a UUID,
  parent id = a UUID whose low 64 bits are the span id) and cleaned when the unit ends,
  so nothing leaks to the next request. Unsampled work leaves osprofiler inactive and its
  trace points cost what they cost today.
* ``_Profiler.start``/``stop``: while one of our sampled spans is current, a trace point
  starts a child span instead of an osprofiler notification (so a service that also calls
  ``init_from_conf`` gets no double spans), and osprofiler's own id stack follows ours, so
  headers that osprofiler or keystoneauth sign carry the right parent.

``info`` dictionaries become ``osprofiler.*`` attributes; values under keys that look
secret and SQL parameters are dropped.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

from tracing_middleware import _guard, registry, unit
from tracing_middleware.integrations.base import Integration, require
from tracing_middleware.integrations.sqlalchemy import SQLAlchemyIntegration
from tracing_middleware.osprofiler_info import flatten_info

__all__ = ["OSProfilerIntegration", "span_uuid"]

LOG = logging.getLogger(__name__)

def span_uuid(trace_id: int, span_id: int) -> str:
    """The osprofiler id for a span: high 64 bits from the trace id, low 64 the span id."""
    return str(uuid.UUID(int=((trace_id >> 64) << 64) | span_id))


def _unit_hook(tracing: Any, span: Any) -> Callable[[], None] | None:
    from osprofiler import profiler

    if not tracing.is_recording(span) or profiler.get() is not None:
        return None
    context = tracing.span_context_of(span)
    if context is None:
        return None
    keys = tracing.settings.hmac_keys
    profiler.init(keys[0] if keys else "", base_id=str(uuid.UUID(int=context.trace_id)),
                  parent_id=span_uuid(context.trace_id, context.span_id))
    return profiler.clean


def _start(self: Any, original: Any, name: str, info: dict[str, Any] | None = None) -> None:
    scopes = self.__dict__.setdefault("_os_tracing_scopes", [])
    tracing = registry.get_tracing()
    parent = tracing.active_span() if tracing is not None else None
    if parent is None or not tracing.is_recording(parent) or (
            name == "db" and _sqlalchemy_traced()):
        scopes.append(None)
        return original(self, name, info)
    scope = None
    with _guard.guarded("starting an osprofiler span"):
        tags = flatten_info(info)
        tags["osprofiler.name"] = name
        span = tracing.start_span(name, tags=tags)
        scope = tracing.activate(span, finish_on_close=True)
        context = tracing.span_context_of(span)
        self._name.append(name)
        self._trace_stack.append(span_uuid(context.trace_id, context.span_id))
    scopes.append(scope)
    if scope is None:  # bookkeeping failed: behave exactly like osprofiler
        scopes[-1] = None
        return original(self, name, info)
    return None


def _stop(self: Any, original: Any, info: dict[str, Any] | None = None) -> None:
    scopes = self.__dict__.get("_os_tracing_scopes")
    scope = scopes.pop() if scopes else None
    if scope is None:
        return original(self, info)
    with _guard.guarded("ending an osprofiler span"):
        for key, value in flatten_info(info).items():
            scope.span.set_tag(key, value)
        if self._name:
            self._name.pop()
        if len(self._trace_stack) > 2:
            self._trace_stack.pop()
    scope.close()
    return None


def _sqlalchemy_traced() -> bool:
    """Our SQLAlchemy integration already records statements: avoid a second span."""
    return SQLAlchemyIntegration.is_installed()


class OSProfilerIntegration(Integration):
    identifier = "osprofiler"

    @classmethod
    def setup(cls) -> None:
        profiler = require("osprofiler.profiler")
        # partialmethod: osprofiler calls them as methods, each gets what it replaced
        cls.patch(profiler._Profiler, "start",
                  lambda start: functools.partialmethod(_start, start))
        cls.patch(profiler._Profiler, "stop",
                  lambda stop: functools.partialmethod(_stop, stop))
        unit.HOOKS.append(_unit_hook)

    @classmethod
    def uninstrument(cls) -> None:
        super().uninstrument()
        if _unit_hook in unit.HOOKS:
            unit.HOOKS.remove(_unit_hook)
