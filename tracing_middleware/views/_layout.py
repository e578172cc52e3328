"""The parent/child structure every view shares, robust to what a store can hold.

Stored traces are often incomplete (a service that does not export, a dropped batch) and
imported ones are untrusted, so: a span whose parent is not in the trace is a root
(flagged ``orphan``), a parent cycle is broken where it is found, and the walk is
iterative, so a 10 000-deep chain cannot hit Python's recursion limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import Trace

__all__ = ["Node", "children_of", "printable", "walk"]


@dataclasses.dataclass(frozen=True)
class Node:
    """One span in display order: its depth, whether it is its parent's last child, whether
    its parent is missing, and for each ancestor level whether that ancestor was last
    (what a tree view needs to draw its guide lines)."""

    span: SpanRecord
    depth: int
    last: bool
    orphan: bool
    ancestors_last: tuple[bool, ...]


def _start(span: SpanRecord) -> tuple[int, str]:
    return span.start_time_unix_nano, span.span_id


def children_of(trace: Trace) -> tuple[list[SpanRecord], dict[str, list[SpanRecord]]]:
    """Roots (including orphans whose parent was not stored) and children by parent id,
    each list ordered by start time."""
    ids = {s.span_id for s in trace.spans}
    children: dict[str, list[SpanRecord]] = {}
    roots = []
    for span in sorted(trace.spans, key=_start):
        if span.parent_span_id and span.parent_span_id in ids \
                and span.parent_span_id != span.span_id:
            children.setdefault(span.parent_span_id, []).append(span)
        else:
            roots.append(span)
    return roots, children


def walk(trace: Trace) -> Iterator[Node]:
    """Every span exactly once, depth first, children in start order.

    Spans only reachable through a parent cycle are emitted as extra roots (marked
    orphan) once the normal roots are done.
    """
    roots, children = children_of(trace)
    seen: set[str] = set()
    pending = list(roots)
    leftovers = sorted(trace.spans, key=_start)
    while True:
        stack: list[tuple[SpanRecord, int, bool, tuple[bool, ...]]] = [
            (root, 0, i == len(pending) - 1, ()) for i, root in enumerate(pending)][::-1]
        while stack:
            span, depth, last, ancestors = stack.pop()
            if span.span_id in seen:
                continue
            seen.add(span.span_id)
            orphan = depth == 0 and span.parent_span_id is not None
            yield Node(span, depth, last, orphan, ancestors)
            kids = [k for k in children.get(span.span_id, []) if k.span_id not in seen]
            for i in range(len(kids) - 1, -1, -1):
                stack.append((kids[i], depth + 1, i == len(kids) - 1, (*ancestors, last)))
        pending = [s for s in leftovers if s.span_id not in seen][:1]
        if not pending:
            return


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7f)}


def printable(text: str) -> str:
    """``text`` with control characters escaped: span names are untrusted and a terminal
    obeys escape sequences, so a name must not be able to rewrite the screen."""
    return text.translate(_CONTROL) if not text.isprintable() else text
