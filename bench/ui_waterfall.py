"""The trace waterfall (``trace show --format html``) on a 10,000-span trace: the Python
render, and how long the page takes to open and respond in headless Chromium.

The trace is shaped like a long OpenStack operation: an API request whose RPC calls
fan out to conductor and compute, each span with the attributes a real one carries
(HTTP, database statement, RPC), ~1% of spans failing with an exception event, so the
JSON block is the size a real trace's would be.

Figures, each the median over ``--rounds`` fresh loads of the page from a file:

* ``render``: ``html.render(trace)`` in this process, ms (best of the rounds);
* ``ready``: ``performance.mark('waterfall-ready')``, which the page sets once its first
  rows are drawn, ms after navigation start (reading the file, parsing the HTML and
  the JSON, building the row index, the minimap and the rows in view);
* ``load``: the navigation timing's ``loadEventEnd``, ms after navigation start;
* ``collapse all + expand all``, ``End key``, ``scroll to the middle``: ms of script
  time measured with ``performance.now()`` around each action in the page.

``python -m bench.ui_waterfall [--spans N] [--rounds N]``; needs Debian chromium,
chromedriver and selenium (the test environment has them).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.export.store import Trace
from tracing_middleware.views import html

MS = 1_000_000
SERVICES = ("nova-api", "nova-conductor", "nova-scheduler", "nova-compute", "glance-api",
            "neutron-server", "keystone", "placement-api")


def make_trace(n: int, seed: int = 7) -> Trace:
    """``n`` spans: a root, then each span a child of a random earlier one (so depth and
    fan-out vary as in a real operation), starts inside its parent."""
    rng = random.Random(seed)
    trace_id = "7b" * 16
    base = 1_700_000_000_000_000_000
    spans = [SpanRecord(trace_id, f"{1:016x}", None, "POST /v2.1/servers", "nova-api",
                        "server", base, 60_000 * MS, attributes={
                            "http.request.method": "POST", "http.route": "/v2.1/servers",
                            "http.response.status_code": 202})]
    for i in range(2, n + 1):
        parent = spans[rng.randrange(max(0, len(spans) - 200), len(spans))]
        start = parent.start_time_unix_nano + rng.randrange(max(1, parent.duration_ns // 2))
        duration = rng.randrange(1, max(2, (parent.end_time_unix_nano - start)))
        kind, attributes = rng.choice((
            ("client", {"db.system.name": "mysql",
                        "db.query.text": "SELECT * FROM instances WHERE uuid = %s"}),
            ("client", {"rpc.system": "oslo_messaging", "rpc.method": "build_instances"}),
            ("server", {"rpc.system": "oslo_messaging", "messaging.destination.name":
                        "conductor"}),
            ("internal", {"code.function": "spawn"}),
            ("client", {"http.request.method": "GET", "url.full":
                        "http://glance:9292/v2/images/0f3b"})))
        error = rng.random() < 0.01
        events = (SpanEvent("exception", start + duration // 2, {
            "exception.type": "ValueError", "exception.message": "no valid host",
            "exception.stacktrace": "Traceback (most recent call last):\n  ...\n"}),
        ) if error else ()
        spans.append(SpanRecord(trace_id, f"{i:016x}", parent.span_id, f"op-{i % 50}",
                                rng.choice(SERVICES), kind, start, duration,
                                status="error" if error else "unset",
                                attributes=attributes, events=events))
    return Trace(trace_id, spans)


_ACTIONS = """var t0=performance.now(),b=document.getElementById('collapse-all');
b.click();document.getElementById('expand-all').click();var t1=performance.now();
var r=document.querySelector('#rows .row');r.click();
r.dispatchEvent(new KeyboardEvent('keydown',{key:'End',bubbles:true}));var t2=performance.now();
var vp=document.getElementById('viewport');vp.scrollTop=vp.scrollHeight/2;
vp.dispatchEvent(new Event('scroll'));return new Promise(function(done){
requestAnimationFrame(function(){var t3=performance.now();
done([t1-t0,t2-t1,t3-t2,document.querySelectorAll('#rows .row').length]);});});"""


def measure_browser(path: str, rounds: int) -> dict[str, Any]:
    """Load the page ``rounds`` times in a fresh tab of one headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        sys.exit("Debian chromium and chromium-driver are needed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--window-size=1200,800"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    figures: dict[str, list[float]] = {"ready": [], "load": [], "toggle": [], "end": [],
                                       "scroll": []}
    in_dom = 0
    try:
        for _ in range(rounds):
            browser.get("about:blank")
            browser.get("file://" + path)
            ready, load = browser.execute_script(
                "return [performance.getEntriesByName('waterfall-ready')[0].startTime,"
                "performance.getEntriesByType('navigation')[0].loadEventEnd];")
            toggle, end, scroll, in_dom = browser.execute_script(_ACTIONS)
            for key, value in zip(figures, (ready, load, toggle, end, scroll), strict=True):
                figures[key].append(value)
    finally:
        browser.quit()
    return {key: statistics.median(values) for key, values in figures.items()} | {
        "rows_in_dom": in_dom}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ui_waterfall")
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    trace = make_trace(args.spans)
    renders = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        page = html.render(trace)
        renders.append((time.perf_counter() - start) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.html")
        with open(path, "w", encoding="utf-8") as f:
            f.write(page)
        browser = measure_browser(path, args.rounds)
    print(f"waterfall, {args.spans} spans, page {len(page) / 1e6:.1f} MB, "
          f"median of {args.rounds} loads in headless Chromium")
    print(f"  python render                    {min(renders):8.1f} ms")
    print(f"  first rows drawn (ready)         {browser['ready']:8.1f} ms")
    print(f"  load event end                   {browser['load']:8.1f} ms")
    print(f"  collapse all + expand all        {browser['toggle']:8.1f} ms")
    print(f"  End key (select the last row)    {browser['end']:8.1f} ms")
    print(f"  scroll to the middle, next frame {browser['scroll']:8.1f} ms")
    print(f"  rows in the DOM                  {browser['rows_in_dom']:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
