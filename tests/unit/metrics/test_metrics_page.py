"""The web UI's metrics page over HTTP: the command's numbers, a chart per operation whose
p99 points open their exemplar traces, hostile names escaped."""

from __future__ import annotations

import re
import time
import urllib.request

from tracing_middleware.cmd.serve import UIServer
from tracing_middleware.metrics import report
from tracing_middleware.metrics.points import SeriesKey
from tracing_middleware.metrics.store import MetricStore
from tracing_middleware.views import metrics_html

from .test_report import T1, T2, _points


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.read().decode()


def test_metrics_page_shows_each_operation_and_links_slow_points(tmp_path):
    now = time.time_ns()
    url = f"sqlite:///{tmp_path}/traces.db"
    MetricStore.from_url(url).write(_points(now), "ctl1:42")
    ui = UIServer(url, "127.0.0.1", 0).start()
    try:
        page = _get(f"{ui.url}/metrics?since=30")
        assert "<h2 id='service-nova-api'>nova-api</h2>" in page
        row = re.search(r"<tr class='error'><td>server</td><td>DELETE /v2.1/servers/\{id\}"
                        r"</td>.*?</tr>", page).group(0)
        assert "<td class='num'>100</td>" in row and "2 (2.0%)" in row
        assert f"href='/trace/{T2}'" in row
        charts = page.count("<svg class='chart'")
        assert charts == 2  # DELETE and GET
        assert page.count("class='line-p99'") == 1  # two intervals for DELETE: a line
        links = re.findall(r"<a class='exemplar' href='/trace/(\w+)'>", page)
        assert links == [T1, T2]
        assert "No metrics" in _get(f"{ui.url}/metrics?service=glance-api")
        assert "href='/metrics'" in _get(f"{ui.url}/")
    finally:
        ui.stop()


def test_hostile_names_are_escaped():
    now = time.time_ns()
    points = [p.__class__(SeriesKey("<svc>", "server", "<script>x</script>", "2xx"),
                          *[getattr(p, f) for f in p.__slots__[1:]])
              for p in _points(now)]
    rows = report.operations(points)
    page = metrics_html.render(rows, {(r["service"], r["kind"], r["operation"]):
                                      report.timeline(points, r["service"], r["kind"],
                                                      r["operation"]) for r in rows})
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<svc>" not in page
