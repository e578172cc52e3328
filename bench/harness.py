"""A small, careful timing harness: warm-up, interleaved repetitions, CPU time, medians.

Every case runs each variant (untraced, os-tracing, each peer) in the same process and in
interleaved rounds, so drift of the machine (frequency, other load) hits all variants
alike; results are per-operation medians of the rounds with the interquartile range.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Result", "Variant", "measure"]


@dataclasses.dataclass
class Variant:
    name: str
    #: returns a callable running ONE operation; called once per round (fresh state)
    setup: Callable[[], Callable[[], Any]]
    teardown: Callable[[], None] | None = None


@dataclasses.dataclass
class Result:
    case: str
    variant: str
    unit: str
    median: float
    q1: float
    q3: float
    rounds: int
    ops_per_round: int

    @property
    def spread(self) -> float:
        return self.q3 - self.q1

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"spread": self.spread}


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 4:
        m = statistics.median(values)
        return m, min(values), max(values)
    q = statistics.quantiles(values, n=4)
    return statistics.median(values), q[0], q[2]


def measure(case: str, variants: Sequence[Variant], ops: int, rounds: int,
            warmup: int = 1, clock: Callable[[], int] = time.process_time_ns,
            unit: str = "us") -> list[Result]:
    """Per-operation CPU time (µs) of each variant, interleaved round by round."""
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    for round_index in range(warmup + rounds):
        for variant in variants:
            op = variant.setup()
            gc.collect()
            gc.disable()
            try:
                start = clock()
                for _ in range(ops):
                    op()
                elapsed = clock() - start
            finally:
                gc.enable()
                if variant.teardown is not None:
                    variant.teardown()
            if round_index >= warmup:
                samples[variant.name].append(elapsed / ops / 1000.0)
    results = []
    for variant in variants:
        median, q1, q3 = _quartiles(samples[variant.name])
        results.append(Result(case, variant.name, unit, median, q1, q3, rounds, ops))
    return results
