"""The analyses of :mod:`tracing_middleware.views.analysis` as text for the terminal.

Each function takes the dict its analysis returns (the ``--format json`` document), so
what a person reads and what a script reads cannot drift apart. Durations are
milliseconds with three decimals, right-aligned; names are escaped with
:func:`~tracing_middleware.views._layout.printable`, since they are untrusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tracing_middleware.views._layout import printable
from tracing_middleware.views.tree import ORPHAN_MARK

__all__ = ["breakdown", "critical_path", "dependencies", "diff"]


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms"


def _signed_ms(ns: int) -> str:
    return ("+" if ns > 0 else "") + _ms(ns)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _table(rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def critical_path(report: Mapping[str, Any]) -> str:
    """The path as an indented list: span, its duration, its contribution and share."""
    total = report["duration_ns"]
    rows = [("SPAN", "DURATION", "ON PATH", "SHARE", "")]
    for step in report["path"]:
        label = (f"{'  ' * step['depth']}{printable(step['name'])} "
                 f"[{printable(step['service'])}] {step['kind']}"
                 f"{ORPHAN_MARK if step['orphan'] else ''}")
        rows.append((label, _ms(step["duration_ns"]), _ms(step["contribution_ns"]),
                     _share(step["contribution_ns"], total),
                     "ERROR" if step["status"] == "error" else ""))
    lines = _table(rows, right={1, 2, 3})
    lines.append(f"critical path of {report['trace_id']}: {_ms(total)}, the root's "
                 "duration")
    if report["after_root_ns"]:
        lines.append(f"the trace went on {_ms(report['after_root_ns'])} after the root "
                     "ended; the root did not wait for that work, so it is not on the path")
    return "\n".join(lines)


def breakdown(report: Mapping[str, Any]) -> str:
    """Self time by service, then time by kind, each with its share."""
    total = report["total_ns"]
    rows = [("SERVICE", "SELF TIME", "SHARE")]
    rows += [(printable(service), _ms(ns), _share(ns, total))
             for service, ns in report["by_service"].items()]
    kinds = report["by_kind"]
    all_kinds = sum(kinds.values())
    rows += [("", "", ""), ("KIND", "TIME", "SHARE")]
    rows += [(kind, _ms(ns), _share(ns, all_kinds)) for kind, ns in kinds.items()]
    lines = _table(rows, right={1, 2})
    lines.append(f"trace {report['trace_id']}: {_ms(total)} of self time in "
                 f"{report['span_count']} spans; the root lasted {_ms(report['duration_ns'])}")
    if report["wait_outside_self_ns"]:
        lines.append(f"{_ms(report['wait_outside_self_ns'])} of the waits lie outside any "
                     "span (messages queued after their sender's span ended)")
    return "\n".join(lines)


def _span_path(path: Sequence[Sequence[Any]]) -> str:
    return " > ".join(f"{printable(name)} [{printable(service)}]"
                      + (f" #{index + 1}" if index else "")
                      for service, name, index in path)


def diff(report: Mapping[str, Any]) -> str:
    """The critical path's change, changed spans, then spans found in one trace only."""
    path = report["critical_path"]
    lines = [f"a {report['a']}: {_ms(path['a_ns'])}",
             f"b {report['b']}: {_ms(path['b_ns'])} ({_signed_ms(path['delta_ns'])})"]
    for title, entries in (("ON THE CRITICAL PATH", path["changed"]),
                           ("CHANGED", report["changed"])):
        lines.append("")
        if not entries:
            lines.append(f"{title}: nothing")
            continue
        rows = [(title, "A", "B", "DELTA")]
        rows += [(_span_path(e["path"]), _ms(e["a_ns"]), _ms(e["b_ns"]),
                  _signed_ms(e["delta_ns"])) for e in entries]
        lines += _table(rows, right={1, 2, 3})
    for title, key, entries in (("ONLY IN A", "a_ns", report["only_in_a"]),
                                ("ONLY IN B", "b_ns", report["only_in_b"])):
        lines.append("")
        if not entries:
            lines.append(f"{title}: nothing")
            continue
        listed = [(title, "DURATION")]
        listed += [(_span_path(e["path"]), _ms(e[key])) for e in entries]
        lines += _table(listed, right={1})
    return "\n".join(lines)


def dependencies(report: Mapping[str, Any]) -> str:
    """One line per edge: from, to, protocol, calls, errors, p50, p95."""
    rows = [("FROM", "TO", "PROTOCOL", "CALLS", "ERRORS", "P50", "P95")]
    rows += [(printable(e["from"]), printable(e["to"]), e["protocol"], str(e["calls"]),
              str(e["errors"]), _ms(e["p50_ns"]), _ms(e["p95_ns"]))
             for e in report["edges"]]
    return "\n".join(_table(rows, right={3, 4, 5, 6}))
