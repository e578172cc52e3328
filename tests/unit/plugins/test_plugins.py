"""Tracer engines load by name through stevedore and honour the neutral contract."""

from __future__ import annotations

import pytest

from tracing_middleware import tracer
from tracing_middleware.config import ConfigError, load_settings
from tracing_middleware.spancontext import Propagated, SpanContext

REMOTE = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, sampled=True)


def _setup(tmp_path, **conf):
    base = {"exporters": f"sqlite:///{tmp_path}/p.db", "integrations": ""}
    return tracer.setup(load_settings(None, {**base, **conf}, environ={}))


@pytest.mark.parametrize("name", ["opentelemetry", "opentelemetry-sdk", "jaeger", "noop"])
def test_each_engine_continues_a_remote_trace(tmp_path, name):
    """Every engine keeps the remote trace id and makes the remote span the parent."""
    tracing = _setup(tmp_path, tracer=name)
    assert tracing.plugin.name == name
    span = tracing.start_span("op", parent=Propagated(REMOTE, {"k": "v"}), kind="server")
    context = tracing.span_context_of(span)
    assert context.trace_id == REMOTE.trace_id
    assert context.span_id != REMOTE.span_id
    assert span.get_baggage_item("k") == "v"
    carrier: dict[str, str] = {}
    tracing.inject(carrier, span=span)
    assert carrier["traceparent"].startswith(f"00-{REMOTE.trace_id_hex}-{context.span_id_hex}")
    span.finish()


@pytest.mark.parametrize("name", ["opentelemetry", "opentelemetry-sdk", "jaeger"])
def test_forced_parent_is_sampled_even_when_policy_says_no(tmp_path, name):
    """A verified osprofiler signature overrides always_off."""
    tracing = _setup(tmp_path, tracer=name, sampler="always_off")
    forced = SpanContext(REMOTE.trace_id, REMOTE.span_id, sampled=True, forced=True)
    span = tracing.start_span("op", parent=forced, kind="server")
    assert tracing.is_recording(span)
    plain = tracing.start_span("op", parent=None, kind="server")
    assert not tracing.is_recording(plain)


def test_children_inherit_baggage_and_active_parent(tmp_path):
    """A span started under an active span is its child and inherits its baggage."""
    tracing = _setup(tmp_path)
    root = tracing.start_span("root", parent=Propagated(REMOTE, {"tenant": "t1"}))
    with tracing.activate(root, finish_on_close=True):
        child = tracing.start_span("child")
        assert child.get_baggage_item("tenant") == "t1"
        assert tracing.span_context_of(child).trace_id == REMOTE.trace_id
        child.finish()
    assert tracing.active_span() is None


def test_opentracing_api_works_through_the_tracer(tmp_path):
    """Code written against plain OpenTracing gets spans in the same trace."""
    tracing = _setup(tmp_path)
    ot = tracing.tracer
    with ot.start_active_span("outer") as scope:
        with ot.start_active_span("inner", tags={"span.kind": "client"}) as inner:
            outer_ctx = tracing.span_context_of(scope.span)
            inner_ctx = tracing.span_context_of(inner.span)
    assert outer_ctx.trace_id == inner_ctx.trace_id
    assert ot.active_span is None


def test_unknown_engine_is_a_config_error(tmp_path):
    """An engine name that no plugin provides is reported naming the option."""
    with pytest.raises(ConfigError, match="tracer = 'zipkin'"):
        _setup(tmp_path, tracer="zipkin")


def test_setup_is_shared_per_settings(tmp_path):
    """The same settings return the same engine (one tracer per process)."""
    assert _setup(tmp_path) is _setup(tmp_path)
