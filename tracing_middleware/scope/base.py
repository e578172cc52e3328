"""The scope-manager contract: where "the current span" lives in each execution model.

Exposed to callers as an ``opentracing.ScopeManager``: ``activate(span, finish_on_close)``
returns a ``Scope`` whose ``close()`` restores exactly what was active before, so a
request or message can never leave its span behind for the next one on the same thread,
greenthread or task.
"""

from __future__ import annotations

import abc
from typing import Any

import opentracing

__all__ = ["BaseScopeManager", "TracingScope"]


class TracingScope(opentracing.Scope):
    """A scope that restores the previous state through a manager-specific token."""

    __slots__ = ("_closed", "_finish_on_close", "_token")

    def __init__(self, manager: BaseScopeManager, span: opentracing.Span,
                 finish_on_close: bool, token: Any) -> None:
        super().__init__(manager, span)
        self._finish_on_close = finish_on_close
        self._token = token
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._manager._restore(self._token)
        if self._finish_on_close:
            self._span.finish()


class BaseScopeManager(opentracing.ScopeManager, abc.ABC):
    """Subclasses store the active :class:`TracingScope` in their own kind of slot."""

    #: Name operators type in ``scope_manager``.
    name: str = ""

    def activate(self, span: opentracing.Span, finish_on_close: bool) -> opentracing.Scope:
        holder: list[TracingScope] = []
        token = self._set(holder)
        scope = TracingScope(self, span, finish_on_close, token)
        holder.append(scope)
        return scope

    @property
    def active(self) -> opentracing.Scope | None:
        holder = self._get()
        return holder[0] if holder else None

    @abc.abstractmethod
    def _get(self) -> list[TracingScope] | None:
        """The holder of the active scope in the current unit of execution, if any."""

    @abc.abstractmethod
    def _set(self, holder: list[TracingScope] | None) -> Any:
        """Make ``holder`` current; return a token that :meth:`_restore` undoes."""

    @abc.abstractmethod
    def _restore(self, token: Any) -> None:
        """Put back what was current before the matching :meth:`_set`."""
