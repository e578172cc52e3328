"""The local exporters every engine shares: the embedded store and the console.

Each engine converts its own finished spans to :class:`SpanRecord`; from there the store
and the JSON-lines console output are the same whatever produced the span.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from tracing_middleware import _guard
from tracing_middleware.config import ExporterURL
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore

__all__ = ["StoreWriter", "local_exporter", "write_console"]

LOG = logging.getLogger(__name__)

Export = Callable[[Sequence[Any]], bool]


class StoreWriter:
    """Writes finished spans into the embedded SQLite store.

    Runs on the batch processor's thread. A locked or full database costs the batch (counted
    in ``dropped`` and logged once per failure streak), never an exception anywhere else.
    """

    def __init__(self, url: str) -> None:
        self._store = SpanStore.from_url(url)
        self._url = url
        self.dropped = 0
        self._failing = False

    def write_records(self, records: Sequence[SpanRecord]) -> bool:
        try:
            self._store.write(records)
        except Exception as exc:
            self.dropped += len(records)
            if not self._failing:
                self._failing = True
                LOG.warning("os-tracing: cannot write to the span store %s (%s); spans are "
                            "dropped until it recovers", self._url, exc)
            return False
        if self._failing:
            self._failing = False
            LOG.info("os-tracing: span store %s writable again (%d spans dropped so far)",
                     self._url, self.dropped)
        return True

    def shutdown(self) -> None:
        try:
            self._store.close()
        except Exception:
            LOG.debug("os-tracing: closing the store failed", exc_info=True)


def write_console(records: Sequence[SpanRecord], out: IO[str] | None = None) -> None:
    """One JSON line per span (the ``trace show --format json`` span shape, plus its
    trace id), on stderr unless ``out`` is given."""
    out = out or sys.stderr
    for record in records:
        out.write(json.dumps(dict(record.to_json(), trace_id=record.trace_id),
                             default=str) + "\n")
    out.flush()


def local_exporter(url: ExporterURL, convert: Callable[[Any], SpanRecord]
                   ) -> tuple[Export, Callable[[], None]] | None:
    """``(export, close)`` for ``sqlite://`` and ``console://``; ``None`` for other URLs."""
    def records(spans: Sequence[Any]) -> list[SpanRecord]:
        # A span that cannot be converted (a bug) costs itself: retrying could never fix
        # it, and raising would make the batch processor keep the batch forever.
        out = []
        for span in spans:
            try:
                out.append(convert(span))
            except Exception:
                _guard.swallow("converting a span for " + url.scheme)
        return out

    if url.scheme == "sqlite":
        store = StoreWriter(url.url)

        def export_store(spans: Sequence[Any]) -> bool:
            return store.write_records(records(spans))
        return export_store, store.shutdown
    if url.scheme == "console":
        def export_console(spans: Sequence[Any]) -> bool:
            write_console(records(spans))
            return True
        return export_console, lambda: None
    return None
