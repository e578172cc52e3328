"""Traces per second: a token bucket per process, with an injectable clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from tracing_middleware.sampling.base import DROP, RECORD_AND_SAMPLE, Sampler, SamplingResult
from tracing_middleware.spancontext import SpanContext

__all__ = ["RateLimitingSampler", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, holding at most ``max(1, rate)``; starts full."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate < 0:
            raise ValueError("rate must be >= 0")
        self.rate = rate
        self._capacity = max(1.0, rate)
        self._clock = clock
        self._tokens = self._capacity if rate > 0 else 0.0
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class RateLimitingSampler(Sampler):
    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        if per_second < 0:
            raise ValueError("per_second must be >= 0")
        self._bucket = TokenBucket(per_second, clock)

    def should_sample(self, parent: SpanContext | None, trace_id: int, name: str,
                      kind: str | None = None,
                      attributes: Mapping[str, Any] | None = None) -> SamplingResult:
        if parent is not None and parent.forced:
            return RECORD_AND_SAMPLE
        return RECORD_AND_SAMPLE if self._bucket.take() else DROP

    def get_description(self) -> str:
        return f"RateLimitingSampler{{{self._bucket.rate}}}"
