"""SQLAlchemy: a CLIENT span per statement executed inside a trace.

Hooks the ``Engine`` class events, so every engine the service creates (before or after
setup) is covered without touching service code. Only the statement text is recorded,
never its parameters: they carry passwords, tokens and user data.

Two defaults keep a service's trace readable (on keystone most spans were ``BEGIN`` and
repeated ``SELECT`` statements). Transaction control (``BEGIN``, ``COMMIT``...,
which oslo.db issues as statements on SQLite) is not recorded unless
``[tracing] sql_transaction_spans``. With ``sql_fold_repeats``, inside a unit of work
(:mod:`tracing_middleware.unit`) a statement's span is held back after it ends; if the
same statement runs next under the same parent, that execution extends the held span
and adds to its count instead of starting one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from tracing_middleware import _guard, registry, unit
from tracing_middleware.integrations.base import DidNotEnable, Integration

__all__ = ["SQLAlchemyIntegration"]

LOG = logging.getLogger(__name__)

_SPAN_KEY = "_os_tracing_span"
_MAX_STATEMENT = 2048
#: First words of the statements that only delimit transactions.
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE",
                                  "START", "END"})
#: Marks an execution that extends the held-back span of the same statement.
_REPEAT = object()
#: On the execution context: the parent of a span that may fold later repeats.
_FOLD_KEY = "_os_tracing_fold_parent"


def _operation(statement: str) -> str:
    head = statement.lstrip().split(None, 1)
    return head[0].upper() if head else ""


def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
            executemany: bool) -> None:
    tracing = registry.get_tracing()
    if tracing is None or context is None:
        return
    parent = tracing.active_span()
    if parent is None:
        return
    with _guard.guarded("starting a database span"):
        operation = _operation(statement)
        settings = tracing.settings
        if operation in _TRANSACTION_CONTROL and not settings.sql_transaction_spans:
            return
        current = unit.current() if settings.sql_fold_repeats else None
        if current is not None:
            pending = current.pending
            if pending is not None and pending.parent is parent \
                    and pending.statement == statement:
                pending.count += 1
                setattr(context, _SPAN_KEY, _REPEAT)
                return
        url = conn.engine.url
        system = conn.engine.dialect.name
        tags: dict[str, Any] = {
            "span.kind": "client",
            "db.system.name": system,
            "db.query.text": statement[:_MAX_STATEMENT],
        }
        if operation:
            tags["db.operation.name"] = operation
        if url.database:
            tags["db.namespace"] = str(url.database) if system != "sqlite" else "main"
        if url.host:
            tags["server.address"] = url.host
        if url.port:
            tags["server.port"] = int(url.port)
        name = f"{operation} {system}" if operation else system
        setattr(context, _SPAN_KEY, tracing.start_span(name, kind="client", tags=tags))
        if current is not None:
            setattr(context, _FOLD_KEY, parent)


def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
           executemany: bool) -> None:
    span = getattr(context, _SPAN_KEY, None)
    if span is None:
        return
    setattr(context, _SPAN_KEY, None)
    with _guard.guarded("ending a database span"):
        current = unit.current()
        if span is _REPEAT:
            if current is not None and current.pending is not None:
                current.pending.end = time.time()
            return
        rowcount = getattr(cursor, "rowcount", -1)
        if isinstance(rowcount, int) and rowcount >= 0:
            span.set_tag("db.response.returned_rows", rowcount)
        parent = getattr(context, _FOLD_KEY, None)
        if parent is None or current is None:
            span.finish()
            return
        setattr(context, _FOLD_KEY, None)
        current.pending = unit.Pending(span, parent, statement)


def _error(exception_context: Any) -> None:
    context = exception_context.execution_context
    span = getattr(context, _SPAN_KEY, None) if context is not None else None
    if span is None:
        return
    setattr(context, _SPAN_KEY, None)
    with _guard.guarded("ending a failed database span"):
        if span is _REPEAT:  # the failure belongs to the span it would have extended
            current = unit.current()
            pending = current.release_pending() if current is not None else None
            if pending is None:
                return
            span = pending.span
        tracing = registry.get_tracing()
        if tracing is not None:
            exc = exception_context.original_exception
            tracing.set_error(span, exc)
        span.finish()


class SQLAlchemyIntegration(Integration):
    identifier = "sqlalchemy"

    @classmethod
    def setup(cls) -> None:
        try:
            from sqlalchemy import event
            from sqlalchemy.engine import Engine
        except ImportError as exc:
            raise DidNotEnable("sqlalchemy is not installed") from exc
        event.listen(Engine, "before_cursor_execute", _before)
        event.listen(Engine, "after_cursor_execute", _after)
        event.listen(Engine, "handle_error", _error)

    @classmethod
    def uninstrument(cls) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        for name, fn in (("before_cursor_execute", _before),
                         ("after_cursor_execute", _after), ("handle_error", _error)):
            if event.contains(Engine, name, fn):
                event.remove(Engine, name, fn)
