"""W3C Baggage: ``baggage: key=value;props,...`` with the spec's limits.

https://www.w3.org/TR/baggage/. Only ``key -> value`` is kept: :class:`Propagated`
carries baggage as ``str -> str``, so member properties are validated and then dropped.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from tracing_middleware.propagation.base import (
    Getter,
    Propagator,
    Setter,
    default_setter,
)
from tracing_middleware.spancontext import Propagated

__all__ = ["MAX_BYTES", "MAX_MEMBERS", "BaggagePropagator", "format_baggage",
           "parse_baggage"]

#: Members taken from, and written to, one baggage-string; the excess is ignored.
MAX_MEMBERS = 180
#: Size of the whole baggage-string. A longer header is dropped whole, unparsed, so the
#: work stays bounded (the spec lets a platform drop members beyond the limit).
MAX_BYTES = 8192

# key = token (RFC 7230 3.2.6).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# value = *baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (percent-encoded).
_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
_OWS = " \t"


def _member(raw: str) -> tuple[str, str] | None:
    """``key OWS "=" OWS value *(OWS ";" OWS property)``, or ``None`` when invalid."""
    pair, *properties = raw.split(";")
    key, sep, value = pair.partition("=")
    key, value = key.strip(_OWS), value.strip(_OWS)
    if not sep or not _TOKEN.fullmatch(key) or not _VALUE.fullmatch(value):
        return None
    for prop in properties:
        # property = key OWS "=" OWS value / key OWS
        pkey, psep, pvalue = prop.partition("=")
        if not _TOKEN.fullmatch(pkey.strip(_OWS)) or (
                psep and not _VALUE.fullmatch(pvalue.strip(_OWS))):
            return None
    # "Percent-encoded octet sequences that do not match the UTF-8 encoding scheme MUST be
    # replaced with the replacement code point": errors="replace".
    # NOTE(os-tracing): OpenTelemetry's SDKs encode a space as '+' (quote_plus) and decode
    # with unquote_plus; we decode the same way so their baggage round-trips.
    return key, urllib.parse.unquote_plus(value, errors="replace")


def parse_baggage(values: list[Any]) -> dict[str, str]:
    """Valid members of the combined headers, the first 180 of them; invalid ones skipped."""
    strings = [v for v in values if isinstance(v, str)]
    if sum(len(v) + 1 for v in strings) > MAX_BYTES + 1:
        return {}
    header = ",".join(strings)
    if len(header.encode("utf-8", "replace")) > MAX_BYTES:
        return {}
    found: dict[str, str] = {}
    taken = 0
    for raw in header.split(","):
        if taken >= MAX_MEMBERS:
            break
        if not raw.strip(_OWS):
            continue
        member = _member(raw)
        if member is not None:
            found[member[0]] = member[1]
            taken += 1
    return found


def format_baggage(baggage: Mapping[str, str]) -> str:
    """``key=value`` members, values percent-encoded, within 180 members and 8192 bytes.

    Keys that are not tokens cannot be encoded (the spec does not percent-encode keys) and
    are left out, as is any member that would push the header past the limit.
    """
    parts: list[str] = []
    size = -1  # no comma before the first member
    for key, value in baggage.items():
        if len(parts) >= MAX_MEMBERS:
            break
        if not isinstance(key, str) or not isinstance(value, str) or not _TOKEN.fullmatch(key):
            continue
        item = f"{key}={urllib.parse.quote(value, safe='', errors='replace')}"
        if size + 1 + len(item) > MAX_BYTES:
            continue
        parts.append(item)
        size += 1 + len(item)
    return ",".join(parts)


class BaggagePropagator(Propagator):
    """The ``baggage`` header; carries no span context, so it injects with or without one."""

    name = "baggage"
    fields = frozenset({"baggage"})

    def _extract(self, carrier: Any, propagated: Propagated, getter: Getter[Any]
                 ) -> Propagated:
        values = getter.get(carrier, "baggage")
        found = parse_baggage(values) if values else {}
        if not found:
            return propagated
        return propagated.with_baggage({**propagated.baggage, **found})

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        value = format_baggage(propagated.baggage)
        if value:
            setter.set(carrier, "baggage", value)
