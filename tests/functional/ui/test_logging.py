"""Logs that name the trace: %(trace_id)s / %(span_id)s on every record, errors as events."""

from __future__ import annotations

import io
import logging

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.export.store import SpanStore


def test_records_carry_ids_inside_a_span_and_empty_strings_outside(tmp_path):
    """The documented format string works everywhere; ERROR records become span events."""
    url = f"sqlite:///{tmp_path}/l.db"
    tracing = tracer.setup(load_settings(None, {"exporters": url, "integrations": "logging",
                                                "sampler": "always_on"}, environ={}))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s [%(trace_id)s %(span_id)s] "
                                           "%(message)s"))
    logger = logging.getLogger("test.service")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("before")
        span = tracing.start_span("request", parent=None)
        with tracing.activate(span, finish_on_close=True):
            logger.info("inside")
            logger.error("failed to attach volume %s", "vol-1")
        logger.info("after")
    finally:
        logger.removeHandler(handler)
    context = tracing.span_context_of(span)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "INFO [ ] before"
    assert lines[1] == f"INFO [{context.trace_id_hex} {context.span_id_hex}] inside"
    assert lines[2].startswith(f"ERROR [{context.trace_id_hex} ")
    assert lines[3] == "INFO [ ] after"
    tracing.force_flush()
    store = SpanStore.from_url(url)
    (stored,) = store.get_trace(context.trace_id_hex).spans
    store.close()
    (event,) = stored.events
    assert event.name == "log"
    assert event.attributes["log.severity"] == "ERROR"
    assert event.attributes["log.message"] == "failed to attach volume vol-1"
