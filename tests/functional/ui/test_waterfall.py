"""The trace waterfall in a real headless Chromium, on traces whose every number is known.

The page is what ``os-tracing trace show --format html`` writes, opened from a file, and
the same page inside ``os-tracing serve``'s trace page under its CSP. Times below are in
ms from the trace's start; the trace lasts 120 ms, so a bar at 10 ms sits at 8.3333 %.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from tracing_middleware.cmd.serve import UIServer
from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.export.store import SpanStore, Trace
from tracing_middleware.views import analysis
from tracing_middleware.views.html import render

from .conftest import screenshot

pytestmark = pytest.mark.browser

T = "5e" * 16
MS = 1_000_000
BASE = 1_700_000_000_000_000_000
RPC = {"rpc.system": "oslo_messaging"}
STACK = 'Traceback (most recent call last):\n  File "driver.py", line 3\nValueError: no host'
#: (id, parent, name, service, kind, start ms, end ms, attributes)
ROWS: list[tuple[Any, ...]] = [
    (1, None, "POST /v2.1/servers", "nova-api", "server", 0, 100,
     {"http.request.method": "POST"}),
    (2, 1, "SELECT instances", "nova-api", "client", 10, 30, {"db.system.name": "mysql"}),
    (3, 1, "GET /v2/images", "nova-api", "client", 20, 40, {"http.request.method": "GET"}),
    (4, 3, "GET /v2/images", "glance-api", "server", 22, 38, {"http.request.method": "GET"}),
    (5, 1, "conductor.build_instances", "nova-api", "client", 40, 80, RPC),
    (6, 5, "conductor.build_instances", "nova-conductor", "server", 45, 70, RPC),
    (7, 6, "compute.build_and_run_instance", "nova-conductor", "producer", 50, 52, RPC),
    (8, 7, "compute.build_and_run_instance", "nova-compute", "consumer", 60, 120, RPC),
    (9, 8, "libvirt.spawn", "nova-compute", "internal", 70, 110, {"host": "cmp1"}),
    (10, 0xDEAD, "periodic_tasks", "nova-scheduler", "server", 90, 95, {}),
]


def sid(n: int) -> str:
    return f"{n:016x}"


def known() -> Trace:
    """Concurrent children (2, 3), an RPC call with queue and reply wait (5 -> 6), a cast
    whose consumer outlives its producer and the request (7 -> 8), an error with an
    exception event three levels down (9), an orphan (10)."""
    spans = []
    for n, parent, name, service, kind, start, end, attributes in ROWS:
        error = n == 9
        spans.append(SpanRecord(
            T, sid(n), sid(parent) if parent else None, name, service, kind,
            BASE + start * MS, (end - start) * MS, status="error" if error else "unset",
            status_message="no valid host" if error else "", attributes=attributes,
            events=(SpanEvent("exception", BASE + 105 * MS, {
                "exception.type": "ValueError", "exception.message": "no valid host",
                "exception.stacktrace": STACK}),) if error else ()))
    return Trace(T, spans)


def pct(ms: float) -> Any:
    """Where ``ms`` falls across the lane, in percent (the page writes 4 decimals)."""
    return pytest.approx(ms / 120 * 100, abs=1e-4)


@pytest.fixture
def page(tmp_path, browser):
    """The known trace's page, opened from a file."""
    path = tmp_path / "trace.html"
    path.write_text(render(known()), encoding="utf-8")
    browser.get(path.as_uri())
    return browser


_ROWS_JS = """return Array.from(document.querySelectorAll('#rows .row')).map(function(r){
  function seg(sel){var e=r.querySelector(sel),st=e&&e.style;
    return e?[parseFloat(st.left),parseFloat(st.width)]:null;}
  return {id:r.dataset.spanId,cls:r.className,expanded:r.getAttribute('aria-expanded'),
          selected:r.getAttribute('aria-selected'),text:r.querySelector('.name').textContent,
          bar:seg('.bar'),qwait:seg('.qwait'),rwait:seg('.rwait')};});"""


def rows(browser: Any) -> list[dict[str, Any]]:
    """The rows in the DOM, top to bottom."""
    return browser.execute_script(_ROWS_JS)


def ids(browser: Any) -> list[int]:
    return [int(r["id"], 16) for r in rows(browser)]


def row(browser: Any, n: int) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f"#rows .row[data-span-id='{sid(n)}']")


def test_ruler_bars_waits_errors_and_critical_path(page):
    """Tick labels every 25 ms over 120 ms, each bar at its start and width, the queue
    waits on the receivers' rows, the reply wait on the call's row, the error marked in
    text, and the critical-path mark on exactly analysis.critical_path's spans."""
    from selenium.webdriver.common.by import By

    ticks = page.find_elements(By.CSS_SELECTOR, "#ruler .tick")
    assert [t.text for t in ticks] == ["0ms", "25ms", "50ms", "75ms", "100ms"]
    assert [float(t.get_attribute("style").split(":")[1].strip(" %;")) for t in ticks] == [
        pct(ms) for ms in (0, 25, 50, 75, 100)]
    drawn = {int(r["id"], 16): r for r in rows(page)}
    assert list(drawn) == list(range(1, 11))
    for n, _, name, service, _, start, end, _ in ROWS:
        assert drawn[n]["bar"] == [pct(start), pct(end - start)], n
        assert name in drawn[n]["text"] and service in drawn[n]["text"]
    assert drawn[6]["qwait"] == [pct(40), pct(5)]  # the call sent at 40, served at 45
    assert drawn[8]["qwait"] == [pct(50), pct(10)]  # the cast sent at 50, consumed at 60
    assert drawn[5]["rwait"] == [pct(70), pct(10)]  # served by 70, reply had at 80
    assert [n for n, r in drawn.items() if r["qwait"] or r["rwait"]] == [5, 6, 8]
    assert [n for n, r in drawn.items() if "err" in r["cls"].split()] == [9]
    assert "\u26a0 error" in drawn[9]["text"]
    assert "orphan" in drawn[10]["cls"].split()

    path = {int(p["span_id"], 16) for p in analysis.critical_path(known())["path"]}
    assert path == {1, 3, 4, 5, 6, 7, 10}
    assert {n for n, r in drawn.items() if "cp" in r["cls"].split()} == path
    mark = row(page, 6).find_element(By.CSS_SELECTOR, ".cp-mark")
    assert mark.is_displayed()
    screenshot(page, "waterfall")
    page.find_element(By.ID, "show-cp").click()
    assert not mark.is_displayed()
    assert "show-cp" not in page.find_element(By.ID, "app").get_attribute("class")


def test_collapse_hides_exactly_the_subtree(page):
    """The RPC call's toggle hides its four descendants and says it hides an error;
    collapse all leaves the top-level rows; expand all brings every row back."""
    from selenium.webdriver.common.by import By

    row(page, 5).find_element(By.CSS_SELECTOR, "button.tog").click()
    assert ids(page) == [1, 2, 3, 4, 5, 10]
    five = row(page, 5)
    assert five.get_attribute("aria-expanded") == "false"
    assert five.find_element(By.CSS_SELECTOR, ".hidden-err").text == "\u26a0 1 hidden error"
    assert row(page, 3).get_attribute("aria-expanded") == "true"
    assert len(page.find_elements(By.CSS_SELECTOR, ".hidden-err")) == 1
    screenshot(page, "waterfall-collapsed")
    row(page, 5).find_element(By.CSS_SELECTOR, "button.tog").click()
    assert ids(page) == list(range(1, 11))

    page.find_element(By.ID, "collapse-all").click()
    assert ids(page) == [1, 10]
    assert "1 hidden error" in row(page, 1).text
    assert page.find_element(By.ID, "viewport").get_attribute("aria-rowcount") == "2"
    page.find_element(By.ID, "expand-all").click()
    assert ids(page) == list(range(1, 11))
    assert page.find_elements(By.CSS_SELECTOR, ".hidden-err") == []


def _selected(browser: Any) -> int:
    """The selected row, which must also be the focused one."""
    found = browser.execute_script(
        "var s=document.querySelectorAll('#rows .row[aria-selected=true]');"
        "return [Array.from(s).map(function(r){return r.dataset.spanId;}),"
        "document.activeElement.dataset.spanId];")
    assert len(found[0]) == 1 and found[0][0] == found[1], found
    return int(found[1], 16)


def test_keyboard_moves_selection_and_collapses(page):
    """j/k and the arrows move the selection (and focus); left goes to the parent or
    collapses, right expands, Enter toggles, End goes to the last row."""
    from selenium.webdriver.common.keys import Keys

    row(page, 1).click()
    assert _selected(page) == 1

    def press(*keys: str) -> int:
        for key in keys:
            page.switch_to.active_element.send_keys(key)
        return _selected(page)

    assert press("j", "j") == 3
    assert press("k") == 2
    assert press(Keys.ARROW_LEFT) == 1  # a leaf: to its parent
    assert press(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN) == 5
    assert press(Keys.ARROW_LEFT) == 5 and ids(page) == [1, 2, 3, 4, 5, 10]
    assert row(page, 5).get_attribute("aria-expanded") == "false"
    assert press(Keys.ARROW_RIGHT) == 5 and len(ids(page)) == 10
    assert press(Keys.ARROW_RIGHT) == 6  # expanded: to its first child
    assert press(Keys.ENTER) == 6 and ids(page) == [1, 2, 3, 4, 5, 6, 10]
    assert press(Keys.END) == 10
    assert "periodic_tasks" in page.find_element("id", "details").text
    assert press(Keys.HOME) == 1


def test_details_show_status_and_the_exception(page):
    """A click on the error span shows its service, kind, duration, start offset, status
    with message, the exception's type, message and stack trace, and its attributes."""
    from selenium.webdriver.common.by import By

    row(page, 9).click()
    details = page.find_element(By.ID, "details")
    text = details.text
    for line in ("nova-compute: libvirt.spawn", "Service nova-compute", "Kind internal",
                 "Duration 40ms", "Start offset 70ms", "Status error: no valid host",
                 "ValueError: no valid host", "host cmp1"):
        assert line in text, line
    exception = details.find_element(By.CSS_SELECTOR, ".exception pre").text
    assert exception == STACK
    screenshot(page, "waterfall-details")
    row(page, 6).click()
    text = page.find_element(By.ID, "details").text
    assert "Queue wait 5ms" in text and "Critical path" in text
    assert "exception" not in text.lower()


def _big(n: int) -> Trace:
    """A root with ``n - 1`` descendants, four children per span, 1 ms apart."""
    spans = [SpanRecord(T, sid(1), None, "root", "svc-0", "server", BASE, (n + 5) * MS)]
    spans += [SpanRecord(T, sid(i), sid(max(1, i // 4)), f"op {i}", f"svc-{i % 7}",
                         "internal", BASE + i * MS, 4 * MS,
                         status="error" if i % 997 == 0 else "unset")
              for i in range(2, n + 1)]
    return Trace(T, spans)


def test_ten_thousand_spans_load_and_scroll(tmp_path, browser):
    """10,000 rows are counted, only the ones in view are in the DOM, scrolling to the
    bottom shows the last row, the minimap moves the view, End selects the last span."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    path = tmp_path / "big.html"
    path.write_text(render(_big(10_000)), encoding="utf-8")
    browser.get(path.as_uri())
    viewport = browser.find_element(By.ID, "viewport")
    assert viewport.get_attribute("aria-rowcount") == "10000"
    in_dom = len(rows(browser))
    assert 10 < in_dom < 100
    assert browser.execute_script("return arguments[0].scrollHeight", viewport) == 240_000
    screenshot(browser, "waterfall-10k")

    last = browser.execute_script(
        "var d=JSON.parse(document.getElementById('trace-data').textContent);"
        "return d.spans[d.spans.length-1].span_id;")
    browser.execute_script("arguments[0].scrollTop=arguments[0].scrollHeight", viewport)
    WebDriverWait(browser, 10).until(lambda b: rows(b)[-1]["id"] == last)
    assert len(rows(browser)) < 100

    area = browser.find_element(By.ID, "minimap-area")
    ActionChains(browser).move_to_element(area).click().perform()  # the middle
    top = browser.execute_script("return arguments[0].scrollTop", viewport)
    height = browser.execute_script("return arguments[0].clientHeight", viewport)
    window = browser.find_element(By.ID, "minimap-window")
    box, strip = window.rect, area.rect
    # The click lands on a whole pixel of the strip: one of its pixels is many rows.
    assert abs(top + height / 2 - 120_000) <= 240_000 / strip["height"]
    assert abs(box["y"] + box["height"] / 2 - (strip["y"] + strip["height"] / 2)) <= 2

    browser.find_elements(By.CSS_SELECTOR, "#rows .row")[15].click()
    browser.switch_to.active_element.send_keys(Keys.END)
    assert _selected(browser) == int(last, 16)


def test_the_serve_trace_page_draws_it_under_its_csp(tmp_path, browser):
    """``os-tracing serve``'s trace page shows the same waterfall under its CSP (a
    blocked script would leave no rows), and keeps the log lines and the JSON link."""
    from selenium.webdriver.common.by import By

    url = f"sqlite:///{tmp_path}/ui.db"
    store = SpanStore.from_url(url)
    store.write(known().spans)
    store.close()
    log = tmp_path / "nova-compute.log"
    log.write_text(f"ERROR [{T}] spawn failed\n")
    server = UIServer(url, "127.0.0.1", 0, [str(log)]).start()
    try:
        browser.get(f"{server.url}/trace/{T}")
        assert "spawn failed" in browser.find_element(By.ID, "logs").text
        json_link = browser.find_element(By.LINK_TEXT, "json").get_attribute("href")
        assert urllib.parse.urlsplit(json_link).path == f"/api/traces/{T}"
        browser.switch_to.frame(browser.find_element(By.ID, "waterfall"))
        assert ids(browser) == list(range(1, 11))
        path = {int(p["span_id"], 16) for p in analysis.critical_path(known())["path"]}
        assert {int(r["id"], 16) for r in rows(browser) if "cp" in r["cls"].split()} == path
        browser.switch_to.default_content()
        screenshot(browser, "waterfall-serve")
    finally:
        server.stop()
