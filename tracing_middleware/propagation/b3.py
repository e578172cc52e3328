"""Zipkin B3: the single ``b3`` header and the ``X-B3-*`` headers.

https://github.com/openzipkin/b3-propagation. A 64-bit (16 hex) trace id is left-padded to
128 bits by value, so it prints as ``0000000000000000{id}`` and leaves as W3C unchanged.
No sampling state means the caller deferred: ``sampled=None``, the local sampler decides.
Debug means sampled and ``debug=True`` but never ``forced``: only a verified osprofiler
signature may override the sampling policy, and anyone can send a B3 header.
"""

from __future__ import annotations

import re
from typing import Any

from tracing_middleware.propagation.base import (
    Getter,
    Propagator,
    Setter,
    first_value,
)
from tracing_middleware.spancontext import Propagated, SpanContext

__all__ = ["B3MultiPropagator", "B3SinglePropagator"]

# Zipkin writes lower-hex; upper case is accepted as OpenTelemetry and Brave do.
_TRACE = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}")
_SPAN = re.compile(r"[0-9a-fA-F]{16}")
_OWS = " \t"


def _ids(trace_hex: str, span_hex: str) -> tuple[int, int] | None:
    if not _TRACE.fullmatch(trace_hex) or not _SPAN.fullmatch(span_hex):
        return None
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if trace_id == 0 or span_id == 0:
        return None
    return trace_id, span_id


def _sampling_state(context: SpanContext) -> str | None:
    """``d``, ``1``, ``0``, or ``None`` for a deferred decision (nothing written)."""
    if context.debug:
        return "d"
    if context.sampled or context.forced:
        return "1"
    if context.sampled is None:
        return None
    return "0"


class B3SinglePropagator(Propagator):
    """``b3: {trace}-{span}[-{1|0|d}[-{parent}]]``.

    The id-less forms ``b3: 0``, ``b3: 1`` and ``b3: d`` are a sampling decision with no
    parent. :class:`Propagated` can only carry a decision inside a span context, so they
    are recognised and leave ``propagated`` unchanged: the local sampler starts a new trace.
    """

    name = "b3"
    fields = frozenset({"b3"})

    def _extract(self, carrier: Any, propagated: Propagated, getter: Getter[Any]
                 ) -> Propagated:
        value = first_value(getter, carrier, "b3")
        if value is None:
            return propagated
        parts = value.strip(_OWS).split("-", 4)
        if not 2 <= len(parts) <= 4:
            return propagated  # includes the id-less "0" / "1" / "d" forms
        ids = _ids(parts[0], parts[1])
        if ids is None:
            return propagated
        sampled: bool | None = None
        debug = False
        if len(parts) >= 3:
            state = parts[2]
            if state == "d":
                sampled, debug = True, True
            elif state in ("1", "0"):
                sampled = state == "1"
            else:
                return propagated
        if len(parts) == 4 and not _SPAN.fullmatch(parts[3]):
            return propagated  # the parent id is not used, but a malformed one voids it
        return propagated.with_span_context(
            SpanContext(ids[0], ids[1], sampled, remote=True, debug=debug))

    def _inject(self, carrier: Any, context: SpanContext, propagated: Propagated,
                setter: Setter[Any]) -> None:
        value = f"{context.trace_id_hex}-{context.span_id_hex}"
        state = _sampling_state(context)
        if state is not None:
            value += f"-{state}"
        setter.set(carrier, "b3", value)


class B3MultiPropagator(Propagator):
    """``X-B3-TraceId``, ``X-B3-SpanId``, ``X-B3-Sampled``, ``X-B3-Flags``.

    ``X-B3-ParentSpanId`` is neither read nor written: the receiver's parent is the
    sender's span id, and the grandparent is of no use to it.
    """

    name = "b3multi"
    fields = frozenset({"x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"})

    def _extract(self, carrier: Any, propagated: Propagated, getter: Getter[Any]
                 ) -> Propagated:
        trace_hex = first_value(getter, carrier, "x-b3-traceid")
        span_hex = first_value(getter, carrier, "x-b3-spanid")
        if trace_hex is None or span_hex is None:
            return propagated
        ids = _ids(trace_hex.strip(_OWS), span_hex.strip(_OWS))
        if ids is None:
            return propagated
        # "Debug is encoded as X-B3-Flags: 1. Debug implies an accept decision."
        debug = (first_value(getter, carrier, "x-b3-flags") or "").strip(_OWS) == "1"
        state = (first_value(getter, carrier, "x-b3-sampled") or "").strip(_OWS).lower()
        sampled: bool | None = None  # absent or unknown: deferred
        # Older tracers send true/false; the B3 spec asks receivers to accept both.
        if debug or state in ("1", "true"):
            sampled = True
        elif state in ("0", "false"):
            sampled = False
        return propagated.with_span_context(
            SpanContext(ids[0], ids[1], sampled, remote=True, debug=debug))

    def _inject(self, carrier: Any, context: SpanContext, propagated: Propagated,
                setter: Setter[Any]) -> None:
        setter.set(carrier, "X-B3-TraceId", context.trace_id_hex)
        setter.set(carrier, "X-B3-SpanId", context.span_id_hex)
        state = _sampling_state(context)
        if state == "d":
            # "Debug implies an accept decision, so don't also send X-B3-Sampled."
            setter.set(carrier, "X-B3-Flags", "1")
        elif state is not None:
            setter.set(carrier, "X-B3-Sampled", state)
