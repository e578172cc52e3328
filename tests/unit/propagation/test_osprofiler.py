"""osprofiler's signed X-Trace-Info / X-Trace-HMAC, checked against unmodified upstream
osprofiler (``_utils.signed_pack``/``signed_unpack``, ``web.WsgiMiddleware``)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import webob
from osprofiler import _utils as osprofiler_utils
from osprofiler import profiler, web

from tracing_middleware.propagation.osprofiler import (
    OSProfilerPropagator,
    sign,
    trace_info_to_span_context,
    uuids_for,
)
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7
BASE_ID = str(uuid.UUID(int=TRACE_ID))
PARENT_ID = str(uuid.UUID(int=(0x1234 << 64) | SPAN_ID))


def _signed(data: dict, key: str) -> dict[str, str]:
    info, signature = osprofiler_utils.signed_pack(data, key)
    return {"X-Trace-Info": info.decode(), "X-Trace-HMAC": signature}


def _inject(context: SpanContext, keys=("secret",)) -> dict[str, str]:
    carrier: dict[str, str] = {}
    OSProfilerPropagator(keys).inject(carrier, Propagated(context))
    return carrier


@pytest.fixture
def upstream_profiler():
    """osprofiler keeps its profiler in a thread-local; leave none behind."""
    profiler.clean()
    yield profiler
    profiler.clean()


# -- extract ----------------------------------------------------------------------------


def test_signed_headers_give_a_forced_context():
    """A valid signature: trace id = base id, span id = parent id's low 64 bits, forced."""
    headers = _signed({"base_id": BASE_ID, "parent_id": PARENT_ID}, "secret")
    ctx = OSProfilerPropagator(["other", "secret"]).extract(headers).span_context
    assert (ctx.trace_id, ctx.span_id, ctx.sampled, ctx.forced, ctx.remote) == (
        TRACE_ID, SPAN_ID, True, True, True)


def test_upstream_get_trace_id_headers_are_accepted(upstream_profiler):
    """Headers from osprofiler's own web.get_trace_id_headers() continue its trace."""
    profiler.init("secret", base_id=BASE_ID, parent_id=PARENT_ID)
    headers = web.get_trace_id_headers()
    assert set(headers) == {"X-Trace-Info", "X-Trace-HMAC"}
    ctx = OSProfilerPropagator(["secret"]).extract(headers).span_context
    assert (ctx.trace_id, ctx.span_id, ctx.forced) == (TRACE_ID, SPAN_ID, True)
    assert ctx.span_id == osprofiler_utils.shorten_id(profiler.get().get_id())


def test_upstream_headers_of_a_fresh_trace_are_accepted(upstream_profiler):
    """A trace osprofiler started itself (random uuid4 ids) maps the same way."""
    profiler.init("secret")
    with profiler.Trace("client-call"):
        headers = web.get_trace_id_headers()
        current = profiler.get()
        base, point = current.get_base_id(), current.get_id()
    ctx = OSProfilerPropagator(["secret"]).extract(headers).span_context
    assert ctx.trace_id == uuid.UUID(base).int
    assert ctx.span_id == osprofiler_utils.shorten_id(point)


@pytest.mark.parametrize("headers", [
    pytest.param(_signed({"base_id": BASE_ID, "parent_id": PARENT_ID}, "attacker"),
                 id="wrong-key"),
    pytest.param({"X-Trace-Info": _signed({"base_id": BASE_ID}, "secret")["X-Trace-Info"]},
                 id="no-signature"),
    pytest.param({**_signed({"base_id": BASE_ID}, "secret"), "X-Trace-HMAC": "0" * 40},
                 id="bad-signature"),
    pytest.param({**_signed({"base_id": BASE_ID}, "secret"), "X-Trace-HMAC": ""},
                 id="empty-signature"),
    pytest.param({**_signed({"base_id": BASE_ID}, "secret"), "X-Trace-HMAC": "\u00e9" * 40},
                 id="non-ascii-signature"),
    pytest.param(_signed({"base_id": "not-a-uuid", "parent_id": PARENT_ID}, "secret"),
                 id="bad-base-id"),
    pytest.param(_signed({"base_id": BASE_ID, "parent_id": 7}, "secret"), id="int-parent"),
    pytest.param(_signed({"parent_id": PARENT_ID}, "secret"), id="no-base-id"),
    pytest.param(_signed({"base_id": BASE_ID, "parent_id": PARENT_ID, "x": 1}, "secret"),
                 id="extra-key-upstream-rejects"),
    pytest.param(_signed({"base_id": str(uuid.UUID(int=0))}, "secret"), id="zero-base-id"),
    pytest.param(_signed([BASE_ID], "secret"), id="not-a-dict"),
])
def test_anything_but_a_valid_signed_payload_is_like_no_header(headers):
    """A wrong, missing or unverifiable signature, or a payload upstream would reject,
    behaves exactly like no header."""
    before = EMPTY.with_baggage({"k": "v"})
    assert OSProfilerPropagator(["secret"]).extract(headers, before) is before


def test_signed_garbage_payload_is_ignored():
    """A correctly signed value that is not base64 JSON gives no context, no exception."""
    data = b"!!!not base64 json!!!"
    headers = {"X-Trace-Info": data.decode(), "X-Trace-HMAC": sign(data, "secret")}
    assert OSProfilerPropagator(["secret"]).extract(headers) == EMPTY


def test_missing_parent_id_means_the_base_id():
    """Upstream _Profiler uses ``parent_id or base_id``; so do we."""
    headers = _signed({"base_id": BASE_ID}, "secret")
    ctx = OSProfilerPropagator(["secret"]).extract(headers).span_context
    assert (ctx.trace_id, ctx.span_id) == (TRACE_ID, TRACE_ID & ((1 << 64) - 1))


def test_no_keys_means_inert():
    """Without hmac_keys nothing is trusted (as upstream: no key, no trace) or written."""
    headers = _signed({"base_id": BASE_ID, "parent_id": PARENT_ID}, "secret")
    assert OSProfilerPropagator([]).extract(headers) == EMPTY
    assert _inject(SpanContext(TRACE_ID, SPAN_ID, True), keys=()) == {}


def test_keys_must_be_a_sequence_of_strings():
    """A single string of keys is a config error, not 6 one-letter keys."""
    with pytest.raises(TypeError):
        OSProfilerPropagator("secret")


# -- inject -----------------------------------------------------------------------------


def test_our_headers_pass_upstream_signed_unpack():
    """Unmodified osprofiler's signed_unpack accepts what we send, with the mapped ids."""
    carrier = _inject(SpanContext(TRACE_ID, SPAN_ID, True), keys=("secret", "old"))
    data = osprofiler_utils.signed_unpack(carrier["X-Trace-Info"], carrier["X-Trace-HMAC"],
                                          ["secret"])
    assert data == {"base_id": BASE_ID, "parent_id": uuids_for(TRACE_ID, SPAN_ID)[1],
                    "hmac_key": "secret"}
    assert osprofiler_utils.shorten_id(data["parent_id"]) == SPAN_ID
    assert osprofiler_utils.uuid_to_int128(data["base_id"]) == TRACE_ID


def test_our_headers_pass_upstream_wsgi_middleware(upstream_profiler):
    """osprofiler's WsgiMiddleware continues our trace: same base id, our span as parent."""
    seen = {}

    def app(environ, start_response):
        current = profiler.get()
        seen.update(base=current.get_base_id(), parent=current.get_parent_id())
        start_response("200 OK", [])
        return [b""]

    carrier = _inject(SpanContext(TRACE_ID, SPAN_ID, True))
    middleware = web.WsgiMiddleware(app, hmac_keys="secret", enabled=True)
    saved = web._ENABLED, web._HMAC_KEYS
    web._ENABLED = web._HMAC_KEYS = None  # use this instance's settings, not globals
    try:
        webob.Request.blank("/", headers=carrier).get_response(middleware)
    finally:
        web._ENABLED, web._HMAC_KEYS = saved
    assert uuid.UUID(seen["base"]).int == TRACE_ID
    assert osprofiler_utils.shorten_id(seen["parent"]) == SPAN_ID


def test_hmac_key_is_never_written():
    """The key stays secret: it appears in no header, raw or decoded."""
    carrier = _inject(SpanContext(TRACE_ID, SPAN_ID, True), keys=("s3cr3t-key",))
    payload = json.loads(base64.urlsafe_b64decode(carrier["X-Trace-Info"]))
    assert set(payload) == {"base_id", "parent_id"}
    assert "s3cr3t-key" not in repr(carrier) + repr(payload)


def test_parent_id_keeps_the_trace_ids_high_bits():
    """Outgoing parent id: trace id's high 64 bits then the span id (deterministic)."""
    base_id, parent_id = uuids_for(TRACE_ID, SPAN_ID)
    assert base_id == BASE_ID
    assert uuid.UUID(parent_id).int == (TRACE_ID >> 64 << 64) | SPAN_ID


@pytest.mark.parametrize("context", [
    SpanContext(TRACE_ID, SPAN_ID, False), SpanContext(TRACE_ID, SPAN_ID, None),
    SpanContext(0, SPAN_ID, True),
])
def test_unsampled_or_invalid_context_is_not_injected(context):
    """osprofiler has no unsampled form: only sampled (or forced) traces are sent."""
    assert _inject(context) == {}


def test_forced_context_is_injected():
    """A forced context goes out even when the sampled flag is unset."""
    assert set(_inject(SpanContext(TRACE_ID, SPAN_ID, None, forced=True))) == {
        "X-Trace-Info", "X-Trace-HMAC"}


# -- RPC trace_info ---------------------------------------------------------------------


def test_trace_info_with_our_key_is_accepted():
    """nova/cinder serializers put {hmac_key, base_id, parent_id} in the RPC context."""
    ctx = trace_info_to_span_context(
        {"hmac_key": "secret", "base_id": BASE_ID, "parent_id": PARENT_ID}, ["x", "secret"])
    assert (ctx.trace_id, ctx.span_id, ctx.forced, ctx.sampled) == (
        TRACE_ID, SPAN_ID, True, True)


@pytest.mark.parametrize(("trace_info", "keys"), [
    ({"hmac_key": "other", "base_id": BASE_ID, "parent_id": PARENT_ID}, ["secret"]),
    ({"base_id": BASE_ID, "parent_id": PARENT_ID}, ["secret"]),
    ({"hmac_key": "secret", "base_id": BASE_ID, "parent_id": PARENT_ID}, []),
    ({"hmac_key": 1, "base_id": BASE_ID}, ["secret"]),
    ({"hmac_key": "secret", "base_id": "nope"}, ["secret"]),
    ("not a mapping", ["secret"]),
    (None, ["secret"]),
])
def test_trace_info_without_our_key_is_ignored(trace_info, keys):
    """The message bus is shared: a trace_info is trusted only with one of our keys."""
    assert trace_info_to_span_context(trace_info, keys) is None


def test_trace_info_round_trips_upstream_serializer_shape(upstream_profiler):
    """What nova's ProfilerRequestContextSerializer builds from a live profiler maps back."""
    profiler.init("secret", base_id=BASE_ID, parent_id=PARENT_ID)
    current = profiler.get()
    trace_info = {"hmac_key": current.hmac_key, "base_id": current.get_base_id(),
                  "parent_id": current.get_id()}
    ctx = trace_info_to_span_context(trace_info, ["secret"])
    assert (ctx.trace_id, ctx.span_id) == (TRACE_ID, SPAN_ID)
