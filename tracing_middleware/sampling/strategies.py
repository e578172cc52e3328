"""Jaeger's sampling strategies: the strategies file, the ``/sampling`` answer, and the
policy one process applies.

One module for the three shapes so the ``file://`` endpoint, ``os-tracing sampling serve``
and the remote sampler agree on every rule:

* the strategies file is turned into per-service answers the way Jaeger's ``static``
  strategy provider does (``plugin/sampling/strategyprovider/static/provider.go``,
  ``parseStrategies``): a service without its own ``operation_strategies`` inherits the
  default's (with its own probability as the default probability when it is
  probabilistic); a service with its own has the default's merged under them; per-operation
  ``ratelimiting`` entries are skipped (the protocol only carries probabilities);
* an answer is accepted in every encoding found in the wild: ``strategyType`` as a string
  (Jaeger ``/sampling``), a number (legacy Thrift-JSON ``/``), or omitted (the OpenTelemetry
  Collector omits proto3 zero values, i.e. ``PROBABILISTIC`` and rates of 0), camelCase or
  snake_case field names;
* out-of-range values are refused, never clamped: a policy nobody wrote is worse than the
  last good one. Unlike Jaeger (which falls back to 0.001 with a warning), an unknown
  strategy ``type`` in the file is an error too, for the same reason.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from tracing_middleware.sampling.rate_limiting import TokenBucket
from tracing_middleware.sampling.ratio import MAX_THRESHOLD, threshold_for

__all__ = [
    "PER_OPERATION",
    "PROBABILISTIC",
    "RATE_LIMITING",
    "Policy",
    "PolicyState",
    "build_responses",
    "parse_response",
    "read_strategies_file",
    "response_for_service",
]

LOG = logging.getLogger(__name__)

PROBABILISTIC = "probabilistic"
RATE_LIMITING = "ratelimiting"
PER_OPERATION = "per_operation"

MAX_FILE_BYTES = 1 << 20
_MAX_OPERATIONS_PARSED = 10_000
_MAX_OPERATIONS_TRACKED = 2000  # jaeger-client's default max_operations
_JAEGER_DEFAULT_PROBABILITY = 0.001  # Jaeger's defaultSamplingProbability
_NO_OPERATIONS: Mapping[str, float] = MappingProxyType({})


# -- the policy a process applies -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Policy:
    """What a process applies now; immutable, swapped whole when a new answer arrives.

    ``rate`` is the probability (``probabilistic``), traces per second (``ratelimiting``)
    or the default probability of operations without their own (``per_operation``).
    """

    kind: str
    rate: float
    operations: Mapping[str, float] = dataclasses.field(default_factory=lambda: _NO_OPERATIONS)
    lower_bound: float = 0.0
    upper_bound: float | None = None
    source: str = dataclasses.field(default="initial", compare=False)

    def describe(self) -> str:
        """For people: logs and ``os-tracing sampling show``."""
        if self.kind == PER_OPERATION:
            upper = "" if self.upper_bound is None else f", upper bound {self.upper_bound}/s"
            return (f"per-operation (default probability {self.rate}, lower bound "
                    f"{self.lower_bound}/s{upper}, {len(self.operations)} operations)")
        if self.kind == RATE_LIMITING:
            return f"rate limiting ({self.rate} traces/s)"
        return f"probabilistic ({self.rate})"

    def sampler_description(self) -> str:
        """In OpenTelemetry's ``get_description`` style."""
        if self.kind == PER_OPERATION:
            ops = ",".join(f"{name}=TraceIdRatioBased{{{rate}}}"
                           for name, rate in self.operations.items())
            upper = "" if self.upper_bound is None else f",upperBound={self.upper_bound}"
            return (f"PerOperationSampler{{default=TraceIdRatioBased{{{self.rate}}},"
                    f"lowerBound={self.lower_bound}{upper},perOperation={{{ops}}}}}")
        if self.kind == RATE_LIMITING:
            return f"RateLimitingSampler{{{self.rate}}}"
        return f"TraceIdRatioBased{{{self.rate}}}"

    def probability_for(self, operation: str | None) -> float | None:
        """The probability a span named ``operation`` gets (``None``: rate limited)."""
        if self.kind == PER_OPERATION:
            if operation is not None and operation in self.operations:
                return self.operations[operation]
            return self.rate
        return None if self.kind == RATE_LIMITING else self.rate


class _Guaranteed:
    """jaeger-client's ``GuaranteedThroughputProbabilisticSampler`` for one operation."""

    __slots__ = ("lower", "threshold", "upper")

    def __init__(self, threshold: int, lower: TokenBucket, upper: TokenBucket | None
                 ) -> None:
        self.threshold = threshold
        self.lower = lower
        self.upper = upper

    def sample(self, randomness: int) -> bool:
        if randomness >= self.threshold and (self.upper is None or self.upper.take()):
            # NOTE(os-tracing): as jaeger-client, a probabilistic hit also spends a
            # lower-bound credit: the bound is a floor on the total, not extra traffic.
            self.lower.take()
            return True
        return self.lower.take()


class PolicyState:
    """A policy plus what applying it needs: ratio thresholds and token buckets.

    ``sample`` is the hot path: dictionary reads and at most two bucket locks. Buckets for
    operations are created on first use, for at most 2000 operations (jaeger-client's
    ``max_operations``); later ones get the default probability without bounds, so a
    flood of distinct span names cannot grow memory.
    """

    def __init__(self, policy: Policy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._threshold = (threshold_for(policy.rate) if policy.kind != RATE_LIMITING
                           else MAX_THRESHOLD)
        self._bucket = (TokenBucket(policy.rate, clock) if policy.kind == RATE_LIMITING
                        else None)
        self._op_thresholds = {name: threshold_for(rate)
                               for name, rate in policy.operations.items()}
        self._guaranteed: dict[str, _Guaranteed] = {}
        self._lock = threading.Lock()

    def _operation(self, operation: str) -> _Guaranteed | None:
        with self._lock:
            found = self._guaranteed.get(operation)
            if found is None and len(self._guaranteed) < _MAX_OPERATIONS_TRACKED:
                policy = self.policy
                upper = (TokenBucket(policy.upper_bound, self._clock)
                         if policy.upper_bound is not None else None)
                found = _Guaranteed(self._op_thresholds.get(operation, self._threshold),
                                    TokenBucket(policy.lower_bound, self._clock), upper)
                self._guaranteed[operation] = found
            return found

    def sample(self, randomness: int, operation: str) -> bool:
        """``randomness``: the trace's 56 random bits (:func:`~tracing_middleware.sampling.
        ratio.randomness_of`), compared as ``traceidratio`` compares them."""
        kind = self.policy.kind
        if kind == PROBABILISTIC:
            return randomness >= self._threshold
        if kind == RATE_LIMITING:
            assert self._bucket is not None
            return self._bucket.take()
        sampler = self._guaranteed.get(operation) or self._operation(operation)
        if sampler is None:
            return randomness >= self._threshold
        return sampler.sample(randomness)


# -- the /sampling answer -----------------------------------------------------------------


def _field(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    return obj[camel] if camel in obj else obj.get(snake)


def _number(value: Any, what: str, default: float | None = None) -> float:
    if value is None and default is not None:
        return default  # proto3 JSON omits zero values
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        number = float(value)  # OverflowError for ints beyond a double
        if not math.isfinite(number):
            raise OverflowError
    except (TypeError, OverflowError):
        raise ValueError(f"{what} = {value!r:.40} is not a finite number") from None
    return number


def _probability(value: Any, what: str, default: float | None = None) -> float:
    number = _number(value, what, default)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{what} = {value!r} is not in [0, 1]")
    return number


def _per_second(value: Any, what: str, default: float | None = None) -> float:
    number = _number(value, what, default)
    if number < 0:
        raise ValueError(f"{what} = {value!r} is negative")
    return number


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} is missing or not an object")
    return value


def _strategy_type(value: Any) -> str:
    if value is None or value == 0:  # omitted: proto3 zero value
        return PROBABILISTIC
    if value == 1 and not isinstance(value, bool):
        return RATE_LIMITING
    if isinstance(value, str):
        name = value.upper().replace("_", "")
        if name == "PROBABILISTIC":
            return PROBABILISTIC
        if name == "RATELIMITING":
            return RATE_LIMITING
    raise ValueError(f"strategyType {value!r} is not PROBABILISTIC (0) or RATE_LIMITING (1)")


def _operation_policy(operation: Mapping[str, Any], source: str) -> Policy | None:
    default = _probability(_field(operation, "defaultSamplingProbability",
                                  "default_sampling_probability"),
                           "defaultSamplingProbability", 0.0)
    lower = _per_second(_field(operation, "defaultLowerBoundTracesPerSecond",
                               "default_lower_bound_traces_per_second"),
                        "defaultLowerBoundTracesPerSecond", 0.0)
    raw_upper = _field(operation, "defaultUpperBoundTracesPerSecond",
                       "default_upper_bound_traces_per_second")
    upper = None
    if raw_upper is not None:
        upper = _per_second(raw_upper, "defaultUpperBoundTracesPerSecond")
        upper = upper if upper > 0 else None  # 0 is proto's "unset"
    items = _field(operation, "perOperationStrategies", "per_operation_strategies") or []
    if not isinstance(items, list):
        raise ValueError("perOperationStrategies is not a list")
    if len(items) > _MAX_OPERATIONS_PARSED:
        raise ValueError(f"perOperationStrategies has {len(items)} entries, more than "
                         f"{_MAX_OPERATIONS_PARSED}")
    operations: dict[str, float] = {}
    for item in items:
        item = _object(item, "perOperationStrategies entry")
        name = item.get("operation")
        if not isinstance(name, str):
            raise ValueError("perOperationStrategies entry has no operation name")
        prob = _object(_field(item, "probabilisticSampling", "probabilistic_sampling"),
                       f"probabilisticSampling of operation {name!r}")
        operations[name] = _probability(_field(prob, "samplingRate", "sampling_rate"),
                                        f"samplingRate of operation {name!r}", 0.0)
    if not operations and lower == 0:
        # NOTE(os-tracing): as OTel Java/JS: an empty table says nothing per operation,
        # so the top-level strategy applies.
        return None
    return Policy(PER_OPERATION, default, MappingProxyType(operations), lower, upper,
                  source)


def parse_response(body: Any, source: str = "remote") -> Policy:
    """A ``/sampling`` answer -> :class:`Policy`; ``ValueError`` on a wrong shape.

    ``operationSampling`` wins over ``strategyType`` when it has per-operation strategies
    or a lower bound, as in jaeger-client and OpenTelemetry Java/JS.
    """
    body = _object(body, "response")
    operation = _field(body, "operationSampling", "operation_sampling")
    if operation is not None:
        policy = _operation_policy(_object(operation, "operationSampling"), source)
        if policy is not None:
            return policy
    kind = _strategy_type(_field(body, "strategyType", "strategy_type"))
    if kind == RATE_LIMITING:
        limit = _object(_field(body, "rateLimitingSampling", "rate_limiting_sampling"),
                        "rateLimitingSampling")
        return Policy(RATE_LIMITING, _per_second(
            _field(limit, "maxTracesPerSecond", "max_traces_per_second"),
            "maxTracesPerSecond", 0.0), source=source)
    prob = _object(_field(body, "probabilisticSampling", "probabilistic_sampling"),
                   "probabilisticSampling")
    return Policy(PROBABILISTIC, _probability(
        _field(prob, "samplingRate", "sampling_rate"), "samplingRate", 0.0), source=source)


# -- the strategies file ------------------------------------------------------------------


def read_strategies_file(path: str) -> tuple[tuple[int, int, int], Any]:
    """``(signature, parsed JSON)``; the signature (mtime, size, inode) tells edits apart,
    including an editor's rename-over within one mtime tick."""
    st = os.stat(path)
    if st.st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    with open(path, "rb") as f:
        data = json.loads(f.read(MAX_FILE_BYTES + 1))
    return (st.st_mtime_ns, st.st_size, st.st_ino), data


def _file_strategy(entry: Mapping[str, Any], what: str) -> dict[str, Any]:
    kind = entry.get("type")
    param = entry.get("param")
    if kind == "probabilistic":
        return {"strategyType": "PROBABILISTIC",
                "probabilisticSampling": {"samplingRate": _probability(
                    param, f"{what} param")}}
    if kind == "ratelimiting":
        # Jaeger's int32(param): the protocol carries whole traces per second.
        return {"strategyType": "RATE_LIMITING",
                "rateLimitingSampling": {"maxTracesPerSecond": int(_per_second(
                    param, f"{what} param"))}}
    raise ValueError(f"{what} type {kind!r} is not 'probabilistic' or 'ratelimiting'")


def _service_response(entry: Mapping[str, Any], what: str,
                      operations: Any = None) -> dict[str, Any]:
    """Jaeger's ``parseServiceStrategies``."""
    response = _file_strategy(entry, what)
    ops = entry.get("operation_strategies") if operations is None else operations
    if not ops:
        return response
    if not isinstance(ops, list):
        raise ValueError(f"{what} operation_strategies is not a list")
    default = (response["probabilisticSampling"]["samplingRate"]
               if "probabilisticSampling" in response else _JAEGER_DEFAULT_PROBABILITY)
    per_operation = []
    for op in ops:
        op = _object(op, f"{what} operation strategy")
        name = op.get("operation")
        if not isinstance(name, str):
            raise ValueError(f"{what} operation strategy has no operation name")
        parsed = _file_strategy(op, f"{what} operation {name!r}")
        if "probabilisticSampling" not in parsed:
            LOG.warning("os-tracing: %s operation %r: per-operation strategies can only be "
                        "probabilistic; using the default probability %s", what, name,
                        default)
            continue
        per_operation.append({"operation": name,
                              "probabilisticSampling": parsed["probabilisticSampling"]})
    response["operationSampling"] = {"defaultSamplingProbability": default,
                                     "defaultLowerBoundTracesPerSecond": 0.0,
                                     "perOperationStrategies": per_operation}
    return response


def build_responses(strategies: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A strategies file -> ``(default answer, {service: answer})``, as Jaeger's static
    provider builds them; ``ValueError`` naming the first bad entry.

    A top-level ``operation_strategies`` (not in Jaeger's format) is read as the default
    strategy's, when that has none.
    """
    strategies = _object(strategies, "strategies file")
    default_entry = strategies.get("default_strategy")
    if default_entry is None:
        default_entry = {"type": "probabilistic", "param": _JAEGER_DEFAULT_PROBABILITY}
    default_entry = _object(default_entry, "default_strategy")
    default_ops = default_entry.get("operation_strategies") or strategies.get(
        "operation_strategies")
    default = _service_response(default_entry, "default_strategy", default_ops)
    default_op = default.get("operationSampling")
    services: dict[str, dict[str, Any]] = {}
    entries = strategies.get("service_strategies") or []
    if not isinstance(entries, list):
        raise ValueError("service_strategies is not a list")
    for entry in entries:
        entry = _object(entry, "service_strategies entry")
        name = entry.get("service")
        if not isinstance(name, str) or not name:
            raise ValueError("service_strategies entry has no service name")
        response = _service_response(entry, f"service {name!r}")
        if default_op is not None:
            own = response.get("operationSampling")
            if own is None:
                merged = dict(default_op)
                if "probabilisticSampling" in response:
                    merged["defaultSamplingProbability"] = \
                        response["probabilisticSampling"]["samplingRate"]
                response["operationSampling"] = merged
            else:
                known = {op["operation"] for op in own["perOperationStrategies"]}
                own["perOperationStrategies"] = own["perOperationStrategies"] + [
                    op for op in default_op["perOperationStrategies"]
                    if op["operation"] not in known]
        services[name] = response
    return default, services


def response_for_service(strategies: Any, service: str) -> dict[str, Any]:
    """The ``/sampling?service=`` answer for ``service`` from a parsed strategies file."""
    default, services = build_responses(strategies)
    return services.get(service, default)
