"""The facade's own operations: recording an error, and reading a trace from an RPC
request context."""

from __future__ import annotations

import uuid

import pytest
from osprofiler import profiler

from tracing_middleware.testing import capture_spans

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"exc": TimeoutError("slow")}, "TimeoutError"),
    ({"description": "503 Service Unavailable", "error_type": "503"}, "503"),
    ({"exc": KeyError("k"), "error_type": "404"}, "404"),
])
def test_set_error_records_status_and_error_type(kwargs, expected):
    """One call marks the span failed and names the error as OpenTelemetry's conventions
    say: the exception's class, unless the caller names it (an HTTP status)."""
    with capture_spans() as read:
        tracing = read.tracing
        span = tracing.start_span("op", kind="server")
        tracing.set_error(span, **kwargs)
        span.finish()
        [record] = read()
    assert record.status == "error"
    assert record.attributes["error.type"] == expected
    events = [event.name for event in record.events]
    assert events == (["exception"] if "exc" in kwargs else [])


def test_request_context_keys_follow_the_configuration():
    """The keys a request context may carry a trace under: the configured formats'
    fields, and osprofiler's trace_info only when there is a key to check it with."""
    with capture_spans(propagators="tracecontext,b3") as read:
        keys = read.tracing.request_context_keys
    assert {"traceparent", "tracestate", "b3"} <= keys and "trace_info" not in keys
    with capture_spans(propagators="none", hmac_keys="secret") as read:
        assert read.tracing.request_context_keys == {"trace_info"}


def test_extract_request_context_reads_the_configured_formats():
    """oslo.messaging's own tracing writes traceparent into the request context."""
    with capture_spans() as read:
        found = read.tracing.extract_request_context({"traceparent": TRACEPARENT,
                                                       "user": "u"})
        assert found.span_context.trace_id_hex == "0af7651916cd43dd8448eb211c80319c"
        assert read.tracing.extract_request_context({"user": "u"}).span_context is None
        assert read.tracing.extract_request_context("not a mapping").span_context is None


def test_extract_request_context_trusts_only_our_hmac_keys():
    """A trace_info as nova's ProfilerRequestContextSerializer writes it (from upstream
    osprofiler) is continued when signed with one of our keys, ignored otherwise."""
    profiler.init("secret")
    try:
        prof = profiler.get()
        trace_info = {"hmac_key": "secret", "base_id": prof.get_base_id(),
                      "parent_id": prof.get_id()}
    finally:
        profiler.clean()
    with capture_spans(propagators="tracecontext,osprofiler", hmac_keys="secret") as read:
        found = read.tracing.extract_request_context({"trace_info": trace_info})
        assert found.span_context is not None
        assert found.span_context.trace_id == uuid.UUID(trace_info["base_id"]).int
    with capture_spans(propagators="tracecontext,osprofiler", hmac_keys="other") as read:
        found = read.tracing.extract_request_context({"trace_info": trace_info})
        assert found.span_context is None
