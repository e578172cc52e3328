"""A metrics collector that is down (connection refused) or black-holed (accepts and
never answers) costs the request path nothing: every request through the paste filter
completes, the intervals kept for the collector stay within their bound, the embedded
store beside it still counts every request, and a process sent SIGTERM still writes its
last interval to the store within the shutdown deadline, whatever the send timeout."""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator

import pytest

from tracing_middleware import registry
from tracing_middleware.filter import TracingFilter
from tracing_middleware.metrics.exporter import OTLPSink
from tracing_middleware.metrics.store import MetricStore
from tracing_middleware.testing import serve_wsgi

BATCHES = 12
PER_BATCH = 10


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@contextlib.contextmanager
def unreachable(how: str) -> Iterator[str]:
    """An OTLP/HTTP URL whose collector refuses connections, or takes them and never
    answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if how == "blackholed":
            sock.listen(64)
            yield f"otlp+http://127.0.0.1:{port}"
            return
    yield f"otlp+http://127.0.0.1:{port}"  # closed again: connection refused


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
        return response.status


@pytest.mark.parametrize("temporality", ["delta", "cumulative"])
@pytest.mark.parametrize("how", ["refused", "blackholed"])
def test_requests_complete_and_pending_stays_bounded(tmp_path, how, temporality):
    store_url = f"sqlite:///{tmp_path}/traces.db"
    with unreachable(how) as collector:
        filtered = TracingFilter.factory(
            {}, exporters=store_url, integrations="", service_name="api",
            sampler="traceidratio", sampler_arg="0.1", metrics_interval="3600",
            metrics_temporality=temporality, export_timeout_ms="200",
            metrics_exporters=f"{collector}, {store_url}")(app)
        exporter = registry.metrics_exporter(registry.get_tracing())
        assert exporter is not None
        (sink,) = [s for s in exporter.sinks if isinstance(s, OTLPSink)]
        statuses: list[int] = []
        with serve_wsgi(filtered) as server, \
                concurrent.futures.ThreadPoolExecutor(8) as pool:
            for batch in range(BATCHES):
                # An export stuck on the collector runs while the batch is served...
                flushing = threading.Thread(target=exporter.flush)
                flushing.start()
                statuses += pool.map(lambda i: _get(f"{server.url}/v1/items/{i}"),
                                     range(batch * PER_BATCH, (batch + 1) * PER_BATCH))
                flushing.join()
                exporter.flush()  # ...and one after it, with the batch in it
        assert statuses == [200] * (BATCHES * PER_BATCH)
        if temporality == "cumulative":
            assert sink.pending == 1  # the newest snapshot carries every count
        else:
            # At least BATCHES intervals were not taken: the newest max_pending are
            # kept, the older ones dropped and counted.
            assert sink.pending == sink.max_pending
            assert sink.dropped >= BATCHES - sink.max_pending
    points = MetricStore.from_url(store_url).read(service="api")
    assert sum(p.count for p in points) == BATCHES * PER_BATCH
    assert {p.key.operation for p in points} == {"GET /v1/items/{id}"}


CHILD = """
import sys, threading
from tracing_middleware.filter import TracingFilter

def app(environ, start_response):
    start_response("503 Busy" if environ["PATH_INFO"] == "/busy" else "200 OK", [])
    return [b""]

filtered = TracingFilter.factory(
    {}, exporters=sys.argv[1], integrations="", service_name="api",
    metrics_exporters=sys.argv[2] + "," + sys.argv[1], metrics_interval="3600",
    metrics_temporality=sys.argv[3], export_timeout_ms="600000")(app)
environ = {"REQUEST_METHOD": "GET", "SERVER_NAME": "x", "SERVER_PORT": "80",
           "wsgi.url_scheme": "http"}
for i in range(40):
    for _ in filtered(dict(environ, PATH_INFO="/busy" if i < 3 else "/ok"),
                      lambda status, headers, exc_info=None: None):
        pass
print("ready", flush=True)
threading.Event().wait(600)
"""


@pytest.mark.parametrize("temporality", ["delta", "cumulative"])
def test_sigterm_with_a_blackholed_collector_still_stores_the_last_interval(
        tmp_path, temporality):
    """The collector is listed first and its send timeout is ten minutes: the SIGTERM
    flush writes the store first and gives the collector only the shutdown deadline."""
    store_url = f"sqlite:///{tmp_path}/traces.db"
    with unreachable("blackholed") as collector:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, store_url, collector,
                                 temporality], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == -signal.SIGTERM  # far below the send timeout
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
    points = MetricStore.from_url(store_url).read()
    assert sum(p.count for p in points) == 40
    assert sum(p.errors for p in points) == 3
