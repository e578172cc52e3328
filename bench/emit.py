"""What fork detection costs a sampled span: ``BatchProcessor.emit`` two ways.

* ``emit, as shipped``: the fork check asks ``getpid()`` only when the queue is empty or
  every 64th span;
* ``emit + getpid() every span``: the same with the obvious check added, a system call
  per span; the difference between the rows is what asking on every span would cost.

The processor's worker never runs during a round (interval of an hour, queue larger than
a round), so a round measures queueing alone; each round starts from an empty queue, as
a busy worker process does after every export.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from bench.harness import Result, Variant, measure
from tracing_middleware.export.batch import BatchProcessor

__all__ = ["emit_rows"]

_OPS = 20_000


class _EveryTime(BatchProcessor):
    def emit(self, item: Any) -> None:
        if self._pid != os.getpid():
            self._reset_in_child()
        super().emit(item)


def _variant(name: str, kind: type[BatchProcessor]) -> Variant:
    processor = kind(lambda batch: True, name="bench", max_queue_size=_OPS * 2,
                     max_batch_size=_OPS * 2, interval_s=3600.0)
    item = object()

    def setup() -> Callable[[], Any]:
        processor._queue.clear()
        return lambda: processor.emit(item)

    return Variant(name, setup, close=lambda: processor.shutdown(1.0))


def emit_rows(quick: bool) -> list[Result]:
    variants = [_variant("emit, as shipped", BatchProcessor),
                _variant("emit + getpid() every span", _EveryTime)]
    return measure("batch emit per span", variants, _OPS, 5 if quick else 21)
