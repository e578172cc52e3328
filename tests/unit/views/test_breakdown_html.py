"""The breakdown fragment of the web UI: the CLI's numbers, drawn and escaped."""

from __future__ import annotations

import re

from tracing_middleware.export.store import Trace
from tracing_middleware.views import analysis, breakdown_html

from .test_analysis import MS, T, boot, span


def test_bars_and_tables_hold_the_breakdown_numbers():
    """Each kind's segment is its share of the kinds' sum; the tables print the same ms
    and shares as ``trace breakdown``; the wait outside any span is explained."""
    page = breakdown_html.render(analysis.breakdown(boot()))
    kinds_total = (164 + 13 + 10 + 10 + 10) * MS  # total_ns + the 4 ms outside spans
    widths = dict(re.findall(r"<span class='kind-(\w+)' style='width:([\d.]+)%", page))
    assert widths == {kind: f"{100 * ns * MS / kinds_total:.3f}" for kind, ns in (
        ("processing", 164), ("queue_wait", 13), ("reply_wait", 10), ("database", 10),
        ("http_client", 10))}
    row = re.search(r"<tr class='kind-queue_wait'>.*?</tr>", page).group(0)
    assert "queue wait" in row and "13.000 ms" in row and "6.3%" in row
    assert re.search(r"<tr class='service'>.*?api</td><td class='num'>", page)
    assert "4.000 ms of the waits fall outside every span" in page
    assert page.count("<tr class='service'>") == len(analysis.breakdown(boot())["by_service"])


def test_hostile_service_names_are_escaped_and_empty_parts_not_drawn():
    trace = Trace(T, [span("a", None, "GET /", "<img src=x onerror=alert(1)>", "server",
                           0, 10)])
    page = breakdown_html.render(analysis.breakdown(trace))
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "class='kind-queue_wait' style" not in page  # 0 ns: a row, no segment
    assert "<tr class='kind-queue_wait'>" in page
    assert "outside every span" not in page


def test_an_empty_trace_draws_nothing_and_divides_by_nothing():
    page = breakdown_html.render(analysis.breakdown(Trace(T, [])))
    assert "<section id='breakdown'" in page and "0.000 ms" in page and "-</td>" in page
