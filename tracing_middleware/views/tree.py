"""``--format tree``: an indented tree for the terminal.

One line per span::

    GET /v2.1/servers [nova-api] server        5.000 ms  +    0.000 ms
    └─ compute/build [nova-compute] server     3.000 ms  +    0.200 ms  ERROR

name, ``[service]``, kind, then the duration right-aligned in one column (milliseconds,
three decimals), the offset from the trace's first start, and ``ERROR`` last for spans
with error status (last so ``grep ERROR$`` and the eye both find it). A span whose
parent is not in the store starts at the left margin marked ``(parent not stored)``.
Control characters in names are escaped; ANSI colour only when asked (``color=True``).
"""

from __future__ import annotations

from tracing_middleware.export.store import Trace
from tracing_middleware.views._layout import children_of, printable, walk

__all__ = ["ORPHAN_MARK", "children_of", "render"]

#: Appended to a span shown at the root because its parent is missing.
ORPHAN_MARK = " (parent not stored)"
_RED, _CYAN, _DIM, _RESET = "\x1b[31m", "\x1b[36m", "\x1b[2m", "\x1b[0m"


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms"


def render(trace: Trace, color: bool = False) -> str:
    """The trace as indented text lines (no trailing newline)."""
    start = min((s.start_time_unix_nano for s in trace.spans), default=0)
    labels: list[tuple[str, str, int, int, bool]] = []
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
                       span.status == "error"))
    width = max((len(plain) for plain, *_ in labels), default=0)
    duration_width = max((len(_ms(d)) for _, _, d, _, _ in labels), default=0)
    offset_width = max((len(_ms(o)) for _, _, _, o, _ in labels), default=0)
    lines = []
    for plain, shown, duration, offset, error in labels:
        pad = " " * (width - len(plain))
        when = f"+{_ms(offset):>{offset_width}}"
        marker = ""
        if error:
            marker = f"  {_RED}ERROR{_RESET}" if color else "  ERROR"
        if color:
            when = f"{_DIM}{when}{_RESET}"
        lines.append(f"{shown}{pad}  {_ms(duration):>{duration_width}}  {when}{marker}")
    return "\n".join(lines)
