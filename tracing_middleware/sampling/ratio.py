"""``traceidratio``: decided from the trace id exactly as the OpenTelemetry Python SDK's
``TraceIdRatioBased`` does, so every service that sees a trace keeps or drops it alike.

The low 64 bits of the trace id are compared with ``round(rate * 2**64)``; W3C Trace
Context requires those bits to be random. The same arithmetic serves the Jaeger remote
sampler's probabilistic and per-operation policies (:func:`ratio_bound`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tracing_middleware.sampling.base import DROP, RECORD_AND_SAMPLE, SamplingResult
from tracing_middleware.sampling.static import PolicySampler
from tracing_middleware.spancontext import SpanContext

__all__ = ["TRACE_ID_LIMIT", "TraceIdRatioBased", "ratio_bound"]

TRACE_ID_LIMIT = (1 << 64) - 1


def ratio_bound(rate: float) -> int:
    """OTel's ``get_bound_for_rate``: sampled iff ``trace_id & TRACE_ID_LIMIT < bound``."""
    return round(rate * (TRACE_ID_LIMIT + 1))


class TraceIdRatioBased(PolicySampler):
    def __init__(self, rate: float) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) \
                or math.isnan(rate) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"ratio {rate!r} is not a number between 0 and 1")
        self.rate = rate
        self.bound = ratio_bound(rate)

    def _decide(self, parent: SpanContext | None, trace_id: int, name: str,
                kind: str | None, attributes: Mapping[str, Any] | None) -> SamplingResult:
        return RECORD_AND_SAMPLE if trace_id & TRACE_ID_LIMIT < self.bound else DROP

    def get_description(self) -> str:
        return f"TraceIdRatioBased{{{self.rate}}}"
