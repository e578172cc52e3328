"""TracedListener.wrap: which received messages get a proxy, and that none keeps its envelope."""

from __future__ import annotations

import types
from typing import Any

import pytest

from messaging_driver import envelope, incoming
from tracing_middleware import tracer
from tracing_middleware.config import load_settings

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"


class Received:
    """An ``IncomingMessage`` as a driver hands it to the listener callback."""

    def __init__(self, message: dict[str, Any], ctxt: dict[str, Any] | None = None) -> None:
        self.message = message
        self.ctxt = ctxt if ctxt is not None else {}
        self.replied = False

    def acknowledge(self) -> None:
        pass

    def reply(self, reply: Any = None, failure: Any = None) -> None:
        self.replied = True


@pytest.fixture
def listener(tmp_path):
    incoming._unfinished.clear()  # a server stopped by an earlier test may hold a message

    def build(**tracing: str) -> incoming.TracedListener:
        settings = load_settings(None, {"exporters": f"sqlite:///{tmp_path}/s.db",
                                        "sampler": "always_off", "integrations": "",
                                        **tracing}, environ={})
        inner = types.SimpleNamespace(batch_size=1, batch_timeout=None, prefetch_size=-1)
        return incoming.TracedListener(inner, tracer.setup(settings), rpc=True,
                                       system="fake", topic="t", service="")
    return build


def test_untraced_message_is_not_proxied(listener):
    """No envelope and nothing unfinished: the server gets the driver's own object."""
    received = Received({"method": "m", "args": {}})
    batch = [received]
    assert listener().wrap(batch) is batch
    assert batch[0] is received


@pytest.mark.parametrize("raw", ["garbage", {}, {"traceparent": 7}, {"k": "v" * 9000}])
def test_malformed_envelope_is_stripped_without_a_proxy(listener, raw):
    """An envelope we refuse still never reaches the dispatcher, and costs no proxy."""
    received = Received({"method": "m", envelope.KEY: raw})
    assert listener().wrap([received]) == [received]
    assert envelope.KEY not in received.message


def test_envelope_gets_a_proxy_and_is_stripped(listener):
    """A message carrying a context is proxied, so its span can be started and ended."""
    received = Received({"method": "m", envelope.KEY: {"traceparent": TRACEPARENT}})
    [wrapped] = listener().wrap([received])
    assert isinstance(wrapped, incoming.TracedIncoming)
    assert envelope.KEY not in received.message
    wrapped.acknowledge()
    wrapped.reply("ok")
    assert received.replied
    assert not incoming._unfinished


def test_every_message_is_proxied_while_an_earlier_one_is_unfinished(listener):
    """Until an earlier traced message has ended, a later untraced one gets the proxy
    that closes a scope the earlier one may leave open on the thread."""
    traced = listener()
    first = Received({"method": "m", envelope.KEY: {"traceparent": TRACEPARENT}})
    second = Received({"method": "m"})
    [wrapped_first, wrapped_second] = traced.wrap([first, second])
    assert isinstance(wrapped_second, incoming.TracedIncoming)
    wrapped_first.acknowledge()  # opens the scope; the server never replies
    wrapped_second.acknowledge()  # closes the leftover before its own endpoint runs
    assert tracer.get_tracing().active_span() is None
    wrapped_second.reply()
    assert not incoming._unfinished
    third = Received({"method": "m"})
    assert traced.wrap([third]) == [third]


@pytest.mark.parametrize(("hmac_keys", "proxied"), [("", False), ("k3y", True)])
def test_trace_info_needs_a_proxy_only_with_hmac_keys(listener, hmac_keys, proxied):
    """osprofiler ``trace_info`` can continue a trace only when we have keys to check it."""
    received = Received({"method": "m"}, {"trace_info": {"hmac_key": "k3y", "base_id": "b"}})
    [wrapped] = listener(hmac_keys=hmac_keys).wrap([received])
    assert isinstance(wrapped, incoming.TracedIncoming) is proxied
    if proxied:
        wrapped.acknowledge()
        wrapped.reply()


B3 = {"x-b3-traceid": "0af7651916cd43dd8448eb211c80319c", "x-b3-spanid": "b7ad6b7169203331",
      "x-b3-sampled": "1"}


@pytest.mark.parametrize(("propagators", "headers", "expected"), [
    # The envelope's own form, read whatever the HTTP edges are configured to speak.
    ("b3", {"traceparent": TRACEPARENT, "baggage": "tenant=t1"},
     (0x0AF7651916CD43DD8448EB211C80319C, False, {"tenant": "t1"})),
    ("tracecontext,baggage", {"traceparent": TRACEPARENT},
     (0x0AF7651916CD43DD8448EB211C80319C, False, {})),
    # Another form (a sender that injected every configured format) goes to the formats.
    ("b3multi", B3, (0x0AF7651916CD43DD8448EB211C80319C, True, {})),
    ("tracecontext", B3, None),
    # ``none``: no context is taken from outside, the bus included.
    ("none", {"traceparent": TRACEPARENT}, None),
    ("b3", {"traceparent": "00-00000000000000000000000000000000-b7ad6b7169203331-01"}, None),
])
def test_envelope_context(listener, propagators, headers, expected):
    traced = listener(propagators=propagators)
    found = incoming._propagated_from(traced.tracing, dict(headers), {})
    if expected is None:
        assert found.span_context is None
        return
    trace_id, sampled, baggage = expected
    assert (found.span_context.trace_id, found.span_context.sampled) == (trace_id, sampled)
    assert dict(found.baggage) == baggage


def test_envelope_round_trip_keeps_state_and_baggage():
    """What the sender writes is what the receiver reads back, tracestate and baggage too."""
    from tracing_middleware.spancontext import Propagated, SpanContext

    sent = Propagated(SpanContext(7, 9, True, False, (("vendor", "v1"), ("other", "x"))),
                      {"tenant": "t 1", "user": "ü"})
    headers = envelope.headers_for(sent)
    assert set(headers) == {"traceparent", "tracestate", "baggage"}
    got = envelope.propagated_from(envelope.pop_envelope({envelope.KEY: headers}))
    assert got.span_context == SpanContext(7, 9, True, True, sent.span_context.trace_state)
    assert dict(got.baggage) == sent.baggage
