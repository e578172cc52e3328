"""A small, careful timing harness: warm-up, interleaved repetitions, CPU time, medians.

Every case runs each variant (untraced, os-tracing, each peer) in the same process and in
interleaved rounds, so drift of the machine (frequency, other load) hits all variants
alike; results are per-operation medians of the rounds with the interquartile range.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["NOTES", "Result", "Variant", "measure", "note", "quartiles"]

#: What the reader of the table must know: skipped variants, dropped spans, errors.
NOTES: list[str] = []


def note(message: str) -> None:
    """Record ``message`` (once) for the report and show it at once."""
    if message in NOTES:
        return
    NOTES.append(message)
    print(f"note: {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class Variant:
    name: str
    #: returns a callable running ONE operation; called once per round, outside the timing
    setup: Callable[[], Callable[[], Any]]
    #: after each round, outside the timing
    teardown: Callable[[], None] | None = None
    #: inside the timing, after the round's ``ops`` operations: work the operations left
    #: behind that belongs to their cost (``force_flush``: every span's export is charged)
    finish: Callable[[], Any] | None = None
    #: once, after the last round: release what ``setup`` built for all rounds
    close: Callable[[], None] | None = None


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

    @classmethod
    def of(cls, case: str, variant: str, unit: str, samples: Sequence[float],
           ops_per_round: int = 0) -> Result:
        """Median and quartiles of per-round samples."""
        median, q1, q3 = quartiles(samples)
        return cls(case, variant, unit, median, q1, q3, len(samples), ops_per_round)


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, q1, q3); below four samples the range stands in for the quartiles."""
    if len(values) < 4:
        m = statistics.median(values)
        return m, min(values), max(values)
    q = statistics.quantiles(values, n=4)
    return statistics.median(values), q[0], q[2]


def measure(case: str, variants: Sequence[Variant], ops: int, rounds: int,
            warmup: int = 1, clock: Callable[[], int] = time.process_time_ns,
            unit: str = "us") -> list[Result]:
    """Per-operation CPU time (µs) of each variant, interleaved round by round.

    The clock is process-wide CPU time, so work a variant hands to its own background
    threads during the timed window (and in ``finish``) is charged to it.
    """
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    try:
        for round_index in range(warmup + rounds):
            for variant in variants:
                op = variant.setup()
                gc.collect()
                gc.disable()
                try:
                    start = clock()
                    for _ in range(ops):
                        op()
                    if variant.finish is not None:
                        variant.finish()
                    elapsed = clock() - start
                finally:
                    gc.enable()
                    if variant.teardown is not None:
                        variant.teardown()
                if round_index >= warmup:
                    samples[variant.name].append(elapsed / ops / 1000.0)
    finally:
        for variant in variants:
            if variant.close is not None:
                variant.close()
    return [Result.of(case, v.name, unit, samples[v.name], ops) for v in variants]
