"""The engine-neutral finished span: what the store keeps and every view reads.

Each tracer plugin converts its own finished spans into :class:`SpanRecord`, so the
``os-tracing`` command, the store and the views work the same whatever engine produced
the span.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["KINDS", "SpanEvent", "SpanRecord", "STATUSES"]

#: Span kinds, OpenTelemetry's names in lower case.
KINDS = ("internal", "server", "client", "producer", "consumer")
#: Span status codes, OpenTelemetry's names in lower case.
STATUSES = ("unset", "ok", "error")


@dataclasses.dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time_unix_nano: int
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "time_unix_nano": self.time_unix_nano,
            "attributes": dict(self.attributes),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class SpanRecord:
    """One finished span.

    Ids are lowercase hex: ``trace_id`` 32 digits, ``span_id`` and ``parent_span_id`` 16
    (``parent_span_id`` is ``None`` for a root). ``status`` is one of :data:`STATUSES`,
    ``kind`` one of :data:`KINDS`. Attribute values are JSON scalars or lists of them.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str
    kind: str
    start_time_unix_nano: int
    duration_ns: int
    status: str = "unset"
    status_message: str = ""
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()
    resource: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def end_time_unix_nano(self) -> int:
        return self.start_time_unix_nano + self.duration_ns

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape of one span (``os-tracing trace show --format json``)."""
        return {
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "name": self.name,
            "service": self.service,
            "kind": self.kind,
            "start_time_unix_nano": self.start_time_unix_nano,
            "duration_ns": self.duration_ns,
            "status": self.status,
            "status_message": self.status_message,
            "attributes": dict(self.attributes),
            "events": [e.to_json() for e in self.events],
        }
