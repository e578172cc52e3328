"""The default engine's own behaviour: limits, events, errors, links and the store record."""

from __future__ import annotations

import opentracing
import pytest

from tracing_middleware import tracer
from tracing_middleware.config import load_settings
from tracing_middleware.plugins import opentelemetry as engine
from tracing_middleware.spancontext import Propagated, SpanContext
from tracing_middleware.testing import capture_spans

REMOTE = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0x00F067AA0BA902B7, sampled=True,
                     trace_state=(("rojo", "00f067aa0ba902b7"),))


@pytest.fixture(autouse=True)
def _reset():
    yield
    tracer.reset()


def test_default_engine_is_opentelemetry(tmp_path):
    tracing = tracer.setup(load_settings(None, {"exporters": f"sqlite:///{tmp_path}/t.db",
                                                "integrations": ""}, environ={}))
    assert isinstance(tracing.plugin, engine.OpenTelemetryPlugin)
    assert tracing.plugin.name == "opentelemetry"


def test_attributes_and_events_are_bounded_and_drops_counted():
    with capture_spans() as read:
        tracing = read.tracing
        span = tracing.start_span("op", parent=None)
        for i in range(engine.MAX_ATTRIBUTES + 10):
            span.set_tag(f"k{i}", i)
        span.set_tag("k0", "replaced")  # an existing key is always updated
        for i in range(engine.MAX_EVENTS + 5):
            span.log_kv({"event": f"e{i}"})
        span.set_tag("long", "x" * (engine.MAX_VALUE_LENGTH * 2))
        assert span.dropped_attributes == 11
        assert span.dropped_events == 5
        span.finish()
        (record,) = read()
    assert len(record.attributes) == engine.MAX_ATTRIBUTES
    assert record.attributes["k0"] == "replaced"
    assert len(record.events) == engine.MAX_EVENTS


def test_long_string_values_are_cut():
    with capture_spans() as read:
        span = read.tracing.start_span("op", parent=None, tags={"sql": "y" * 100_000})
        span.finish()
        (record,) = read()
    assert len(record.attributes["sql"]) == engine.MAX_VALUE_LENGTH


def test_set_error_records_an_exception_event_and_error_status():
    with capture_spans() as read:
        span = read.tracing.start_span("op", parent=None)
        try:
            raise ValueError("boom")
        except ValueError as exc:
            read.tracing.set_error(span, exc)
        span.finish()
        (record,) = read()
    assert record.status == "error"
    assert record.status_message == "ValueError: boom"
    (event,) = record.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert "raise ValueError" in event.attributes["exception.stacktrace"]


def test_finish_twice_exports_once_and_late_tags_are_ignored():
    with capture_spans() as read:
        span = read.tracing.start_span("op", parent=None)
        span.finish()
        span.set_tag("late", 1)
        span.finish()
        records = read()
    assert len(records) == 1
    assert "late" not in records[0].attributes


def test_opentracing_tags_map_to_kind_and_status_and_none_is_skipped():
    with capture_spans() as read:
        span = read.tracing.start_span("op", parent=None)
        span.set_tag("span.kind", "client").set_tag("error", True).set_tag("none", None)
        span.set_tag("list", [1, None, "a"])
        span.finish()
        (record,) = read()
    assert (record.kind, record.status) == ("client", "error")
    assert "none" not in record.attributes
    assert record.attributes["list"] == [1, "a"]


def test_remote_parent_tracestate_and_baggage_flow_to_children():
    with capture_spans() as read:
        tracing = read.tracing
        root = tracing.start_span("root", parent=Propagated(REMOTE, {"tenant": "t1"}),
                                  kind="server")
        with tracing.activate(root, finish_on_close=True):
            child = tracing.start_span("child")
            assert child.get_baggage_item("tenant") == "t1"
            carrier: dict[str, str] = {}
            tracing.inject(carrier, span=child)
            child.finish()
        records = {r.name: r for r in read()}
    assert carrier["tracestate"] == "rojo=00f067aa0ba902b7"
    assert "tenant=t1" in carrier["baggage"]
    assert records["root"].parent_span_id == REMOTE.span_id_hex
    assert records["child"].parent_span_id == records["root"].span_id
    assert records["child"].trace_id == REMOTE.trace_id_hex


def test_unsampled_spans_carry_context_but_record_nothing():
    with capture_spans(sampler="always_off") as read:
        tracing = read.tracing
        span = tracing.start_span("op", parent=Propagated(REMOTE.__class__(
            REMOTE.trace_id, REMOTE.span_id, sampled=False), {"k": "v"}))
        assert not tracing.is_recording(span)
        span.set_tag("a", 1).log_kv({"event": "x"})
        carrier: dict[str, str] = {}
        tracing.inject(carrier, span=span)
        span.finish()
        assert read() == []
    assert carrier["traceparent"].endswith("-00")
    assert carrier["traceparent"].split("-")[1] == REMOTE.trace_id_hex


def test_opentracing_tracer_api_with_references_and_text_map():
    """Code holding the OpenTracing tracer gets children, links and W3C inject/extract."""
    with capture_spans() as read:
        ot = read.tracing.tracer
        with ot.start_active_span("parent") as scope:
            other = ot.start_span("other", ignore_active_span=True)
            child = ot.start_span("child", references=[
                opentracing.child_of(scope.span.context),
                opentracing.follows_from(other.context)])
            carrier: dict[str, str] = {}
            ot.inject(child.context, opentracing.Format.TEXT_MAP, carrier)
            extracted = ot.extract(opentracing.Format.TEXT_MAP, carrier)
            assert extracted.span_id == child.context.span_id
            assert child.links == [(other.context.trace_id, other.context.span_id, True)]
            child.finish()
            other.finish()
        records = {r.name: r for r in read()}
    assert records["child"].parent_span_id == records["parent"].span_id
    with pytest.raises(opentracing.UnsupportedFormatException):
        ot.inject(child.context, opentracing.Format.BINARY, bytearray())
    with pytest.raises(opentracing.SpanContextCorruptedException):
        ot.extract(opentracing.Format.HTTP_HEADERS, {"traceparent": "garbage"})


def test_resource_names_the_service_and_the_sdk(tmp_path):
    tracing = tracer.setup(load_settings(None, {
        "exporters": f"sqlite:///{tmp_path}/t.db", "integrations": "",
        "service_name": "nova-api", "resource_attributes": "deployment.environment:prod"},
        environ={}))
    resource = tracing.plugin.resource
    assert resource["service.name"] == "nova-api"
    assert resource["deployment.environment"] == "prod"
    assert resource["telemetry.sdk.name"] == "os-tracing"


def test_console_exporter_writes_one_json_line_per_span(capsys):
    import json

    tracing = tracer.setup(load_settings(None, {"exporters": "console://", "integrations": "",
                                                "sampler": "always_on",
                                                "service_name": "svc"}, environ={}))
    tracing.start_span("op", parent=None, tags={"a": 1}).finish()
    assert tracing.force_flush(5)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["name"], line["service"], line["attributes"]) == ("op", "svc", {"a": 1})


def test_exporter_scheme_of_another_engine_is_refused_naming_the_option(tmp_path):
    from tracing_middleware.config import ConfigError

    with pytest.raises(ConfigError, match=r"exporters = 'jaeger\+udp://127.0.0.1:6831'"):
        tracer.setup(load_settings(None, {"exporters": "jaeger+udp://127.0.0.1:6831",
                                          "integrations": ""}, environ={}))


@pytest.mark.parametrize(("propagators", "environ", "baggage"), [
    ("tracecontext,baggage", {"HTTP_BAGGAGE": "tenant=t1"}, {"tenant": "t1"}),
    ("b3", {"HTTP_B3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"}, {}),
    ("jaeger", {"HTTP_UBERCTX_TENANT": "t1"}, {"tenant": "t1"}),
])
def test_environ_probe_never_hides_a_header_a_format_reads(tmp_path, propagators, environ,
                                                           baggage):
    """The no-trace-header shortcut in front of extraction finds every format's headers,
    including Jaeger baggage-only headers whose names are open-ended."""
    from tracing_middleware.spancontext import EMPTY

    tracing = tracer.setup(load_settings(None, {
        "exporters": f"sqlite:///{tmp_path}/t.db", "integrations": "",
        "propagators": propagators}, environ={}))
    assert tracing.extract_environ({"REQUEST_METHOD": "GET"}) is EMPTY
    found = tracing.extract_environ({"REQUEST_METHOD": "GET", **environ})
    assert dict(found.baggage) == baggage
    if propagators == "b3":
        assert found.span_context.trace_id_hex == "80f198ee56343ba864fe8b2a57d3eff7"


class _Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_hostile_tags_and_times_never_raise_into_the_caller():
    """What callers pass through the OpenTracing API costs at most that item."""
    with capture_spans() as read:
        span = read.tracing.start_span("op", parent=None, tags={"bad": _Hostile(), 7: "x"})
        span.set_tag("bad2", _Hostile()).set_tag(8, "y")
        span.set_tag("many", list(range(5000)))
        span.log_kv({"event": "e", "v": _Hostile()}, timestamp="not a time")
        span.set_operation_name("n" * 100_000)
        span.finish(finish_time=object())
        read.tracing.start_span("m" * 100_000, parent=None).finish()
        long_named, record = sorted(read(), key=lambda r: r.name)  # "mmm..." < "nnn..."
    assert len(long_named.name) == engine.MAX_VALUE_LENGTH
    assert "bad" not in record.attributes and "bad2" not in record.attributes
    assert (record.attributes["7"], record.attributes["8"]) == ("x", "y")
    assert len(record.attributes["many"]) == engine.MAX_SEQUENCE_LENGTH
    assert len(record.name) == engine.MAX_VALUE_LENGTH
    assert record.events[0].name == "e" and "v" not in record.events[0].attributes


@pytest.mark.allow_swallowed
def test_a_span_that_cannot_be_encoded_costs_its_batch_not_the_queue():
    """A bug that makes a span unencodable must not wedge export: the batch is dropped
    (retrying could never succeed) and the next spans still reach the collector."""
    from tracing_middleware.testing import OTLPReceiver

    with OTLPReceiver() as receiver:
        tracing = tracer.setup(load_settings(None, {
            "exporters": receiver.endpoint, "integrations": "", "sampler": "always_on"},
            environ={}))
        broken = tracing.start_span("broken", parent=None)
        broken.attributes[3] = "int key, as only a bug could put there"
        broken.finish()
        assert tracing.force_flush(5)
        assert tracing.plugin.unencodable_batches == 1
        tracing.start_span("fine", parent=None).finish()
        assert tracing.force_flush(5)
        assert [s.name for s in receiver.take(1)] == ["fine"]


def test_opentelemetry_span_limit_variables_are_honoured(monkeypatch, caplog):
    """OTEL_SPAN_*_LIMIT work as with the SDK; a bad value keeps the default, said once."""
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3")
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "lots")
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5")
    try:
        with capture_spans() as read:
            span = read.tracing.start_span("op", parent=None,
                                           tags={"a": "abcdefgh", "b": 1, "c": 2, "d": 3})
            for i in range(200):
                span.log_kv({"event": f"e{i}"})
            span.finish()
            (record,) = read()
        assert record.attributes == {"a": "abcde", "b": 1, "c": 2}
        assert len(record.events) == 128
        assert [r.getMessage() for r in caplog.records if "LIMIT" in r.getMessage()] == [
            "os-tracing: OTEL_SPAN_EVENT_COUNT_LIMIT = 'lots' is not a non-negative "
            "integer; using 128"]
    finally:
        engine.apply_span_limits({})
    assert engine.MAX_ATTRIBUTES == 128 and engine.MAX_VALUE_LENGTH == 8192


def test_check_config_reports_a_bad_span_limit_variable(monkeypatch, tmp_path):
    from tracing_middleware.cmd.check_config import check

    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-1")
    conf = tmp_path / "svc.conf"
    conf.write_text("[tracing]\nexporters = console://\n")
    problems = check([str(conf)])
    assert problems == ["environment: OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT = '-1' is not a "
                        "non-negative integer; using 128"]
