"""What the store's tests share: a span built from small numbers, and a fresh store."""

from __future__ import annotations

import pytest

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore

BASE = 1_700_000_000_000_000_000
MS = 1_000_000


def span(trace: int, span_id: int, parent: int | None = None, *, start_ms: float = 0,
         duration_ms: float = 1, name: str | None = None, service: str = "svc",
         **kw) -> SpanRecord:
    return SpanRecord(f"{trace:032x}", f"{span_id:016x}",
                      f"{parent:016x}" if parent is not None else None,
                      name or f"op{span_id}", service,
                      "server" if parent is None else "internal",
                      BASE + int(start_ms * MS), int(duration_ms * MS), **kw)


@pytest.fixture
def store(tmp_path):
    s = SpanStore(str(tmp_path / "t.db"))
    yield s
    s.close()
