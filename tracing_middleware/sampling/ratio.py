"""``traceidratio``: decided from the trace id exactly as the OpenTelemetry SDKs do, so
every service (in any language) keeps or drops the same traces."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracing_middleware.sampling.base import DROP, RECORD_AND_SAMPLE, Sampler, SamplingResult
from tracing_middleware.spancontext import SpanContext

__all__ = ["TraceIdRatioBased"]

_TRACE_ID_LIMIT = (1 << 64) - 1


class TraceIdRatioBased(Sampler):
    def __init__(self, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"ratio {rate!r} must be between 0 and 1")
        self.rate = rate
        self.bound = round(rate * (_TRACE_ID_LIMIT + 1))

    def should_sample(self, parent: SpanContext | None, trace_id: int, name: str,
                      kind: str | None = None,
                      attributes: Mapping[str, Any] | None = None) -> SamplingResult:
        if parent is not None and parent.forced:
            return RECORD_AND_SAMPLE
        return RECORD_AND_SAMPLE if trace_id & _TRACE_ID_LIMIT < self.bound else DROP

    def get_description(self) -> str:
        return f"TraceIdRatioBased{{{self.rate}}}"
