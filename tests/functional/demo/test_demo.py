"""``os-tracing demo`` end to end: API -> RPC -> worker -> DB -> API -> notification, one
trace, checked span by span, on the in-process bus and on the real RabbitMQ."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from tracing_middleware.cmd.demo import run_demo
from tracing_middleware.export.store import SpanStore

RABBIT = "traced+rabbit://guest:guest@127.0.0.1:5672/"


def _tree(store_url, trace_id):
    store = SpanStore.from_url(store_url)
    try:
        trace = store.get_trace(trace_id)
    finally:
        store.close()
    by_id = {s.span_id: s for s in trace.spans}

    def key(span):
        rpc = "/" in span.name and " " not in span.name  # "{topic}/{method}"
        return (span.name.split("/", 1)[-1] if rpc else span.name,
                span.service, span.kind)

    return {key(s): (key(by_id[s.parent_span_id]) if s.parent_span_id in by_id else None)
            for s in trace.spans}, trace


EXPECTED = {
    ("POST /v2.1/servers", "compute-api", "server"): None,
    ("build_instance", "compute-api", "client"): ("POST /v2.1/servers", "compute-api",
                                                  "server"),
    ("build_instance", "compute-worker", "server"): ("build_instance", "compute-api",
                                                     "client"),
    ("INSERT sqlite", "compute-worker", "client"): ("build_instance", "compute-worker",
                                                    "server"),
    ("GET", "compute-worker", "client"): ("build_instance", "compute-worker", "server"),
    ("GET /v2/images/{id}", "image-api", "server"): ("GET", "compute-worker", "client"),
    ("update_usage", "compute-api", "producer"): ("POST /v2.1/servers", "compute-api",
                                                  "server"),
    ("update_usage", "compute-worker", "consumer"): ("update_usage", "compute-api",
                                                     "producer"),
    ("UPDATE sqlite", "compute-worker", "client"): ("update_usage", "compute-worker",
                                                    "consumer"),
}


@pytest.mark.parametrize("transport_url", [
    "traced+fake://", pytest.param(RABBIT, marks=pytest.mark.rabbit)])
def test_demo_trace_is_one_exact_tree(tmp_path, transport_url):
    """Every hop is in one trace with the expected parent for each span."""
    store_url = f"sqlite:///{tmp_path}/demo.db"
    out = io.StringIO()
    result = run_demo(store_url, transport_url, html_path=str(tmp_path / "t.html"), out=out)
    assert result["statuses"] == (202, 202, 500)
    tree, trace = _tree(store_url, result["trace_id"])
    notification = [k for k in tree if k[0] == "process compute.instance.create.end"]
    producer = [k for k in tree if k[0].startswith("send ") and k[2] == "producer"]
    assert len(notification) == 1 and len(producer) == 1
    assert tree[producer[0]] == ("build_instance", "compute-worker", "server")
    assert tree[notification[0]] == producer[0]
    for span_key, parent in EXPECTED.items():
        assert tree[span_key] == parent, span_key
    assert len(trace.spans) == len(EXPECTED) + 2
    assert all(s.status != "error" for s in trace.spans)
    text = out.getvalue()
    assert f"Trace {result['trace_id']}" in text and "HTML view:" in text
    html = (tmp_path / "t.html").read_text()
    block = html.split("id='trace-data'>", 1)[1].split("</script>", 1)[0]
    drawn = {row["span_id"] for row in json.loads(block)["spans"]}
    assert drawn == {s.span_id for s in trace.spans}  # the waterfall draws every span


def test_demo_ends_with_where_the_time_went_and_how_to_find_the_trace(tmp_path):
    """The critical path of the first trace (root first, adding up to the request's
    duration), its time split (the RPC hop's queue and reply waits, the database), and
    a trace find line whose request id finds that trace."""
    store_url = f"sqlite:///{tmp_path}/demo.db"
    out = io.StringIO()
    result = run_demo(store_url, html_path=str(tmp_path / "t.html"), out=out)
    path, split = result["critical_path"], result["breakdown"]
    _, trace = _tree(store_url, result["trace_id"])
    root = next(s for s in trace.spans if s.parent_span_id is None)
    assert path["path"][0]["span_id"] == root.span_id
    assert sum(step["contribution_ns"] for step in path["path"]) == root.duration_ns
    assert {step["service"] for step in path["path"]} >= {"compute-api", "compute-worker"}
    assert split["by_kind"]["queue_wait"] > 0 and split["by_kind"]["database"] > 0
    assert split["by_kind"]["reply_wait"] > 0
    assert set(split["by_service"]) == {s.service for s in trace.spans}
    text = out.getvalue()
    assert "the critical path" in text and "queue_wait" in text
    line = f"os-tracing trace find --request-id {result['request_id']} --store {store_url}"
    assert result["request_id"].startswith("req-") and line in text


def test_demo_failed_and_signed_requests(tmp_path):
    """The failing request is an error trace; the signed one is kept as a forced trace."""
    store_url = f"sqlite:///{tmp_path}/demo.db"
    run_demo(store_url, out=io.StringIO())
    store = SpanStore.from_url(store_url)
    try:
        summaries = store.list_traces(limit=100)
        errors = [s for s in summaries if s.error]
        assert len(errors) == 1 and errors[0].root_name == "POST /v2.1/servers"
        signed = [s for s in summaries
                  if store.get_trace(s.trace_id).spans[0].parent_span_id is not None]
        assert len(signed) == 1  # continues the caller's osprofiler ids
    finally:
        store.close()


def test_demo_sampling_report(tmp_path):
    """--requests N under the shipped strategies file keeps about 25% (p=0.25) of N."""
    store_url = f"sqlite:///{tmp_path}/demo.db"
    result = run_demo(store_url, requests=200, out=io.StringIO())
    sampling = result["sampling"]
    assert sampling["sent"] == 200
    assert 20 <= sampling["kept"] <= 80  # binomial(200, 0.25): mean 50, sd ~6


def test_demo_command_runs_and_exits_zero(tmp_path):
    """The README's quick-start command itself: exit 0 and a trace tree on stdout."""
    env = dict(os.environ, OS_TRACING_STORE=f"sqlite:///{tmp_path}/cli.db")
    proc = subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", "demo"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "POST /v2.1/servers [compute-api] server" in proc.stdout
    assert "GET /v2/images/{id} [image-api] server" in proc.stdout


def test_demo_without_its_extra_says_what_to_install(tmp_path):
    """A plain `pip install os-tracing` has no SQLAlchemy: one line, no traceback."""
    code = ("import sys; sys.modules['sqlalchemy'] = None\n"
            "from tracing_middleware.cmd.main import main\n"
            f"sys.exit(main(['demo', '--store', 'sqlite:///{tmp_path}/d.db']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == ("os-tracing demo needs sqlalchemy: pip install "
                                  "'os-tracing[demo]'")
