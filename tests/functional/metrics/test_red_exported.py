"""Every request counted, exactly, whatever the sampler kept: 2,000 requests through the
paste filter at ``traceidratio`` 0.01, a known number failing; the metrics read back from
a real OTLP/HTTP receiver (decoded with the official protobuf types) and from the store
through ``os-tracing metrics``; every exemplar names a trace that is in the store."""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import urllib.error
import urllib.request

import pytest

from tracing_middleware import registry
from tracing_middleware.cmd import main as main_cmd
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.metrics import otlp
from tracing_middleware.testing import OTLPReceiver, serve_wsgi

REQUESTS = 2000
UUID = "8a1cbd9e-5bd6-4fd8-9a25-0d2e0a8b0f2a"


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/boom/"):
        raise RuntimeError("application bug")
    if path.startswith("/fail/"):
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


@pytest.fixture
def receiver():
    with OTLPReceiver() as r:
        yield r


def _path(i: int) -> str:
    if i % 200 == 7:
        return f"/boom/{i}"        # 10 exceptions
    if i % 50 == 3:
        return f"/fail/{i}"        # 40 answers 503
    return f"/v2.1/servers/{UUID}" if i % 2 else "/v2.1/servers"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_every_request_is_counted_and_exemplars_name_stored_traces(tmp_path, receiver):
    store_url = f"sqlite:///{tmp_path}/traces.db"
    filtered = TracingFilter.factory(
        {}, exporters=store_url, sampler="traceidratio", sampler_arg="0.01",
        integrations="", service_name="nova-api", metrics_interval="3600",
        metrics_exporters=f"{store_url}, {receiver.endpoint}")(app)
    paths = [_path(i) for i in range(REQUESTS)]
    failing = sum(p.startswith(("/boom/", "/fail/")) for p in paths)
    with serve_wsgi(filtered) as server, \
            concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda p: _get(server.url + p), paths))
    assert (statuses.count(200), failing) == (REQUESTS - 50, 50)
    assert registry.force_flush_all()  # the metrics' last interval, then the spans

    store = SpanStore.from_url(store_url)
    stored = {s.trace_id for s in store.all_spans()}
    store.close()
    assert 0 < len(stored) < REQUESTS // 10  # about 1 in 100 was kept

    (request,) = receiver.metrics
    metrics = {m.name: m for m in request.resource_metrics[0].scope_metrics[0].metrics}
    calls = metrics[otlp.CALLS].sum.data_points
    status_of = [{a.key: a.value.string_value for a in p.attributes} for p in calls]
    assert sum(p.as_int for p in calls) == REQUESTS
    assert sum(p.as_int for p, s in zip(calls, status_of, strict=True)
               if s["status.code"] == "STATUS_CODE_ERROR") == failing
    operations = {s["span.name"] for s in status_of}
    assert {"GET /v2.1/servers", "GET /v2.1/servers/{id}", "GET /fail/{id}",
            "GET /boom/{id}"} == operations
    durations = metrics[otlp.DURATION].exponential_histogram.data_points
    assert sum(p.count for p in durations) == REQUESTS
    exemplars = [e.trace_id.hex() for p in durations for e in p.exemplars]
    assert exemplars and set(exemplars) <= stored

    def run(*argv: str) -> int:
        args = main_cmd.build_parser().parse_args(list(argv))
        return args.func(args)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run("metrics", "--store", store_url, "--format", "json") == 0
    rows = json.loads(out.getvalue())
    assert sum(r["count"] for r in rows) == REQUESTS
    assert sum(r["errors"] for r in rows) == failing
    by_operation = {r["operation"]: r for r in rows}
    assert by_operation["GET /fail/{id}"]["errors"] == 40
    assert by_operation["GET /boom/{id}"]["errors"] == 10
    linked = {r["exemplar_trace_id"] for r in rows if r["exemplar_trace_id"]}
    assert linked and linked <= stored
