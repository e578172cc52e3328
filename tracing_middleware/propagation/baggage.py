"""W3C Baggage: ``baggage: key=value;props,...`` with the spec's limits."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from tracing_middleware.propagation.base import (
    Getter,
    Propagator,
    Setter,
    default_getter,
    default_setter,
)
from tracing_middleware.spancontext import EMPTY, Propagated

__all__ = ["BaggagePropagator"]

MAX_MEMBERS = 180
MAX_BYTES = 8192
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class BaggagePropagator(Propagator):
    name = "baggage"
    fields = frozenset({"baggage"})

    def extract(self, carrier: Any, propagated: Propagated = EMPTY,
                getter: Getter[Any] = default_getter) -> Propagated:
        values = getter.get(carrier, "baggage")
        if not values:
            return propagated
        header = ",".join(v for v in values if isinstance(v, str))
        if len(header) > MAX_BYTES:
            return propagated
        found: dict[str, str] = {}
        for member in header.split(","):
            if len(found) >= MAX_MEMBERS:
                break
            pair = member.split(";", 1)[0]
            key, sep, value = pair.partition("=")
            key, value = key.strip(" \t"), value.strip(" \t")
            if not sep or not _TOKEN.match(key):
                continue
            try:
                # NOTE(os-tracing): OpenTelemetry's SDKs encode a space as '+'; decode
                # it the same way so baggage from them round-trips.
                found[key] = urllib.parse.unquote_plus(value, errors="strict")
            except UnicodeDecodeError:
                continue
        if not found:
            return propagated
        return propagated.with_baggage({**propagated.baggage, **found})

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        parts: list[str] = []
        size = 0
        for key, value in propagated.baggage.items():
            if len(parts) >= MAX_MEMBERS or not _TOKEN.match(key):
                continue
            item = f"{key}={urllib.parse.quote(value, safe='')}"
            if size + len(item) + 1 > MAX_BYTES:
                continue
            parts.append(item)
            size += len(item) + 1
        if parts:
            setter.set(carrier, "baggage", ",".join(parts))
