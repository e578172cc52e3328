"""What the engines carry on for W3C Trace Context Level 2 and consistent sampling: the
random flag on traces they start (and on those whose caller set it), and the ``ot``
threshold the ratio sampler decided with."""

from __future__ import annotations

import pytest

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.spancontext import Propagated, SpanContext

#: Engines that carry W3C tracestate (jaeger-client's contexts have no tracestate).
TRACESTATE_ENGINES = ["opentelemetry", "opentelemetry-sdk"]
HIGH = (1 << 56) - 1  # randomness every ratio above 0 keeps


def _tracing(tmp_path, engine, **conf):
    return tracer.setup(load_settings(None, {
        "tracer": engine, "integrations": "", "exporters": f"sqlite:///{tmp_path}/l2.db",
        **conf}, environ={}))


@pytest.mark.parametrize("engine", [*TRACESTATE_ENGINES, "noop"])
def test_traces_we_start_are_flagged_random_and_children_keep_it(tmp_path, engine):
    tracing = _tracing(tmp_path, engine, sampler="always_on")
    root = tracing.start_span("root", parent=None)
    child = tracing.start_span("child", parent=root)
    assert tracing.span_context_of(root).random and tracing.span_context_of(child).random


@pytest.mark.parametrize("engine", [*TRACESTATE_ENGINES, "noop"])
@pytest.mark.parametrize("random", [True, False])
def test_a_callers_random_flag_is_carried_on_as_received(tmp_path, engine, random):
    """Set by the caller: kept. Not set (a Level 1 or B3 caller): never claimed."""
    tracing = _tracing(tmp_path, engine, sampler="parentbased_always_on")
    parent = SpanContext(0xABC, 0xDEF, True, random=random)
    span = tracing.start_span("server", parent=Propagated(parent), kind="server")
    assert tracing.span_context_of(span).random is random
    carrier: dict[str, str] = {}
    tracing.inject(carrier, span=span)
    assert carrier["traceparent"].endswith("-03" if random else "-01")


@pytest.mark.parametrize("engine", TRACESTATE_ENGINES)
def test_a_sampled_span_carries_its_threshold_and_an_unsampled_one_none(tmp_path, engine):
    """traceidratio at 0.25 (threshold 0xc0000000000000): a kept span says ``ot=th:c``
    in the tracestate it hands on; a dropped one keeps the caller's other members only."""
    tracing = _tracing(tmp_path, engine, sampler="traceidratio", sampler_arg="0.25")
    kept = SpanContext(HIGH, 0xDEF, None, trace_state=(("vendor", "1"),), random=True)
    dropped = kept._replace(trace_id=1 << 64, trace_state=(("vendor", "1"),
                                                           ("ot", "th:8")))
    span = tracing.start_span("kept", parent=Propagated(kept), kind="server")
    assert tracing.is_recording(span)
    assert tracing.span_context_of(span).trace_state == (("ot", "th:c"), ("vendor", "1"))
    carrier: dict[str, str] = {}
    tracing.inject(carrier, span=span)
    assert carrier["tracestate"] == "ot=th:c,vendor=1"
    span.finish()
    span = tracing.start_span("dropped", parent=Propagated(dropped), kind="server")
    assert not tracing.is_recording(span)
    assert tracing.span_context_of(span).trace_state == (("vendor", "1"),)
    root = tracing.start_span("root", parent=None)
    state = dict(tracing.span_context_of(root).trace_state)
    assert state.get("ot") == ("th:c" if tracing.is_recording(root) else None)
