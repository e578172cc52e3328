"""The last interval of metrics is not lost: a process that exits or is sent SIGTERM
before its first export leaves every request counted in the store; a forked worker
counts its own requests in a stream of its own."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tracing_middleware.metrics.store import MetricStore

CHILD = """
import os, sys, threading
from tracing_middleware import registry
from tracing_middleware.filter import TracingFilter

def app(environ, start_response):
    start_response("500 Oops" if environ["PATH_INFO"] == "/bad" else "200 OK", [])
    return [b""]

filtered = TracingFilter.factory({}, exporters=sys.argv[1], integrations="",
                                 metrics_interval="3600", service_name="api")(app)

def call(path):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    for _ in filtered(environ, lambda status, headers, exc_info=None: None):
        pass

for i in range(30):
    call("/bad" if i < 4 else "/ok")
if sys.argv[2] == "fork":
    pid = os.fork()
    if pid == 0:  # a worker forked after setup: only its own requests, its own stream
        for _ in range(5):
            call("/child")
        registry.force_flush_all()
        os._exit(0)
    os.waitpid(pid, 0)
print("ready", flush=True)
if sys.argv[2] == "wait":
    threading.Event().wait(60)
"""


@pytest.mark.parametrize("ending", ["exit", "sigterm", "fork"])
def test_the_last_interval_is_flushed(tmp_path, ending):
    url = f"sqlite:///{tmp_path}/traces.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, url,
                             "wait" if ending == "sigterm" else ending],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    if ending == "sigterm":
        proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    assert code == (-signal.SIGTERM if ending == "sigterm" else 0)
    points = MetricStore.from_url(url).read()
    by_operation: dict[str, int] = {}
    for point in points:
        by_operation[point.key.operation] = by_operation.get(point.key.operation, 0) \
            + point.count
    expected = {"GET /bad": 4, "GET /ok": 26}
    if ending == "fork":
        expected["GET /child"] = 5
    assert by_operation == expected
    assert sum(p.errors for p in points) == 4
