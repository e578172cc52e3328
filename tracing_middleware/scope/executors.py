"""Carrying the active span into work that runs elsewhere (threads, pools, greenthreads).

``bind(fn)`` captures the span active *now* and returns a callable that runs ``fn`` with
it active and restores the worker's previous state afterwards — for any scope manager.
With no active span it returns ``fn`` itself: outside a trace, nothing is wrapped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from tracing_middleware import scope

__all__ = ["bind", "bound_submit", "current_span"]

F = TypeVar("F", bound=Callable[..., Any])


def current_span() -> Any:
    active = scope.active_manager().active
    return active.span if active is not None else None


def bind(fn: F) -> F:
    span = current_span()
    if span is None:
        return fn

    @functools.wraps(fn)
    def run_in_context(*args: Any, **kwargs: Any) -> Any:
        handle = scope.active_manager().activate(span, finish_on_close=False)
        try:
            return fn(*args, **kwargs)
        finally:
            handle.close()

    return run_in_context  # type: ignore[return-value]


def bound_submit(submit: Callable[..., Any]) -> Callable[..., Any]:
    """An executor class's ``submit`` that runs each callable in the submitter's context
    (the integrations put it in place of the class's own)."""

    def submit_bound(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return submit(self, bind(fn), *args, **kwargs)
    return submit_bound
