"""The breakdown as an HTML fragment: where a trace's time went, by kind and by service.

The web UI shows it above the waterfall, so the first thing an operator sees of a slow
request is whether it waited in a queue, for a reply, on the database or on an HTTP call,
and which service did the work. It renders the dict :func:`analysis.breakdown` returns
(the ``trace breakdown --format json`` document), so the page and the CLI cannot
disagree. Two stacked bars with a legend and a table each; plain HTML and inline styles,
no script, every name escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from tracing_middleware.views.analysis import TIME_KINDS
from tracing_middleware.views.html import PALETTE

__all__ = ["KIND_COLOURS", "KIND_LABELS", "render"]

#: What each kind of time is called on the page.
KIND_LABELS = {"processing": "processing", "queue_wait": "queue wait",
               "reply_wait": "reply wait", "database": "database",
               "http_client": "HTTP client"}
#: One colour per kind; the waiting kinds are the warm ones.
KIND_COLOURS = {"processing": "#4e79a7", "queue_wait": "#e15759", "reply_wait": "#f28e2b",
                "database": "#59a14f", "http_client": "#b07aa1"}
_CSS = (".breakdown{margin:.3em 0 .8em}.breakdown h2{margin:.2em 0;font-size:16px}"
        ".breakdown .halves{display:flex;gap:2em;flex-wrap:wrap}.breakdown .half{flex:1;"
        "min-width:280px}.breakdown h3{margin:.3em 0;font-size:13px}"
        ".stack{display:flex;height:12px;border:1px solid #ccc;margin:.2em 0 .3em}"
        ".stack span{display:block;height:100%}.breakdown table{width:auto;font-size:12px}"
        ".breakdown td{padding:0 8px;border:0}.breakdown td.num{text-align:right}"
        ".breakdown .sw{display:inline-block;width:9px;height:9px;margin-right:4px}"
        ".breakdown p{margin:.2em 0}")


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _section(title: str, parts: list[tuple[str, str, str, int]], whole: int) -> str:
    """A stacked bar and its table; ``parts`` are (css class, label, colour, ns)."""
    esc = html.escape
    bar = "".join(
        f"<span class='{esc(cls)}' style='width:{100 * ns / whole:.3f}%;"
        f"background:{colour}' title='{esc(label)}: {_ms(ns)}'></span>"
        for cls, label, colour, ns in parts if ns > 0) if whole else ""
    rows = "".join(
        f"<tr class='{esc(cls)}'><td><i class='sw' style='background:{colour}'></i>"
        f"{esc(label)}</td><td class='num'>{_ms(ns)}</td>"
        f"<td class='num'>{_share(ns, whole)}</td></tr>"
        for cls, label, colour, ns in parts)
    return (f"<div class='half'><h3>{esc(title)}</h3><div class='stack' role='img' "
            f"aria-label='{esc(title)}'>{bar}</div><table>{rows}</table></div>")


def render(report: Mapping[str, Any]) -> str:
    """The fragment for one breakdown document (a ``<section id='breakdown'>``)."""
    by_kind = report["by_kind"]
    kinds = [(f"kind-{kind}", KIND_LABELS[kind], KIND_COLOURS[kind], by_kind[kind])
             for kind in TIME_KINDS]
    # The waterfall's colour for each service: by the sorted names' order.
    order = {name: i for i, name in enumerate(sorted(report["by_service"]))}
    services = [("service", name, PALETTE[order[name] % len(PALETTE)], ns)
                for name, ns in report["by_service"].items()]
    outside = report.get("wait_outside_self_ns", 0)
    note = (f"<p class='muted'>{_ms(outside)} of the waits fall outside every span (a "
            "cast's message queued after its sender's span ended), so the kinds add up to "
            "more than the spans' own time.</p>") if outside else ""
    return (f"<style>{_CSS}</style><section id='breakdown' class='breakdown'>"
            f"<h2>Where the time went</h2><p class='muted'>{_ms(report['total_ns'])} of "
            f"spans' own time over {report['span_count']} spans; the root took "
            f"{_ms(report['duration_ns'])}.</p>"
            + "<div class='halves'>"
            + _section("By kind of work", kinds, sum(by_kind.values()))
            + _section("By service", services, report["total_ns"]) + "</div>" + note
            + "</section>")
