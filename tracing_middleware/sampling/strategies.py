"""Jaeger's sampling strategies: the file format, the ``/sampling`` response, and the
policy a process applies.

One module for the three shapes so that the file-based endpoint, the policy server and
the remote sampler agree on every rule: strategies-file defaults merged into each service
as Jaeger's static store does, both response encodings (``strategyType`` as a string, as a
number, or omitted as the OpenTelemetry Collector does), and out-of-range values refused.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from tracing_middleware.sampling.rate_limiting import TokenBucket

__all__ = ["Policy", "parse_response", "response_for_service"]

_LOW64 = (1 << 64) - 1
_MAX_OPERATIONS = 2000


def _get(obj: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in obj:
            return obj[name]
    return None


def _rate(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{what} = {value} is not in [0, 1]")
    return float(value)


def _per_second(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{what} must be a number >= 0")
    return float(value)


@dataclasses.dataclass(frozen=True)
class Policy:
    """What a process applies now; immutable, swapped whole when a new answer arrives."""

    kind: str  # "probabilistic" | "ratelimiting"
    rate: float  # sampling probability, or traces per second
    operations: Mapping[str, float] = dataclasses.field(default_factory=dict)
    default_probability: float | None = None
    lower_bound: float = 0.0
    source: str = "initial"

    def describe(self) -> str:
        if self.operations or self.default_probability is not None:
            return (f"per-operation (default probability {self.default_probability}, "
                    f"lower bound {self.lower_bound}/s, {len(self.operations)} operations)")
        if self.kind == "ratelimiting":
            return f"rate limiting ({self.rate} traces/s)"
        return f"probabilistic ({self.rate})"

    def probability_for(self, operation: str | None) -> float | None:
        if operation is not None and operation in self.operations:
            return self.operations[operation]
        if self.default_probability is not None:
            return self.default_probability
        return self.rate if self.kind == "probabilistic" else None


class PolicyState:
    """A policy plus the token buckets it needs (rate limit, per-operation lower bounds)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._bucket = TokenBucket(policy.rate) if policy.kind == "ratelimiting" else None
        self._bounds: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def _bound(self, operation: str) -> bool:
        if self.policy.lower_bound <= 0:
            return False
        bucket = self._bounds.get(operation)
        if bucket is None:
            with self._lock:
                if len(self._bounds) >= _MAX_OPERATIONS:
                    return False
                bucket = self._bounds.setdefault(operation, TokenBucket(
                    self.policy.lower_bound))
        return bucket.take()

    def sample(self, trace_id: int, operation: str) -> bool:
        policy = self.policy
        if policy.operations or policy.default_probability is not None:
            probability = policy.operations.get(operation, policy.default_probability or 0.0)
            if trace_id & _LOW64 < round(probability * (_LOW64 + 1)):
                return True
            return self._bound(operation)
        if self._bucket is not None:
            return self._bucket.take()
        return trace_id & _LOW64 < round(policy.rate * (_LOW64 + 1))


def parse_response(body: Any, source: str = "remote") -> Policy:
    """A Jaeger ``/sampling`` answer -> :class:`Policy`; ``ValueError`` on a wrong shape."""
    if not isinstance(body, Mapping):
        raise ValueError("response is not a JSON object")
    operation = _get(body, "operationSampling", "operation_sampling")
    if operation is not None:
        if not isinstance(operation, Mapping):
            raise ValueError("operationSampling is not an object")
        default = _rate(_get(operation, "defaultSamplingProbability",
                             "default_sampling_probability") or 0.0,
                        "defaultSamplingProbability")
        lower = _per_second(_get(operation, "defaultLowerBoundTracesPerSecond",
                                 "default_lower_bound_traces_per_second") or 0.0,
                            "defaultLowerBoundTracesPerSecond")
        operations: dict[str, float] = {}
        for item in _get(operation, "perOperationStrategies",
                         "per_operation_strategies") or []:
            if not isinstance(item, Mapping) or not isinstance(item.get("operation"), str):
                raise ValueError("perOperationStrategies entry without an operation")
            prob = _get(item, "probabilisticSampling", "probabilistic_sampling") or {}
            if len(operations) < _MAX_OPERATIONS:
                operations[item["operation"]] = _rate(
                    _get(prob, "samplingRate", "sampling_rate") or 0.0, "samplingRate")
        return Policy("probabilistic", default, operations, default, lower, source)
    kind = _get(body, "strategyType", "strategy_type")
    if kind in (None, 0, "0", "PROBABILISTIC", "probabilistic"):
        prob = _get(body, "probabilisticSampling", "probabilistic_sampling")
        if not isinstance(prob, Mapping):
            raise ValueError("probabilisticSampling missing")
        return Policy("probabilistic", _rate(_get(prob, "samplingRate", "sampling_rate") or 0.0,
                                             "samplingRate"), source=source)
    if kind in (1, "1", "RATE_LIMITING", "rate_limiting"):
        limit = _get(body, "rateLimitingSampling", "rate_limiting_sampling")
        if not isinstance(limit, Mapping):
            raise ValueError("rateLimitingSampling missing")
        return Policy("ratelimiting", _per_second(
            _get(limit, "maxTracesPerSecond", "max_traces_per_second") or 0,
            "maxTracesPerSecond"), source=source)
    raise ValueError(f"unknown strategyType {kind!r}")


def _strategy_body(strategy: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(strategy.get("type", "probabilistic")).lower()
    param = strategy.get("param", 0.001)
    if kind == "ratelimiting":
        return {"strategyType": "RATE_LIMITING",
                "rateLimitingSampling": {"maxTracesPerSecond": int(
                    _per_second(param, "param"))}}
    if kind == "probabilistic":
        return {"strategyType": "PROBABILISTIC",
                "probabilisticSampling": {"samplingRate": _rate(param, "param")}}
    raise ValueError(f"unknown strategy type {kind!r}")


def response_for_service(strategies: Mapping[str, Any], service: str) -> dict[str, Any]:
    """The ``/sampling?service=`` answer for ``service`` from a Jaeger strategies file.

    As Jaeger's static store: the service's own strategy, else ``default_strategy``; the
    default's operation strategies are merged under the service's own.
    """
    if not isinstance(strategies, Mapping):
        raise ValueError("strategies file is not a JSON object")
    default = strategies.get("default_strategy") or {"type": "probabilistic", "param": 0.001}
    chosen: Mapping[str, Any] = default
    for item in strategies.get("service_strategies") or []:
        if isinstance(item, Mapping) and item.get("service") == service:
            chosen = item
            break
    body = _strategy_body(chosen)
    operations: dict[str, Any] = {}
    for source in (default.get("operation_strategies") or [],
                   chosen.get("operation_strategies") or []):
        for op in source:
            if isinstance(op, Mapping) and isinstance(op.get("operation"), str):
                if str(op.get("type", "probabilistic")).lower() != "probabilistic":
                    continue  # Jaeger supports only probabilistic per operation
                operations[op["operation"]] = _rate(op.get("param", 0.0), "param")
    if operations and body["strategyType"] == "PROBABILISTIC":
        body["operationSampling"] = {
            "defaultSamplingProbability": body["probabilisticSampling"]["samplingRate"],
            "defaultLowerBoundTracesPerSecond": 0,
            "perOperationStrategies": [
                {"operation": name, "probabilisticSampling": {"samplingRate": rate}}
                for name, rate in operations.items()],
        }
    return body
