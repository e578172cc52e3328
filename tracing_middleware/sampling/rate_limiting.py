"""Traces per second: a token bucket per process, with an injectable clock.

Used for Jaeger's ``RATE_LIMITING`` strategy, the per-operation lower (and upper) bounds,
and ``upstream_sampling_rate_limit``. Per process, as in every Jaeger client: a service
with N workers samples up to N times the rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from tracing_middleware.sampling.base import DROP, RECORD_AND_SAMPLE, SamplingResult
from tracing_middleware.sampling.static import PolicySampler
from tracing_middleware.spancontext import SpanContext

__all__ = ["RateLimitingSampler", "TokenBucket"]


def _check_rate(rate: float, what: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) \
            or not math.isfinite(rate) or rate < 0:
        raise ValueError(f"{what} {rate!r} must be a finite number >= 0")
    return float(rate)


class TokenBucket:
    """``rate`` credits per second, at most ``max(1, rate)`` banked; starts full.

    The cap keeps an idle hour from turning into a burst of an hour's worth of traces;
    ``max(1, ...)`` lets rates below one per second through at all (jaeger-client's
    ``RateLimiter`` does the same). A rate of 0 never grants. The lock is held for a few
    arithmetic operations only.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = _check_rate(rate, "rate")
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self._tokens = self.capacity if self.rate > 0 else 0.0
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one credit if there is one."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._last
            self._last = now
            if elapsed > 0:  # a clock that steps back grants nothing, never negative credit
                self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def after_fork(self) -> None:
        """A lock held by another thread at ``fork()`` would stay held in the child."""
        self._lock = threading.Lock()


class RateLimitingSampler(PolicySampler):
    """At most ``per_second`` sampled traces per second in this process."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._bucket = TokenBucket(_check_rate(per_second, "per_second"), clock)

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def _decide(self, parent: SpanContext | None, trace_id: int, name: str,
                kind: str | None, attributes: Mapping[str, Any] | None) -> SamplingResult:
        return RECORD_AND_SAMPLE if self._bucket.take() else DROP

    def get_description(self) -> str:
        return f"RateLimitingSampler{{{self._bucket.rate}}}"

    def after_fork(self) -> None:
        self._bucket.after_fork()
