"""A unit of work being recorded: one request or one message, and its span budget.

A trace an operator cannot read is as useless as none: one keystone request can run
hundreds of statements. While a sampled SERVER or CONSUMER span is active, its
:class:`Unit` is current; the facade asks it before recording each child span
(``max_spans_per_unit``), and the SQL integration keeps the statement it may still fold
repeats into (``sql_fold_repeats``). The cap follows sentry-python's ``max_spans``: past
it, children are counted on the unit span instead of recorded, so memory and the trace
stay bounded while the count still says something was left out. Spans that hand the
trace to another process are recorded regardless (the facade decides which): they are
few, and another service's spans hang from each.
"""

from __future__ import annotations

import contextvars
import time
from typing import Any

__all__ = ["DROPPED_ATTRIBUTE", "HOOKS", "REPEAT_ATTRIBUTE", "Pending", "Unit", "current",
           "enter", "leave"]

#: On the unit span: children not recorded because the unit reached its cap.
DROPPED_ATTRIBUTE = "os_tracing.unit.dropped_spans"
#: On a folded database span: how many executions of its statement it stands for.
REPEAT_ATTRIBUTE = "os_tracing.db.repeat_count"

#: Called as ``hook(tracing, span)`` when a sampled unit of work (a SERVER or CONSUMER span:
#: one request or one message) becomes active; each returns an undo callable or ``None``.
#: The osprofiler integration adds one that activates osprofiler for exactly that unit.
HOOKS: list[Any] = []

_current: contextvars.ContextVar[Unit | None] = contextvars.ContextVar(
    "os_tracing_unit", default=None)


class Pending:
    """A finished statement span held back in case the same statement runs again."""

    __slots__ = ("count", "end", "parent", "span", "statement")

    def __init__(self, span: Any, parent: Any, statement: str) -> None:
        self.span = span
        self.parent = parent
        self.statement = statement
        self.count = 1
        self.end = time.time()


class Unit:
    """The budget of one unit span. Shared by the threads and tasks it hands work to."""

    __slots__ = ("dropped", "pending", "remaining", "span")

    def __init__(self, span: Any, max_spans: int) -> None:
        self.span = span
        #: ``None``: no cap.
        self.remaining: int | None = max_spans or None
        self.dropped = 0
        self.pending: Pending | None = None

    def take(self) -> bool:
        """May one more child be recorded? Counts it as dropped when not."""
        remaining = self.remaining
        if remaining is None:
            return True
        if remaining > 0:
            self.remaining = remaining - 1
            return True
        self.dropped += 1
        return False

    def release_pending(self) -> Pending | None:
        """The held-back statement, no longer held, its span tagged with its count when
        it folded repeats; the caller finishes the span."""
        pending, self.pending = self.pending, None
        if pending is not None and pending.count > 1:
            pending.span.set_tag(REPEAT_ATTRIBUTE, pending.count)
        return pending

    def flush_pending(self) -> None:
        """Finish the held-back statement span where its last execution ended."""
        pending = self.release_pending()
        if pending is not None:
            pending.span.finish(finish_time=pending.end)

    def close(self) -> None:
        """The unit's scope ends: nothing held back, and the count on the unit span."""
        self.flush_pending()
        if self.dropped:
            self.span.set_tag(DROPPED_ATTRIBUTE, self.dropped)


def current() -> Unit | None:
    """The unit being recorded in this context, if any."""
    return _current.get()


def enter(unit: Unit) -> Unit | None:
    """Make ``unit`` current; returns what was current, for :func:`leave`."""
    previous = _current.get()
    _current.set(unit)
    return previous


def leave(unit: Unit, previous: Unit | None) -> None:
    """Close ``unit`` and restore ``previous`` (set, not reset: the scope may close in
    another context than it opened in, where a token would not be accepted)."""
    try:
        unit.close()
    finally:
        _current.set(previous)
