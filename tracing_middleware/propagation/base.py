"""The propagator contract, shaped like OpenTelemetry's ``TextMapPropagator``.

A propagator reads its own headers from a carrier and returns a new :class:`Propagated`;
it never raises on bad input and never mutates what it was given. Getters and setters
decouple the format from the carrier (WSGI environ, request headers, RPC envelope).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, MutableMapping
from typing import Any, Generic, TypeVar

from tracing_middleware.spancontext import EMPTY, Propagated, SpanContext

__all__ = [
    "DictGetter",
    "DictSetter",
    "Getter",
    "MAX_HEADER_LENGTH",
    "Propagator",
    "Setter",
    "WSGIEnvironGetter",
    "default_getter",
    "default_setter",
    "environ_getter",
]

C = TypeVar("C")

#: Longest header value any propagator will look at. W3C Baggage allows 8192 bytes in
#: total; nothing we read is legitimately longer, and a cap keeps parsing work bounded.
MAX_HEADER_LENGTH = 8192


class Getter(abc.ABC, Generic[C]):
    """Reads header values from a carrier; header names are given in lower case."""

    @abc.abstractmethod
    def get(self, carrier: C, key: str) -> list[str] | None:
        """All values of ``key``, or ``None`` when absent."""

    @abc.abstractmethod
    def keys(self, carrier: C) -> Iterable[str]:
        """Every header name in the carrier, lower case (for prefixed formats)."""


class Setter(abc.ABC, Generic[C]):
    @abc.abstractmethod
    def set(self, carrier: C, key: str, value: str) -> None:
        """Write one header; ``key`` is given in its canonical case."""


class DictGetter(Getter[Any]):
    """Case-insensitive reads from a plain mapping (HTTP headers, RPC envelopes)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            lowered = key.lower()
            for name in carrier:
                if isinstance(name, str) and name.lower() == lowered:
                    value = carrier[name]
                    break
            else:
                return None
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)):
            return [v for v in value if isinstance(v, str)] or None
        return None

    def keys(self, carrier: Any) -> Iterable[str]:
        return [k.lower() for k in carrier if isinstance(k, str)]


class DictSetter(Setter[MutableMapping[str, str]]):
    def set(self, carrier: MutableMapping[str, str], key: str, value: str) -> None:
        carrier[key] = value


def environ_key(header: str) -> str:
    """The PEP 3333 environ key of a request header (``X-B3-TraceId`` -> ``HTTP_X_B3_TRACEID``)."""
    return "HTTP_" + header.upper().replace("-", "_")


class WSGIEnvironGetter(Getter[Any]):
    """Reads request headers from a PEP 3333 environ (``X-B3-TraceId`` -> ``HTTP_X_B3_TRACEID``)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        value = carrier.get(environ_key(key))
        if isinstance(value, str):
            return [value]
        return None

    def keys(self, carrier: Any) -> Iterable[str]:
        return [
            k[5:].lower().replace("_", "-")
            for k in carrier
            if isinstance(k, str) and k.startswith("HTTP_")
        ]


default_getter = DictGetter()
default_setter = DictSetter()
environ_getter = WSGIEnvironGetter()


class Propagator:
    """One wire format.

    ``extract`` returns ``propagated`` with this format's part filled in when the carrier
    holds a valid value, and ``propagated`` unchanged otherwise. ``inject`` writes nothing
    when there is nothing valid to write: formats of a span context implement
    :meth:`_inject`, which only ever sees a valid one.
    """

    #: Name operators type in ``propagators``.
    name: str = ""
    #: Header names this format reads or writes, lower case.
    fields: frozenset[str] = frozenset()
    #: True when it also reads headers ``fields`` cannot list (names under a prefix).
    prefixed_fields: bool = False

    def extract(self, carrier: Any, propagated: Propagated = EMPTY,
                getter: Getter[Any] = default_getter) -> Propagated:
        """Never raises: a foreign carrier or getter misbehaving counts as absent."""
        try:
            return self._extract(carrier, propagated, getter)
        except Exception:
            return propagated

    def _extract(self, carrier: Any, propagated: Propagated, getter: Getter[Any]
                 ) -> Propagated:
        """What :meth:`extract` returns; may raise on a malformed carrier. Every format
        overrides this (or :meth:`extract` itself, taking over its guarantee)."""
        raise NotImplementedError

    def inject(self, carrier: Any, propagated: Propagated,
               setter: Setter[Any] = default_setter) -> None:
        context = propagated.span_context
        if context is not None and context.is_valid:
            self._inject(carrier, context, propagated, setter)

    def _inject(self, carrier: Any, context: SpanContext, propagated: Propagated,
                setter: Setter[Any]) -> None:
        """Write ``context`` (valid); ``propagated`` has the baggage. Every format of a
        span context overrides this (baggage overrides :meth:`inject` itself)."""
        raise NotImplementedError


def first_value(getter: Getter[Any], carrier: Any, key: str) -> str | None:
    """The first value of ``key`` if present and within :data:`MAX_HEADER_LENGTH`."""
    values = getter.get(carrier, key)
    if not values:
        return None
    value = values[0]
    if not isinstance(value, str) or len(value) > MAX_HEADER_LENGTH:
        return None
    return value
