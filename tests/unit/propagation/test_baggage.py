"""W3C Baggage (https://www.w3.org/TR/baggage/): grammar, percent-encoding and limits."""

from __future__ import annotations

import pytest

from tracing_middleware.propagation.baggage import (
    MAX_BYTES,
    MAX_MEMBERS,
    BaggagePropagator,
    format_baggage,
)
from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

BP = BaggagePropagator()


def _extract(*values: str) -> dict[str, str]:
    return dict(BP.extract({"baggage": list(values)}).baggage)


def _inject(baggage, context=None) -> dict[str, str]:
    carrier: dict[str, str] = {}
    BP.inject(carrier, Propagated(context, baggage))
    return carrier


def test_members_and_percent_decoding():
    """3.2.1: key=value list-members; values are percent-decoded."""
    assert _extract("userId=alice,serverNode=DF%2028,isProduction=false") == {
        "userId": "alice", "serverNode": "DF 28", "isProduction": "false"}


def test_properties_are_accepted_and_dropped():
    """3.2.1: properties follow ';' and do not change the value."""
    assert _extract("k1=v1;prop1=x;flag, k2 = v2 ;p") == {"k1": "v1", "k2": "v2"}


def test_optional_whitespace_is_ignored():
    """3.2.1: OWS around ',', '=' and ';' is not part of keys or values."""
    assert _extract(" \tk = v \t, j=w ") == {"k": "v", "j": "w"}


@pytest.mark.parametrize("member", [
    "bad key=x", "=novalue", "novalue", "k=v v", 'k="v"', "k=v\\", "k=caf\u00e9",
    "k=v;bad prop", "k=v;p=bad value", "k(=v",
])
def test_invalid_members_are_skipped(member):
    """3.2.1: a member that does not match the grammar is skipped; the others are kept."""
    assert _extract(f"a=1,{member},b=2") == {"a": "1", "b": "2"}


def test_empty_value_is_allowed():
    """3.2.1.2: value = *baggage-octet, so it may be empty."""
    assert _extract("k=") == {"k": ""}


def test_invalid_utf8_is_replaced():
    """3.2.1.2: percent-encoded octets that are not UTF-8 "MUST be replaced with the
    replacement code point"."""
    assert _extract("k=a%FFb") == {"k": "a\ufffdb"}


def test_plus_decodes_as_space_like_opentelemetry():
    """OpenTelemetry's SDKs encode a space as '+'; decoding the same way round-trips."""
    assert _extract("k=a+b") == {"k": "a b"}


def test_multiple_headers_are_combined():
    """Several baggage headers form one list; a later duplicate key wins."""
    assert _extract("a=1,b=2", "b=3") == {"a": "1", "b": "3"}


def test_at_most_180_members_are_taken():
    """3.3.1: beyond the member limit, excess members are ignored, not the whole header."""
    header = ",".join(f"k{i}=v" for i in range(MAX_MEMBERS + 20))
    assert len(header) <= MAX_BYTES
    found = _extract(header)
    assert list(found) == [f"k{i}" for i in range(MAX_MEMBERS)]


def test_invalid_members_do_not_count_towards_the_limit():
    """Only members we keep count towards 180."""
    header = ",".join(["bad key=x"] * 10 + [f"k{i}=v" for i in range(MAX_MEMBERS)])
    assert len(_extract(header)) == MAX_MEMBERS


def test_header_of_exactly_8192_bytes_is_read():
    """3.3.1: a baggage-string of 8192 bytes or less MUST be propagated."""
    header = "k=" + "v" * (MAX_BYTES - 2)
    assert len(header) == MAX_BYTES
    assert _extract(header) == {"k": "v" * (MAX_BYTES - 2)}


def test_oversized_baggage_is_ignored_whole():
    """Beyond 8192 bytes the platform MAY drop members; we drop all, unparsed."""
    assert BP.extract({"baggage": "k=" + "v" * MAX_BYTES}) == EMPTY
    assert BP.extract({"baggage": ["k=" + "v" * 5000, "j=" + "w" * 5000]}) == EMPTY


def test_extracted_baggage_overrides_existing_keys():
    """This format's values win over what ``propagated`` already had; others are kept."""
    before = Propagated(SpanContext(1, 2, True), {"a": "old", "keep": "x"})
    result = BP.extract({"baggage": "a=new"}, before)
    assert dict(result.baggage) == {"a": "new", "keep": "x"}
    assert result.span_context == before.span_context


def test_no_valid_member_returns_propagated_unchanged():
    """Nothing usable: exactly what was passed in."""
    before = EMPTY.with_baggage({"k": "v"})
    assert BP.extract({"baggage": "bad key=1"}, before) is before


def test_inject_percent_encodes_values():
    """3.2.1.2: code points outside baggage-octet MUST be percent-encoded."""
    carrier = _inject({"k": "a b,c;d=\"e\\\u00e9"})
    assert carrier == {"baggage": "k=a%20b%2Cc%3Bd%3D%22e%5C%C3%A9"}
    assert _extract(carrier["baggage"]) == {"k": "a b,c;d=\"e\\\u00e9"}


def test_inject_without_span_context():
    """Baggage carries no span context, so it is written with or without one."""
    assert _inject({"k": "v"}) == {"baggage": "k=v"}


def test_inject_skips_keys_that_are_not_tokens():
    """Keys are tokens and are not encoded, so a key like 'a b' cannot be sent."""
    assert _inject({"a b": "1", "ok": "2", "x\r\ny": "3"}) == {"baggage": "ok=2"}


def test_inject_nothing_when_empty():
    """No baggage: no header."""
    assert _inject({}) == {}


def test_inject_respects_member_and_byte_limits():
    """Outgoing baggage stays within 180 members and 8192 bytes."""
    many = _inject({f"k{i}": "v" for i in range(300)})["baggage"]
    assert many.count(",") + 1 == MAX_MEMBERS
    big = format_baggage({f"k{i}": "v" * 1000 for i in range(20)})
    assert len(big.encode()) <= MAX_BYTES
    assert big.count(",") + 1 == 8  # 8 * 1004 + 7 commas = 8039; a ninth would not fit
