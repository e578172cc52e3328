"""``traceidratio``: OpenTelemetry's consistent probability sampling.

Every participant that implements OpenTelemetry's "TraceState: Probability Sampling"
specification (the OpenTelemetry SDKs' consistent samplers, the Collector) keeps or drops
a trace alike at the same ratio, whatever its language: each compares the same 56 bits of
randomness with the same threshold. The randomness is the ``rv`` sub-key of the ``ot``
tracestate entry when a caller set one, else the low 56 bits of the trace id, which W3C
Trace Context Level 2's random flag promises are random (and which our own ids are). The
rejection threshold for a ratio ``p`` is ``2**56 - round(p * 2**56)``: a span is sampled
when its randomness is at least the threshold. A sampled span records the threshold as
``th`` in the ``ot`` entry, so later samplers and the backend know its adjusted count; an
unsampled one carries none. The same comparison serves the Jaeger remote sampler's
probabilistic and per-operation policies (:func:`threshold_for`, :func:`randomness_of`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tracing_middleware.sampling.base import DROP, Decision, SamplingResult, TraceState
from tracing_middleware.sampling.static import PolicySampler
from tracing_middleware.spancontext import SpanContext

__all__ = ["MAX_THRESHOLD", "TraceIdRatioBased", "randomness_of", "threshold_for",
           "with_threshold"]

_RANDOMNESS_BITS = 56
_RANDOMNESS_MASK = (1 << _RANDOMNESS_BITS) - 1
#: The threshold of ratio 0: no randomness reaches it.
MAX_THRESHOLD = 1 << _RANDOMNESS_BITS
_HEX_DIGITS = _RANDOMNESS_BITS // 4
_OT = "ot"


def threshold_for(rate: float) -> int:
    """The 56-bit rejection threshold of a sampling ratio."""
    return MAX_THRESHOLD - round(rate * MAX_THRESHOLD)


def _ot_fields(trace_state: TraceState) -> list[str]:
    for key, value in trace_state:
        if key == _OT:
            return value.split(";")
    return []


def _randomness(field: str) -> int | None:
    """The value of an ``rv:`` field: exactly 14 hex digits, else ``None`` (invalid)."""
    if len(field) != 3 + _HEX_DIGITS:
        return None
    try:
        return int(field[3:], 16)
    except ValueError:
        return None


def randomness_of(parent: SpanContext | None, trace_id: int) -> int:
    """The trace's 56 bits of randomness: the parent's explicit ``rv``, if valid, else
    the low 56 bits of the trace id."""
    if parent is not None and parent.trace_state:
        for field in _ot_fields(parent.trace_state):
            if field.startswith("rv:"):
                value = _randomness(field)
                if value is not None:
                    return value
                break
    return trace_id & _RANDOMNESS_MASK


def with_threshold(trace_state: TraceState, threshold: int | None) -> TraceState:
    """``trace_state`` with the ``ot`` entry's ``th`` set to ``threshold`` (removed for
    ``None``), then a valid ``rv``, then its other fields; an invalid ``rv`` is dropped.
    The entry moves to the front, as W3C asks of a modified one, and is left out when
    nothing remains in it."""
    rv: list[str] = []
    rest: list[str] = []
    for field in _ot_fields(trace_state):
        if field.startswith("rv:"):
            if not rv and _randomness(field) is not None:
                rv.append(field)
        elif field and not field.startswith("th:"):
            rest.append(field)
    fields = ["th:" + (f"{threshold:014x}".rstrip("0") or "0")] if threshold is not None \
        else []
    fields += rv + rest
    others = tuple(item for item in trace_state if item[0] != _OT)
    return ((_OT, ";".join(fields)), *others) if fields else others


class TraceIdRatioBased(PolicySampler):
    def __init__(self, rate: float) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) \
                or math.isnan(rate) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"ratio {rate!r} is not a number between 0 and 1")
        self.rate = rate
        self.threshold = threshold_for(rate)

    def _decide(self, parent: SpanContext | None, trace_id: int, name: str,
                kind: str | None, attributes: Mapping[str, Any] | None) -> SamplingResult:
        state = parent.trace_state if parent is not None else ()
        if self.threshold < MAX_THRESHOLD \
                and randomness_of(parent, trace_id) >= self.threshold:
            return SamplingResult(Decision.RECORD_AND_SAMPLE,
                                  trace_state=with_threshold(state, self.threshold))
        return DROP if not state else SamplingResult(Decision.DROP,
                                                     trace_state=with_threshold(state, None))

    def get_description(self) -> str:
        return f"TraceIdRatioBased{{{self.rate}}}"
