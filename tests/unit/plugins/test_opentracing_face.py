"""Every engine's OpenTracing tracer picks the parent by OpenTracing's rule.

OpenTelemetry's OpenTracing compatibility spec, "Start a new Span": the parent is
``child_of`` when given; else "the first SpanContext with Child Of type in the entire list
is used as parent, else the first SpanContext"; else the active span, unless
``ignore_active_span``. Parents sit in different traces, so a span's trace id says which
one it was given.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import opentracing
import pytest

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.plugins.base import OpenTracingFace

ENGINES = sorted(ep.name for ep in entry_points(group="os_tracing.tracers"))


def _build(tmp_path, name):
    return tracer.setup(load_settings(None, {
        "tracer": name, "sampler": "always_on", "integrations": "",
        "exporters": f"sqlite:///{tmp_path}/face.db"}, environ={}))


@pytest.fixture(params=ENGINES)
def tracing(request, tmp_path):
    return _build(tmp_path, request.param)


def _trace_of(tracing, span):
    return tracing.span_context_of(span).trace_id


def test_every_engine_speaks_through_the_shared_face(tmp_path):
    """A newly registered engine cannot bring a parent rule of its own."""
    assert all(isinstance(_build(tmp_path, name).tracer, OpenTracingFace)
               for name in ENGINES)


def test_explicit_child_of_wins_over_the_active_span_and_references(tracing):
    """``child_of`` is the parent, whatever is active and whatever ``references`` say."""
    ot = tracing.tracer
    with ot.start_active_span("active") as active:
        chosen = ot.start_span("chosen", ignore_active_span=True)
        other = ot.start_span("other", ignore_active_span=True)
        child = ot.start_span("child", child_of=chosen,
                              references=[opentracing.child_of(other.context)])
        assert _trace_of(tracing, child) == _trace_of(tracing, chosen)
        assert _trace_of(tracing, chosen) != _trace_of(tracing, active.span)
        for span in (child, other, chosen):
            span.finish()


@pytest.mark.parametrize("reference", [opentracing.child_of, opentracing.follows_from])
def test_a_reference_wins_over_the_active_span(tracing, reference):
    """Without ``child_of``, the referenced context is the parent, not the active span."""
    ot = tracing.tracer
    with ot.start_active_span("active") as active:
        referenced = ot.start_span("referenced", ignore_active_span=True)
        child = ot.start_span("child", references=[reference(referenced.context)])
        assert _trace_of(tracing, child) == _trace_of(tracing, referenced)
        assert _trace_of(tracing, child) != _trace_of(tracing, active.span)
        child.finish()
        referenced.finish()


def test_a_child_of_reference_is_preferred_to_an_earlier_follows_from(tracing):
    """"The first SpanContext with Child Of type in the entire list is used as parent"."""
    ot = tracing.tracer
    earlier = ot.start_span("earlier")
    parent = ot.start_span("parent")
    child = ot.start_span("child", references=[opentracing.follows_from(earlier.context),
                                               opentracing.child_of(parent.context)])
    assert _trace_of(tracing, child) == _trace_of(tracing, parent)
    assert _trace_of(tracing, parent) != _trace_of(tracing, earlier)
    for span in (child, parent, earlier):
        span.finish()


def test_the_active_span_is_the_parent_when_nothing_is_given(tracing):
    ot = tracing.tracer
    with ot.start_active_span("active") as active:
        child = ot.start_span("child")
        assert _trace_of(tracing, child) == _trace_of(tracing, active.span)
        child.finish()


def test_ignore_active_span_starts_a_new_trace(tracing):
    ot = tracing.tracer
    with ot.start_active_span("active") as active:
        root = ot.start_span("root", ignore_active_span=True)
        assert _trace_of(tracing, root) != _trace_of(tracing, active.span)
        root.finish()


def test_start_active_span_activates_and_finish_on_close_finishes(tracing, monkeypatch):
    """The scope makes its span active, restores the previous one on close, and finishes
    the span only when ``finish_on_close`` asks for it."""
    ot = tracing.tracer
    finished = []
    span_class = type(ot.start_span("probe"))
    finish = span_class.finish

    def recording_finish(span, finish_time=None):
        finished.append(span)
        finish(span, finish_time)

    monkeypatch.setattr(span_class, "finish", recording_finish)
    with ot.start_active_span("kept", finish_on_close=False) as kept:
        assert ot.active_span is kept.span
        with ot.start_active_span("closed") as closed:
            assert ot.active_span is closed.span
            assert tracing.active_span() is closed.span
            assert _trace_of(tracing, closed.span) == _trace_of(tracing, kept.span)
        assert ot.active_span is kept.span
    assert ot.active_span is None
    assert finished == [closed.span]
    kept.span.finish()


def test_text_formats_round_trip_through_the_neutral_context(tracing):
    """inject then extract gives back the span's ids; ``BINARY`` is refused except by
    jaeger-client, whose codecs the jaeger engine keeps. The noop engine writes and reads
    nothing, as OpenTracing's no-op tracer."""
    ot = tracing.tracer
    span = ot.start_span("op")
    carrier: dict[str, str] = {}
    ot.inject(span.context, opentracing.Format.TEXT_MAP, carrier)
    if tracing.plugin.name == "noop":
        assert carrier == {}
        return
    extracted = ot.extract(opentracing.Format.HTTP_HEADERS, carrier)
    sent, received = tracing.span_context_of(span), tracing.span_context_of(extracted)
    assert (received.trace_id, received.span_id) == (sent.trace_id, sent.span_id)
    if tracing.plugin.name == "jaeger":
        assert "uber-trace-id" in carrier
    else:
        with pytest.raises(opentracing.UnsupportedFormatException):
            ot.inject(span.context, opentracing.Format.BINARY, bytearray())
    span.finish()


def test_a_carrier_without_context_extracts_as_each_engine_always_did(tracing):
    """The SDK engine answers as the OpenTelemetry shim (an invalid context), jaeger as
    jaeger-client (``None``); the default engine raises
    ``SpanContextCorruptedException``; noop returns OpenTracing's no-op."""
    ot = tracing.tracer
    name = tracing.plugin.name
    if name == "opentelemetry":
        with pytest.raises(opentracing.SpanContextCorruptedException):
            ot.extract(opentracing.Format.TEXT_MAP, {"traceparent": "garbage"})
    else:
        extracted = ot.extract(opentracing.Format.TEXT_MAP, {"traceparent": "garbage"})
        assert tracing.span_context_of(extracted) is None
