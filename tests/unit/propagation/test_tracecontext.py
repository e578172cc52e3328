"""W3C Trace Context Level 1 (https://www.w3.org/TR/trace-context-1/): every MUST that applies
to a receiver and forwarder of ``traceparent`` / ``tracestate``."""

from __future__ import annotations

import pytest

from tracing_middleware.propagation.tracecontext import (
    MAX_TRACESTATE_LENGTH,
    TraceContextPropagator,
    format_tracestate,
    parse_tracestate,
)
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"
TP = TraceContextPropagator()


def _extract(traceparent, tracestate=None):
    headers = {"traceparent": traceparent}
    if tracestate is not None:
        headers["tracestate"] = tracestate
    return TP.extract(headers).span_context


def _inject(context: SpanContext) -> dict[str, str]:
    carrier: dict[str, str] = {}
    TP.inject(carrier, Propagated(context))
    return carrier


# -- traceparent ------------------------------------------------------------------------


def test_valid_traceparent_gives_a_remote_context():
    """3.2.2: version-traceid-parentid-flags; the parent is remote."""
    ctx = _extract(VALID)
    assert (ctx.trace_id_hex, ctx.span_id_hex, ctx.sampled, ctx.remote) == (
        TRACE, SPAN, True, True)


@pytest.mark.parametrize(("flags", "sampled"), [("00", False), ("01", True), ("02", False),
                                                ("03", True), ("ff", True), ("fe", False),
                                                ("0b", True), ("1a", False)])
def test_sampled_is_bit_zero_only(flags, sampled):
    """3.2.2.5: sampled is the least significant bit; unknown flag bits are ignored."""
    assert _extract(f"00-{TRACE}-{SPAN}-{flags}").sampled is sampled


@pytest.mark.parametrize("header", [
    pytest.param(f"00-{'0' * 32}-{SPAN}-01", id="zero-trace-id"),
    pytest.param(f"00-{TRACE}-{'0' * 16}-01", id="zero-parent-id"),
    pytest.param(f"ff-{TRACE}-{SPAN}-01", id="version-ff"),
    pytest.param(f"00-{TRACE.upper()}-{SPAN}-01", id="upper-trace-id"),
    pytest.param(f"00-{TRACE}-{SPAN.upper()}-01", id="upper-parent-id"),
    pytest.param(f"00-{TRACE}-{SPAN}-0A", id="upper-flags"),
    pytest.param(f"0A-{TRACE}-{SPAN}-01", id="upper-version"),
    pytest.param(f"00-{TRACE}-{SPAN}-01-extra", id="v00-extra-field"),
    pytest.param(f"00-{TRACE}-{SPAN}-01-", id="v00-trailing-dash"),
    pytest.param(f"00-{TRACE}-{SPAN}-011", id="v00-too-long"),
    pytest.param(f"0-{TRACE}-{SPAN}-01", id="short-version"),
    pytest.param(f"000-{TRACE}-{SPAN}-01", id="long-version"),
    pytest.param(f"00-{TRACE[:-1]}-{SPAN}-01", id="short-trace-id"),
    pytest.param(f"00-{TRACE}0-{SPAN}-01", id="long-trace-id"),
    pytest.param(f"00-{TRACE}-{SPAN[:-1]}-01", id="short-parent-id"),
    pytest.param(f"00-{TRACE}-{SPAN}-1", id="short-flags"),
    pytest.param(f"00_{TRACE}_{SPAN}_01", id="wrong-delimiter"),
    pytest.param(f"00-{TRACE[:-1]}g-{SPAN}-01", id="non-hex"),
    pytest.param(f"00-{TRACE}-{SPAN}-01\n", id="trailing-newline"),
    pytest.param(f"cc-{TRACE}-{SPAN}-01x", id="future-no-dash-after-flags"),
    pytest.param(f"cc-{TRACE}-{SPAN}-0", id="future-shorter-than-55"),
    pytest.param("", id="empty"),
])
def test_invalid_traceparent_is_ignored(header):
    """3.2.2 / 3.2.4: a traceparent that does not parse is ignored; the trace restarts."""
    assert _extract(header) is None


def test_version_ff_is_invalid():
    """3.2.2.1: "Version ff is invalid"."""
    assert _extract(f"ff-{TRACE}-{SPAN}-01-whatever") is None


def test_all_zero_trace_id_is_ignored():
    """3.2.2.3: "All bytes as zero ... is considered an invalid value"; MUST ignore."""
    result = TP.extract({"traceparent": f"00-{'0' * 32}-{SPAN}-01"})
    assert result == EMPTY


def test_all_zero_parent_id_is_ignored():
    """3.2.2.4: an all-zero parent-id is invalid; vendors MUST ignore the traceparent."""
    assert TP.extract({"traceparent": f"00-{TRACE}-{'0' * 16}-01"}) == EMPTY


def test_future_version_parses_the_known_fields():
    """3.2.4: a higher version is parsed with the 00 layout; extra fields after '-' allowed."""
    ctx = _extract(f"cc-{TRACE}-{SPAN}-01-what-the-future-holds")
    assert (ctx.trace_id_hex, ctx.span_id_hex, ctx.sampled) == (TRACE, SPAN, True)
    assert _extract(f"01-{TRACE}-{SPAN}-00").sampled is False


def test_future_version_is_forwarded_as_version_00():
    """3.2.4: the outgoing traceparent uses the version we support (00)."""
    carrier = _inject(_extract(f"cc-{TRACE}-{SPAN}-01-more"))
    assert carrier["traceparent"] == VALID


def test_optional_whitespace_around_the_value_is_ignored():
    """RFC 9110 OWS is not part of a header value (W3C test suite: traceparent OWS)."""
    assert _extract(f" \t{VALID} \t").trace_id_hex == TRACE


def test_duplicated_traceparent_restarts_the_trace():
    """Two traceparent headers are ambiguous (W3C test suite test_traceparent_duplicated)."""
    assert _extract([VALID, f"00-{'1' * 32}-{SPAN}-01"]) is None


def test_extract_keeps_existing_baggage():
    """Extraction fills in the span context and leaves the rest of ``propagated`` alone."""
    before = EMPTY.with_baggage({"k": "v"})
    result = TP.extract({"traceparent": VALID}, before)
    assert dict(result.baggage) == {"k": "v"} and result.span_context.trace_id_hex == TRACE


def test_invalid_traceparent_returns_propagated_unchanged():
    """Bad input returns exactly what was passed in."""
    before = Propagated(SpanContext(1, 2, True), {"k": "v"})
    assert TP.extract({"traceparent": "garbage", "tracestate": "a=1"}, before) is before


# -- tracestate -------------------------------------------------------------------------


def test_invalid_traceparent_discards_tracestate():
    """3.3: "If the vendor failed to parse traceparent, it MUST NOT attempt to parse
    tracestate"."""
    result = TP.extract({"traceparent": f"00-{'0' * 32}-{SPAN}-01", "tracestate": "a=1"})
    assert result == EMPTY


def test_tracestate_is_kept_in_order():
    """3.3.1: list-members keep their order (the left-most is the most recent)."""
    ctx = _extract(VALID, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
    assert ctx.trace_state == (("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE"))


def test_multiple_tracestate_headers_are_combined():
    """3.3.1: multiple tracestate headers MUST be combined as one list, in order."""
    ctx = _extract(VALID, ["congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7"])
    assert ctx.trace_state == (("congo", "t61rcWkgMzE"), ("rojo", "00f067aa0ba902b7"))


def test_empty_members_and_whitespace_are_ignored():
    """3.3.1.1: empty list-members and OWS around ',' are allowed and ignored."""
    ctx = _extract(VALID, " a=1 ,, \t,b=2\t, ")
    assert ctx.trace_state == (("a", "1"), ("b", "2"))


def test_empty_tracestate_keeps_the_traceparent():
    """An empty tracestate header is valid: no members, context kept."""
    ctx = _extract(VALID, "")
    assert ctx is not None and ctx.trace_state == ()


@pytest.mark.parametrize("state", [
    pytest.param("UPPER=1", id="uppercase-key"),
    pytest.param("a" * 257 + "=1", id="key-over-256"),
    pytest.param("@foo=1,bar=2", id="key-starts-with-at-sign"),
    pytest.param("a=" + "v" * 257, id="value-over-256"),
    pytest.param("a=b=c", id="value-with-equals"),
    pytest.param("a=", id="empty-value"),
    pytest.param("a=\x01", id="control-char"),
    pytest.param("a=caf\xe9", id="non-ascii-value"),
    pytest.param("a", id="no-equals"),
    pytest.param(",".join(f"k{i}=v" for i in range(33)), id="33-members"),
])
def test_invalid_tracestate_is_dropped_but_traceparent_kept(state):
    """3.3.1: an invalid tracestate is discarded whole; the traceparent still applies."""
    ctx = _extract(VALID, state)
    assert ctx is not None and ctx.trace_state == ()


@pytest.mark.parametrize("key", [
    "1a", "t" * 242 + "@v", "t@" + "v" * 15, "t@1v", "foo@", "foo@@bar", "foo@bar@baz",
    "t" * 241 + "@" + "v" * 14, "z" * 256,
])
def test_level_2_keys_are_kept(key):
    """Level 2's key grammar, ``( lcalpha / DIGIT ) 0*255 ( keychar )`` with "@" among the
    keychars: keys Level 1's tenant@system form refused are inherited."""
    assert _extract(VALID, [f"{key}=1", "bar=2"]).trace_state == ((key, "1"), ("bar", "2"))


@pytest.mark.parametrize("state", ["a=1,b=2,a=3", ["a=1,b=2", "a=3"]])
def test_a_duplicated_key_keeps_its_first_member(state):
    """3.5: vendors "MAY also discard duplicate keys that were not generated by them":
    the list is inherited with the first occurrence, so what is forwarded is valid."""
    assert _extract(VALID, state).trace_state == (("a", "1"), ("b", "2"))


def test_thirty_two_members_are_accepted():
    """3.3.1.1: "There can be a maximum of 32 list-members in a list"."""
    state = ",".join(f"k{i}=v" for i in range(32))
    assert len(_extract(VALID, state).trace_state) == 32


@pytest.mark.parametrize("key", ["a", "a" * 256, "a0_-*/", "t1@vendor", "0t@v", "t" * 241 + "@v",
                                 "t@" + "v" * 14, "t@v_-*/9"])
def test_valid_keys_are_accepted(key):
    """3.3.1.3.1: simple keys and multi-tenant tenant@system keys."""
    assert _extract(VALID, f"{key}=x").trace_state == ((key, "x"),)


@pytest.mark.parametrize("value", ["x", " x", "a b", "!~", "v" * 256])
def test_valid_values_are_accepted(value):
    """3.3.1.3.2: 0*255(chr) nblk-chr; spaces allowed except at the end."""
    assert _extract(VALID, f"k={value}").trace_state == (("k", value),)


def test_long_tracestate_is_truncated_long_entries_first():
    """3.3.1.5: beyond 512 characters, entries over 128 characters go first, then from the
    end."""
    long_entry = ("big", "x" * 200)
    short = [(f"k{i:02d}", "v" * 20) for i in range(25)]  # 25 * 24 chars + commas ~ 624
    state = ",".join(f"{k}={v}" for k, v in [short[0], long_entry, *short[1:]])
    kept = _extract(VALID, state).trace_state
    assert long_entry not in kept
    assert list(kept) == short[: len(kept)]
    assert len(format_tracestate(kept)) <= MAX_TRACESTATE_LENGTH
    one_more = ",".join(f"{k}={v}" for k, v in short[: len(kept) + 1])
    assert len(one_more) > MAX_TRACESTATE_LENGTH  # as many as fit were kept


def test_tracestate_within_512_characters_is_kept_whole():
    """3.3.1.5: vendors SHOULD propagate at least 512 characters."""
    state = ",".join(f"k{i:02d}={'v' * 11}" for i in range(32))  # 32*16 - 1 = 511
    assert len(state) <= MAX_TRACESTATE_LENGTH
    assert format_tracestate(_extract(VALID, state).trace_state) == state


def test_oversized_tracestate_is_dropped():
    """Bounded work: tracestate beyond MAX_HEADER_LENGTH is not parsed; context kept."""
    assert parse_tracestate(["a=" + "b" * 9000]) is None
    assert _extract(VALID, "a=" + "b" * 9000).trace_state == ()


# -- inject -----------------------------------------------------------------------------


def test_inject_writes_version_00_with_our_span_id():
    """3.2: outgoing traceparent is version 00 and carries the given span as parent-id."""
    ctx = SpanContext(int(TRACE, 16), 0x1234, True)
    assert _inject(ctx) == {"traceparent": f"00-{TRACE}-0000000000001234-01"}


@pytest.mark.parametrize(("sampled", "forced", "flags"), [
    (True, False, "01"), (False, False, "00"), (None, False, "00"), (False, True, "01"),
    (None, True, "01"),
])
def test_inject_flags(sampled, forced, flags):
    """3.2.2.5: the sampled bit; forced means sampled; a deferred decision has no W3C
    encoding and goes out as 00."""
    carrier = _inject(SpanContext(int(TRACE, 16), 1, sampled, forced=forced))
    assert carrier["traceparent"].endswith(f"-{flags}")


@pytest.mark.parametrize(("received", "forwarded"), [
    ("ff", "03"), ("fe", "02"), ("02", "02"), ("03", "03"), ("01", "01"), ("fd", "01"),
])
def test_only_the_sampled_and_random_flags_are_forwarded(received, forwarded):
    """3.2.2.5: Level 2 defines bit 0 (sampled) and bit 1 (random trace id); the other
    bits are reserved, and "Vendors MUST set those to zero"."""
    context = _extract(f"00-{TRACE}-{SPAN}-{received}")
    assert context.random is bool(int(forwarded, 16) & 2)
    assert _inject(context)["traceparent"] == f"00-{TRACE}-{SPAN}-{forwarded}"


def test_a_context_without_the_random_flag_never_claims_it():
    """Only a trace id known to be random carries the flag: formats without one (B3,
    Jaeger, osprofiler) continue without it."""
    assert _inject(SpanContext(int(TRACE, 16), int(SPAN, 16), True))["traceparent"] == VALID
    assert _inject(SpanContext(int(TRACE, 16), int(SPAN, 16), True, random=True)
                   )["traceparent"] == VALID[:-2] + "03"


def test_tracestate_is_forwarded_unchanged():
    """3.3: a vendor that does not update tracestate MUST propagate it as received."""
    state = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,t1@sys=a b"
    assert _inject(_extract(VALID, state))["tracestate"] == state


def test_inject_drops_invalid_local_members():
    """A locally built trace_state never puts an invalid member (say CR/LF) on the wire."""
    ctx = SpanContext(1, 1, True, trace_state=(("ok", "1"), ("bad", "x\r\ny: z"),
                                               ("BAD", "1"), ("ok", "2")))
    assert _inject(ctx)["tracestate"] == "ok=1"


def test_nothing_injected_without_a_valid_context():
    """No span context, or an invalid one: no header at all."""
    for propagated in (EMPTY, Propagated(SpanContext(0, 1, True)),
                       Propagated(SpanContext(1, 0, True)), Propagated(None, {"k": "v"})):
        carrier: dict[str, str] = {}
        TP.inject(carrier, propagated)
        assert carrier == {}


def test_no_tracestate_header_when_empty():
    """tracestate is only written when there is something in it."""
    assert "tracestate" not in _inject(SpanContext(1, 1, True))
