"""Logs that name the trace: ``%(trace_id)s`` and ``%(span_id)s`` on every record.

A record factory (not a handler or filter) is used so that every logger, handler and
formatter in the process sees the attributes, including oslo.log's
``logging_context_format_string``. Outside a span both are empty strings, so format
strings never fail. ERROR records inside a sampled span are also added to the span as
``log`` events, so the trace view shows what went wrong where.
"""

from __future__ import annotations

import logging as _logging
import threading
from typing import Any

from tracing_middleware import registry
from tracing_middleware.integrations.base import Integration

__all__ = ["LoggingIntegration"]

_original_factory: Any = None
_reentry = threading.local()


def _factory(*args: Any, **kwargs: Any) -> _logging.LogRecord:
    record = _original_factory(*args, **kwargs)
    record.trace_id = ""
    record.span_id = ""
    if getattr(_reentry, "active", False):
        return record
    tracing = registry.get_tracing()
    if tracing is None:
        return record
    span = tracing.active_span()
    if span is None:
        return record
    _reentry.active = True
    try:
        context = tracing.span_context_of(span)
        if context is not None:
            record.trace_id = context.trace_id_hex
            record.span_id = context.span_id_hex
            if record.levelno >= _logging.ERROR and tracing.is_recording(span):
                span.log_kv({"event": "log", "log.severity": record.levelname,
                             "log.logger": record.name,
                             "log.message": str(record.msg % record.args
                                                if record.args else record.msg)[:1024]})
    except Exception:  # a log call must never fail because of us
        pass
    finally:
        _reentry.active = False
    return record


class LoggingIntegration(Integration):
    identifier = "logging"

    @classmethod
    def setup(cls) -> None:
        global _original_factory
        _original_factory = _logging.getLogRecordFactory()
        _logging.setLogRecordFactory(_factory)

    @classmethod
    def uninstrument(cls) -> None:
        global _original_factory
        if _logging.getLogRecordFactory() is _factory and _original_factory is not None:
            _logging.setLogRecordFactory(_original_factory)
        _original_factory = None
