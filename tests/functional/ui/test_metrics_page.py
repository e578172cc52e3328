"""The metrics page in headless Chromium: the per-operation table and the latency chart
whose p99 points open their exemplar traces."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from tracing_middleware.cmd.serve import UIServer
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore
from tracing_middleware.metrics.histogram import ExponentialHistogram
from tracing_middleware.metrics.points import Exemplar, SeriesKey, SeriesPoint
from tracing_middleware.metrics.store import MetricStore

from .conftest import screenshot

MS = 1_000_000
SLOW = "5e" * 16


def _interval(end: int, count: int, slow_ms: int, errors: int = 0,
              exemplar: str | None = None) -> SeriesPoint:
    histogram = ExponentialHistogram()
    values = [40 * MS] * (count - 1) + [slow_ms * MS]
    for value in values:
        histogram.record(value)
    exemplars = (Exemplar(slow_ms * MS, end - 10**9, exemplar, "a" * 16),) if exemplar else ()
    return SeriesPoint(SeriesKey("nova-api", "server", "DELETE /v2.1/servers/{id}",
                                 "5xx" if errors else "2xx"), end - 60 * 10**9, end, count,
                       errors, sum(values), min(values), max(values), histogram.point(),
                       exemplars)


@pytest.mark.browser
def test_metrics_page_links_a_slow_interval_to_its_trace(tmp_path, browser):
    now = time.time_ns()
    url = f"sqlite:///{tmp_path}/traces.db"
    store = SpanStore.from_url(url)
    store.write([SpanRecord(SLOW, "a" * 16, None, "DELETE /v2.1/servers/{id}", "nova-api",
                            "server", now - 10**9, 4_000 * MS, status="error")])
    store.close()
    intervals = [_interval(now - (5 - i) * 60 * 10**9, 50, 60 + 10 * i) for i in range(5)]
    intervals.append(_interval(now, 50, 4_000, errors=1, exemplar=SLOW))
    MetricStore.from_url(url).write(intervals, "ctl1:42")
    ui = UIServer(url, "127.0.0.1", 0).start()
    try:
        browser.get(f"{ui.url}/metrics?since=30")
        (row,) = browser.find_elements(By.CSS_SELECTOR, "table.ops tr.error")
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        assert cells[:2] == ["server", "DELETE /v2.1/servers/{id}"]
        assert cells[3] == "300" and cells[4] == "1 (0.3%)"
        points = browser.find_elements(By.CSS_SELECTOR, "svg.chart circle.point-p99")
        assert len(points) == 6
        heights = [float(p.get_attribute("cy")) for p in points]
        assert heights[-1] == min(heights)  # the 4 s interval is the highest point
        (link,) = browser.find_elements(By.CSS_SELECTOR, "svg.chart a.exemplar")
        screenshot(browser, "metrics")
        browser.execute_script(
            "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))",
            link.find_element(By.TAG_NAME, "circle"))
        assert browser.current_url.endswith(f"/trace/{SLOW}")
        assert "DELETE /v2.1/servers/{id}" in browser.title
    finally:
        ui.stop()
