"""The web UI's metrics page: per service, each operation's rate, errors and latency over
every request (sampled or not), and a latency-over-time chart whose points open a kept
trace.

The charts are SVG drawn here, on the server: no script, no CDN, nothing to build. A
point is one export interval (all processes of the service merged); its p50, p95 and p99
are three lines, and a point with an exemplar is a link to that trace, so "the p99 went
up at 10:42" is one click from a request that was slow then. Every name is escaped.
"""

from __future__ import annotations

import html
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["chart", "render"]

_W, _H = 640, 160
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 64, 12, 10, 24
_LINES = (("p50_ns", "#4e79a7", "p50"), ("p95_ns", "#f28e2b", "p95"),
          ("p99_ns", "#e15759", "p99"))
_CSS = (".ops td.num{text-align:right}.chart{margin:.3em 0 1.2em}.chart text{font-size:10px;"
        "fill:#555}.chart .grid{stroke:#eee}.chart a circle{cursor:pointer}"
        ".legend span{margin-right:1em}")


def _ms(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.1f} ms"


def _clock(ns: int) -> str:
    return time.strftime("%H:%M", time.localtime(ns / 1e9))


def chart(steps: Sequence[Mapping[str, Any]], title: str) -> str:
    """An SVG latency chart of one operation's intervals (``report.timeline``)."""
    esc = html.escape
    values = [s[k] for s in steps for k, _, _ in _LINES if s.get(k) is not None]
    if not steps or not values:
        return "<p class='muted'>No intervals in this window.</p>"
    top = max(values) * 1.1 or 1.0
    first, last = steps[0]["time_unix_nano"], steps[-1]["time_unix_nano"]
    span = max(last - first, 1)
    inner_w, inner_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B

    def x(ns: int) -> float:
        return _PAD_L + (inner_w / 2 if len(steps) == 1 else (ns - first) / span * inner_w)

    def y(ns: float) -> float:
        return _PAD_T + inner_h - ns / top * inner_h

    parts = [f"<svg class='chart' role='img' aria-label='{esc(title)}' width='{_W}' "
             f"height='{_H}' viewBox='0 0 {_W} {_H}' xmlns='http://www.w3.org/2000/svg'>"]
    for i in range(5):
        level = top * i / 4
        parts.append(f"<line class='grid' x1='{_PAD_L}' x2='{_W - _PAD_R}' "
                     f"y1='{y(level):.1f}' y2='{y(level):.1f}'/><text x='{_PAD_L - 4}' "
                     f"y='{y(level) + 3:.1f}' text-anchor='end'>{_ms(level)}</text>")
    parts.append(f"<text x='{_PAD_L}' y='{_H - 6}'>{_clock(first)}</text><text "
                 f"x='{_W - _PAD_R}' y='{_H - 6}' text-anchor='end'>{_clock(last)}</text>")
    for key, colour, name in _LINES:
        dots = [(x(s["time_unix_nano"]), y(s[key]), s) for s in steps
                if s.get(key) is not None]
        if len(dots) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in dots)
            parts.append(f"<polyline class='line-{name}' fill='none' stroke='{colour}' "
                         f"stroke-width='1.5' points='{path}'/>")
        for px, py, step in dots:
            tip = (f"{name} {_ms(step[key])} at {_clock(step['time_unix_nano'])}, "
                   f"{step['count']} requests, {step['errors']} errors")
            dot = (f"<circle class='point-{name}' cx='{px:.1f}' cy='{py:.1f}' r='3' "
                   f"fill='{colour}'><title>{esc(tip)}</title></circle>")
            trace = step.get("exemplar_trace_id")
            if trace and name == "p99":  # the slow end is what an exemplar explains
                dot = (f"<a class='exemplar' href='/trace/{esc(urllib.parse.quote(trace))}'>"
                       f"{dot}</a>")
            parts.append(dot)
    parts.append("</svg>")
    legend = "".join(f"<span style='color:{colour}'>&#9679; {name}</span>"
                     for _, colour, name in _LINES)
    return (f"<div class='legend'>{legend}<span class='muted'>p99 points open their "
            "slowest kept trace</span></div>" + "".join(parts))


def render(rows: Sequence[Mapping[str, Any]],
           timelines: Mapping[tuple[str, str, str], Sequence[Mapping[str, Any]]]) -> str:
    """The page body: per service, its operations' table, then a chart per operation."""
    esc = html.escape
    services: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        services.setdefault(row["service"], []).append(row)
    if not services:
        return ("<p>No metrics in this window. Services write them when "
                "<code>[tracing] metrics_exporters</code> includes this store (the default "
                "when spans are stored here).</p>")
    out = [f"<style>{_CSS}</style>"]
    for service, operations in sorted(services.items()):
        out.append(f"<h2 id='service-{esc(service)}'>{esc(service)}</h2><table class='ops'>"
                   "<tr><th>kind</th><th>operation</th><th>rate/s</th><th>count</th>"
                   "<th>errors</th><th>p50</th><th>p95</th><th>p99</th><th>exemplar</th>"
                   "</tr>")
        for row in operations:
            trace = row.get("exemplar_trace_id")
            link = (f"<a href='/trace/{esc(urllib.parse.quote(trace))}'>{esc(trace[:16])}"
                    "</a>") if trace else "-"
            rate = "-" if row.get("rate_per_s") is None else f"{row['rate_per_s']:.2f}"
            error_class = " class='error'" if row["errors"] else ""
            out.append(
                f"<tr{error_class}><td>{esc(row['kind'])}</td><td>{esc(row['operation'])}"
                f"</td><td class='num'>{rate}</td><td class='num'>{row['count']}</td>"
                f"<td class='num'>{row['errors']} ({row['error_percent']:.1f}%)</td>"
                f"<td class='num'>{_ms(row['p50_ns'])}</td><td class='num'>"
                f"{_ms(row['p95_ns'])}</td><td class='num'>{_ms(row['p99_ns'])}</td>"
                f"<td>{link}</td></tr>")
        out.append("</table>")
        for row in operations:
            key = (row["service"], row["kind"], row["operation"])
            title = f"{row['operation']} ({row['kind']}) latency"
            out.append(f"<h3>{esc(title)}</h3>{chart(timelines.get(key, ()), title)}")
    return "".join(out)
