"""The trace in a request context, for peers that read it there: refreshed by default,
written everywhere only when asked, and never in the caller's own dict."""

from __future__ import annotations

import pytest

from messaging_driver.envelope import with_context_fields

OURS = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "ours=1"}
THEIRS = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"


def test_a_peers_traceparent_is_replaced_in_a_copy():
    ctxt = {"request_id": "req-1", "traceparent": THEIRS}
    refreshed = with_context_fields(ctxt, OURS, add=False)
    assert refreshed == {"request_id": "req-1", "traceparent": OURS["traceparent"]}
    assert ctxt == {"request_id": "req-1", "traceparent": THEIRS}  # the caller's dict


def test_tracestate_is_replaced_only_where_a_peer_wrote_one():
    ctxt = {"traceparent": THEIRS, "tracestate": "theirs=1"}
    assert with_context_fields(ctxt, OURS, add=False) == OURS


@pytest.mark.parametrize("ctxt", [{"request_id": "req-1"}, {}, None, "not a mapping"])
def test_without_a_peer_nothing_is_added_by_default(ctxt):
    """The rolling-upgrade promise: an untraced receiver sees the context it always saw."""
    assert with_context_fields(ctxt, OURS, add=False) is ctxt


def test_rpc_context_fields_writes_every_header():
    ctxt = {"request_id": "req-1"}
    assert with_context_fields(ctxt, OURS, add=True) == {"request_id": "req-1", **OURS}
    assert ctxt == {"request_id": "req-1"}
