"""``always_on`` and ``always_off``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracing_middleware.sampling.base import DROP, RECORD_AND_SAMPLE, Sampler, SamplingResult
from tracing_middleware.spancontext import SpanContext

__all__ = ["ALWAYS_OFF", "ALWAYS_ON", "StaticSampler"]


class StaticSampler(Sampler):
    def __init__(self, sample: bool) -> None:
        self._result = RECORD_AND_SAMPLE if sample else DROP
        self._sample = sample

    def should_sample(self, parent: SpanContext | None, trace_id: int, name: str,
                      kind: str | None = None,
                      attributes: Mapping[str, Any] | None = None) -> SamplingResult:
        if parent is not None and parent.forced:
            return RECORD_AND_SAMPLE
        return self._result

    def get_description(self) -> str:
        return "AlwaysOnSampler" if self._sample else "AlwaysOffSampler"


ALWAYS_ON = StaticSampler(True)
ALWAYS_OFF = StaticSampler(False)
