"""The hand-written OTLP encoder, checked by parsing its output with the official classes."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracing_middleware.export.otlp_proto import encode_request, encode_resource


class FakeSpan:
    """Stands in for OpenTelemetrySpan: the encoder reads plain attributes only."""

    def __init__(self, **fields):
        self.trace_id = 0x0AF7651916CD43DD8448EB211C80319C
        self.span_id = 0xB7AD6B7169203331
        self.parent_id = 0
        self.parent_remote = False
        self.trace_state = ()
        self.name = "op"
        self.kind = 1
        self.start_ns = 1_700_000_000_000_000_000
        self.end_ns = 1_700_000_000_123_456_789
        self.attributes = {}
        self.dropped_attributes = 0
        self.events = None
        self.dropped_events = 0
        self.links = None
        self.status_code = 0
        self.status_message = ""
        self.__dict__.update(fields)


RESOURCE = encode_resource({"service.name": "nova-api", "telemetry.sdk.language": "python"},
                           "os-tracing", "1.2.3")


def _parse(*spans):
    request = ExportTraceServiceRequest()
    request.ParseFromString(encode_request(spans, RESOURCE))
    return request


def _value(any_value):
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, which)


def test_every_span_field_round_trips():
    """Ids, names, kind, times, parent, tracestate, status, events, links and flags."""
    span = FakeSpan(
        parent_id=0x00F067AA0BA902B7, parent_remote=True,
        trace_state=(("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")),
        name="GET /v2.1/servers", kind=2,
        attributes={"http.request.method": "GET", "http.response.status_code": 200,
                    "ok": True, "ratio": 0.25, "ids": ("a", "b"), "neg": -5},
        dropped_attributes=3, events=[("exception", 1_700_000_000_100_000_000,
                                       {"exception.type": "ValueError"})],
        dropped_events=1, links=[(0x1234, 0x5678, True)], status_code=2,
        status_message="ValueError: bad")
    request = _parse(span)
    resource_spans = request.resource_spans[0]
    assert {a.key: _value(a.value) for a in resource_spans.resource.attributes} == {
        "service.name": "nova-api", "telemetry.sdk.language": "python"}
    scope = resource_spans.scope_spans[0]
    assert (scope.scope.name, scope.scope.version) == ("os-tracing", "1.2.3")
    got = scope.spans[0]
    assert got.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert got.span_id.hex() == "b7ad6b7169203331"
    assert got.parent_span_id.hex() == "00f067aa0ba902b7"
    assert got.trace_state == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    assert (got.name, got.kind) == ("GET /v2.1/servers", 2)
    assert (got.start_time_unix_nano, got.end_time_unix_nano) == (span.start_ns, span.end_ns)
    assert {a.key: _value(a.value) for a in got.attributes} == {
        "http.request.method": "GET", "http.response.status_code": 200, "ok": True,
        "ratio": 0.25, "ids": ["a", "b"], "neg": -5}
    assert got.dropped_attributes_count == 3
    assert [(e.name, e.time_unix_nano) for e in got.events] == [
        ("exception", 1_700_000_000_100_000_000)]
    assert got.events[0].attributes[0].value.string_value == "ValueError"
    assert got.dropped_events_count == 1
    assert (got.links[0].trace_id.hex(), got.links[0].span_id.hex()) == (
        "00000000000000000000000000001234", "0000000000005678")
    assert (got.status.code, got.status.message) == (2, "ValueError: bad")
    assert got.flags == 0x301  # sampled, is_remote known, parent is remote


def test_local_parent_flags_and_unset_status():
    got = _parse(FakeSpan(parent_id=7)).resource_spans[0].scope_spans[0].spans[0]
    assert got.flags == 0x101
    assert got.status.code == 0
    assert not got.HasField("status")


def test_many_spans_in_one_request_keep_their_order():
    spans = [FakeSpan(span_id=i + 1, name=f"s{i}") for i in range(300)]
    got = _parse(*spans).resource_spans[0].scope_spans[0].spans
    assert [s.name for s in got] == [f"s{i}" for i in range(300)]


def test_values_protobuf_cannot_carry_are_written_as_strings():
    """Ints beyond int64 and arbitrary objects become strings, never a broken message."""
    import enum

    class Colour(enum.IntEnum):
        RED = 1

    got = _parse(FakeSpan(attributes={"big": 1 << 70, "obj": object(), "enum": Colour.RED,
                                      "nested": [[1, 2], "x"]}))
    attrs = {a.key: _value(a.value) for a in got.resource_spans[0].scope_spans[0].spans[0]
             .attributes}
    assert attrs["big"] == str(1 << 70)
    assert attrs["obj"].startswith("<object object")
    assert attrs["enum"] == 1
    assert attrs["nested"] == [[1, 2], "x"]


_scalars = st.one_of(st.text(max_size=300), st.booleans(),
                     st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
                     st.floats(allow_nan=False))
_values = st.one_of(_scalars, st.lists(_scalars, max_size=5))


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=500),
       attributes=st.dictionaries(st.text(max_size=40), _values, max_size=12),
       kind=st.integers(min_value=0, max_value=5),
       start=st.integers(min_value=0, max_value=(1 << 64) - 1),
       trace_id=st.integers(min_value=1, max_value=(1 << 128) - 1),
       span_id=st.integers(min_value=1, max_value=(1 << 64) - 1))
def test_any_span_the_engine_can_hold_parses_back_identically(name, attributes, kind, start,
                                                             trace_id, span_id):
    span = FakeSpan(name=name, attributes=attributes, kind=kind, start_ns=start,
                    end_ns=start, trace_id=trace_id, span_id=span_id)
    got = _parse(span).resource_spans[0].scope_spans[0].spans[0]
    assert got.name == name.encode("utf-8", "replace").decode("utf-8")
    assert int.from_bytes(got.trace_id, "big") == trace_id
    assert int.from_bytes(got.span_id, "big") == span_id
    assert (got.kind, got.start_time_unix_nano) == (kind, start)
    decoded = {a.key: _value(a.value) for a in got.attributes}
    assert decoded.keys() == attributes.keys()
    for key, value in attributes.items():
        expected = list(value) if isinstance(value, list) else value
        if isinstance(value, float) and math.isinf(value):
            assert decoded[key] == value
        else:
            assert decoded[key] == expected
