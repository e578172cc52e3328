"""Two traces of one operation side by side, for ``os-tracing serve``'s ``/diff`` page.

The numbers are :func:`tracing_middleware.views.analysis.diff`'s and the rows are its
matching (a span matches the span with the same path of service, name and position from
the root), so the page, ``os-tracing trace diff`` and its ``--format json`` agree. Each
row is one matched pair, or a span found in one trace only, in tree order: A's order,
with each span only B has placed after the sibling it follows in B.

Both columns share one time scale (the longer trace's length), so a slower span also
looks longer; each bar is offset from its own trace's start. Changed rows are
highlighted and carry their delta in words (``+20.000 ms (+200.0%)``), as do rows only
one trace has, so nothing is told by colour alone. Span names and services are untrusted
and HTML-escaped. Server-rendered, no script.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import Trace
from tracing_middleware.views import analysis
from tracing_middleware.views.analysis import spans_by_path

__all__ = ["MAX_ROWS", "Row", "aligned", "render"]

#: Rows drawn at most; a trace of tens of thousands of spans would make a page no
#: browser scrolls, and the summary above already names the biggest changes.
MAX_ROWS = 3000

#: Critical-path changes listed in the summary.
_SUMMARY_ROWS = 10

_Key = tuple[tuple[str, str, int], ...]

_CSS = """#diff-summary td.num,#diff td.delta{text-align:right;white-space:nowrap;
font-variant-numeric:tabular-nums}
#diff{table-layout:fixed;width:100%}#diff col.side{width:42%}#diff col.delta{width:16%}
#diff td{padding:2px 6px;vertical-align:middle}
#diff .cell{display:flex;align-items:center;gap:6px}
#diff .label{flex:0 0 45%;box-sizing:border-box;overflow:hidden;white-space:nowrap;
text-overflow:ellipsis}
#diff .lane{position:relative;flex:1;height:12px;background:#f4f4f4}
#diff .bar{position:absolute;top:0;height:12px;min-width:2px;background:#4e79a7;
border-radius:2px}
#diff .err .bar{background:#c0392b}#diff .err .label{color:#b00020}
#diff .ms{flex:0 0 6.5em;text-align:right;font-variant-numeric:tabular-nums}
#diff tr.slower td{background:#fff1c2}#diff tr.faster td{background:#dff3e4}
#diff tr.only-a td{background:#f3e5e5}#diff tr.only-b td{background:#e2ecf8}
#diff td.absent{color:#777;font-style:italic}
#diff td.delta .pct{color:#555;margin-left:.3em}
.worse{color:#9a3412;font-weight:600}.better{color:#166534;font-weight:600}"""


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the page: the span of each trace at one path (``None`` where that
    trace has none) and its depth below the root."""

    path: _Key
    depth: int
    a: SpanRecord | None
    b: SpanRecord | None


def _children(keyed: Mapping[_Key, SpanRecord]) -> dict[_Key, list[_Key]]:
    """Child paths by parent path (the root level under ``()``), in tree order."""
    children: dict[_Key, list[_Key]] = {}
    for key in keyed:  # already depth first, siblings in start order
        children.setdefault(key[:-1], []).append(key)
    return children


def _merge(in_a: Sequence[_Key], in_b: Sequence[_Key], known_a: Mapping[_Key, Any]
           ) -> list[_Key]:
    """Siblings in A's order, each path only B has inserted after the path before it in
    B (at the front when it is B's first)."""
    follower: dict[_Key | None, _Key] = {}  # each key precedes at most one key of B
    previous: _Key | None = None
    for key in in_b:
        if key not in known_a:
            follower[previous] = key
        previous = key
    merged: list[_Key] = []
    for key in (None, *in_a):
        if key is not None:
            merged.append(key)
        following = follower.get(key)
        while following is not None:
            merged.append(following)
            following = follower.get(following)
    return merged


def aligned(a: Trace, b: Trace) -> list[Row]:
    """Every span of either trace once, matched as :func:`analysis.diff` matches them,
    depth first."""
    keyed_a, keyed_b = spans_by_path(a), spans_by_path(b)
    children_a, children_b = _children(keyed_a), _children(keyed_b)
    rows: list[Row] = []
    todo: list[_Key] = _merge(children_a.get((), []), children_b.get((), []), keyed_a)[::-1]
    while todo:  # iterative: a chain thousands of spans deep must not recurse
        key = todo.pop()
        rows.append(Row(key, len(key) - 1, keyed_a.get(key), keyed_b.get(key)))
        todo.extend(_merge(children_a.get(key, []), children_b.get(key, []),
                           keyed_a)[::-1])
    return rows


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms"


def _signed_ms(ns: int) -> str:
    return ("+" if ns > 0 else "") + _ms(ns)


def _percent(delta: int, base: int) -> str:
    """The change relative to A, or empty when A took no time (no finite ratio)."""
    return f"{'+' if delta > 0 else ''}{100 * delta / base:.1f}%" if base else ""


def _key(path: Sequence[Sequence[Any]]) -> _Key:
    return tuple((str(service), str(name), int(index)) for service, name, index in path)


def _span_label(path: Sequence[Sequence[Any]]) -> str:
    """The last step of a path as ``name [service] #n``, the full path as its tooltip."""
    service, name, index = path[-1]
    full = " > ".join(f"{n} [{s}]" + (f" #{i + 1}" if i else "") for s, n, i in path)
    return (f"<span title='{html.escape(full)}'>{html.escape(str(name))} "
            f"<small>[{html.escape(str(service))}]{f' #{index + 1}' if index else ''}"
            "</small></span>")


def _bounds(trace: Trace) -> tuple[int, int]:
    start = min((s.start_time_unix_nano for s in trace.spans), default=0)
    end = max((s.start_time_unix_nano + max(0, s.duration_ns) for s in trace.spans),
              default=start)
    return start, end - start


def _side(span: SpanRecord | None, depth: int, origin: int, scale: int,
          only: str) -> str:
    if span is None:
        return f"<td class='absent'>\u2014 only in {only}</td>"
    esc = html.escape
    duration = max(0, span.duration_ns)
    left = min(max((span.start_time_unix_nano - origin) / scale * 100, 0.0), 100.0)
    width = min(duration / scale * 100, 100.0 - left)
    # First in the label, so a long name's ellipsis cannot hide it.
    error = "<b>ERROR</b> " if span.status == "error" else ""
    return (f"<td class='side{' err' if span.status == 'error' else ''}'><div class='cell'>"
            f"<div class='label' style='padding-left:{depth * 12}px' "
            f"title='{esc(span.name)} [{esc(span.service)}]'>{error}{esc(span.name)} "
            f"<small>[{esc(span.service)}]</small></div>"
            f"<div class='lane'><div class='bar' style='left:{left:.3f}%;"
            f"width:{width:.3f}%'></div></div><span class='ms'>{_ms(duration)}</span>"
            "</div></td>")


def _summary(report: Mapping[str, Any], link: Callable[[str], str] | None) -> str:
    esc = html.escape
    path = report["critical_path"]
    delta = path["delta_ns"]
    tone = "worse" if delta > 0 else "better" if delta < 0 else ""
    pct = _percent(delta, path["a_ns"])

    def trace(name: str) -> str:
        trace_id = esc(str(report[name]))
        return f"<a href='{esc(link(report[name]))}'>{trace_id}</a>" if link else trace_id

    counts = (f"{len(report['changed'])} changed, {len(report['only_in_a'])} only in A, "
              f"{len(report['only_in_b'])} only in B")
    head = (f"<p id='diff-traces'>A {trace('a')} \u00b7 B {trace('b')} \u00b7 {counts}</p>"
            f"<p id='critical-path-total'>Critical path: A <b>{_ms(path['a_ns'])}</b>, "
            f"B <b>{_ms(path['b_ns'])}</b>: <span class='{tone}'>{_signed_ms(delta)}"
            f"{f' ({pct})' if pct else ''}</span></p>")
    changes = path["changed"]
    if not changes:
        return head + "<p id='diff-summary'>Nothing on the critical paths changed.</p>"
    rows = "".join(
        f"<tr><td>{_span_label(c['path'])}</td><td class='num'>{_ms(c['a_ns'])}</td>"
        f"<td class='num'>{_ms(c['b_ns'])}</td><td class='num'>{_signed_ms(c['delta_ns'])}"
        "</td></tr>" for c in changes[:_SUMMARY_ROWS])
    more = (f"<p class='muted'>and {len(changes) - _SUMMARY_ROWS} more on the critical "
            "paths</p>") if len(changes) > _SUMMARY_ROWS else ""
    return (head + "<table id='diff-summary'><tr><th>on the critical path</th>"
            "<th>A time on it</th><th>B time on it</th><th>delta</th></tr>" + rows
            + "</table>" + more)


def render(a: Trace, b: Trace, min_change_ns: int = 0,
           link: Callable[[str], str] | None = None, max_rows: int = MAX_ROWS) -> str:
    """The comparison as an HTML fragment: the critical-path summary, then the aligned
    rows. ``min_change_ns`` is :func:`analysis.diff`'s (smaller changes are not
    highlighted); ``link(trace_id)`` gives each trace's page."""
    report = analysis.diff(a, b, min_change_ns=min_change_ns)
    changed = {_key(c["path"]): c for c in report["changed"]}
    origin_a, length_a = _bounds(a)
    origin_b, length_b = _bounds(b)
    scale = max(length_a, length_b, 1)
    rows = aligned(a, b)
    lines = []
    for row in rows[:max_rows]:
        if row.a is None or row.b is None:
            kind = "only-a" if row.b is None else "only-b"
            delta = f"<td class='delta'>only in {'A' if row.b is None else 'B'}</td>"
        else:
            old, new = max(0, row.a.duration_ns), max(0, row.b.duration_ns)
            change = changed.get(row.path)
            if change is not None:
                kind = "changed slower" if change["delta_ns"] > 0 else "changed faster"
                pct = _percent(change["delta_ns"], change["a_ns"])
                pct_html = f" <span class='pct'>({pct})</span>" if pct else ""
                delta = (f"<td class='delta'><b>{_signed_ms(change['delta_ns'])}</b>"
                         f"{pct_html}</td>")
            else:
                kind = "same"
                delta = (f"<td class='delta muted'>{_signed_ms(new - old)}</td>"
                         if new != old else "<td class='delta muted'>=</td>")
        lines.append(f"<tr class='{kind}'>{_side(row.a, row.depth, origin_a, scale, 'B')}"
                     f"{_side(row.b, row.depth, origin_b, scale, 'A')}{delta}</tr>")
    cut = (f"<p class='muted' id='diff-cut'>Showing the first {max_rows} of {len(rows)} "
           "rows.</p>") if len(rows) > max_rows else ""
    table = ("<table id='diff'><colgroup><col class='side'><col class='side'>"
             "<col class='delta'></colgroup><tr><th>A</th><th>B</th><th>B \u2212 A</th>"
             "</tr>" + "".join(lines) + "</table>")
    return f"<style>{_CSS}</style>{_summary(report, link)}{table}{cut}"
