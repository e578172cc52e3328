"""``--format tree``: an indented tree for the terminal.

One line per span::

    GET /v2.1/servers [nova-api] server        5.000 ms  +    0.000 ms
    └─ compute/build [nova-compute] server     3.000 ms  +    0.200 ms  ERROR

name, ``[service]``, kind, then the duration right-aligned in one column (milliseconds,
three decimals), the offset from the trace's first start, and ``ERROR`` last for spans
with error status (last so ``grep ERROR$`` and the eye both find it). A span whose
parent is not in the store starts at the left margin marked ``(parent not stored)``.

Given the trace's critical path (``analysis.critical_path``), each span on it is marked
``◆`` with the part of the latency it holds, so the tree answers "why was this slow"
without a second command::

    GET /v2.1/servers [nova-api] server        5.000 ms  +    0.000 ms  ◆ 2.000 ms
    └─ compute/build [nova-compute] server     3.000 ms  +    0.200 ms  ◆ 3.000 ms
Control characters in names are escaped; ANSI colour only when asked (``color=True``).
"""

from __future__ import annotations

from collections.abc import Mapping

from tracing_middleware.export.store import Trace
from tracing_middleware.views._layout import children_of, printable, walk

__all__ = ["CRITICAL_MARK", "ORPHAN_MARK", "children_of", "render"]

#: Appended to a span shown at the root because its parent is missing.
ORPHAN_MARK = " (parent not stored)"
#: Marks a span on the critical path, before the latency it holds.
CRITICAL_MARK = "◆"
_RED, _CYAN, _DIM, _BOLD, _RESET = "\x1b[31m", "\x1b[36m", "\x1b[2m", "\x1b[1m", "\x1b[0m"


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms"


def render(trace: Trace, color: bool = False,
           critical: Mapping[str, int] | None = None) -> str:
    """The trace as indented text lines (no trailing newline); ``critical`` maps the span
    ids on the critical path to their contribution in ns."""
    critical = critical or {}
    start = min((s.start_time_unix_nano for s in trace.spans), default=0)
    labels: list[tuple[str, str, int, int, bool, int | None]] = []
    for node in walk(trace):
        span = node.span
        guides = "".join("   " if last else "│  " for last in node.ancestors_last[1:])
        branch = "" if node.depth == 0 else ("└─ " if node.last else "├─ ")
        orphan = ORPHAN_MARK if node.orphan else ""
        service = f"[{printable(span.service)}]"
        plain = f"{guides}{branch}{printable(span.name)} {service} {span.kind}{orphan}"
        shown = plain
        if color:
            shown = plain.replace(service, f"{_CYAN}{service}{_RESET}", 1)
        labels.append((plain, shown, span.duration_ns, span.start_time_unix_nano - start,
                       span.status == "error", critical.get(span.span_id)))
    width = max((len(plain) for plain, *_ in labels), default=0)
    duration_width = max((len(_ms(d)) for _, _, d, _, _, _ in labels), default=0)
    offset_width = max((len(_ms(o)) for _, _, _, o, _, _ in labels), default=0)
    path_width = max((len(_ms(c)) for *_, c in labels if c is not None), default=0)
    lines = []
    for plain, shown, duration, offset, error, contribution in labels:
        pad = " " * (width - len(plain))
        when = f"+{_ms(offset):>{offset_width}}"
        marker = ""
        if contribution is not None:
            held = f"{CRITICAL_MARK} {_ms(contribution):>{path_width}}"
            marker = f"  {_BOLD}{held}{_RESET}" if color else f"  {held}"
        elif path_width and error:
            marker = " " * (len(CRITICAL_MARK) + path_width + 3)
        if error:
            marker += f"  {_RED}ERROR{_RESET}" if color else "  ERROR"
        if color:
            when = f"{_DIM}{when}{_RESET}"
        lines.append(f"{shown}{pad}  {_ms(duration):>{duration_width}}  {when}{marker}")
    return "\n".join(lines)
