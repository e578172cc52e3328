"""``os-tracing`` run as operators run it, a subprocess, over Jaeger and Tempo played
back from their recorded answers (``tests/unit/export/data``): what it prints, and that
whatever a store answers costs one line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from ...unit.export.recorded_api import RecordedAPI
from ...unit.views.test_analysis import T, boot

REQ = "req-11111111-2222-4333-8444-555555555555"
SECOND = "0af7651916cd43dd8448eb211c80319c"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def api():
    recorded = RecordedAPI()
    for path, name in [(f"/api/v3/traces/{T}", "jaeger/trace.json"),
                       (f"/api/v3/traces/{SECOND}", "jaeger/trace_second.json"),
                       ("/api/v3/traces", "jaeger/search.json"),
                       ("/api/v3/services", "jaeger/services.json"),
                       (f"/api/v2/traces/{T}", "tempo/trace_v2.json"),
                       (f"/api/v2/traces/{SECOND}", "tempo/trace_v2_second.json"),
                       ("/api/search", "tempo/search.json")]:
        recorded.serve(path, name)
    yield recorded
    recorded.close()


def test_os_tracing_store_names_tempo_for_every_command(api):
    """$OS_TRACING_STORE holding a Tempo URL: find by request id, show, deps."""
    env = {"OS_TRACING_STORE": api.url("tempo")}
    found = _cli("trace", "find", "--request-id", REQ, "--format", "json", env=env)
    assert found.returncode == 0, found.stderr
    (trace,) = json.loads(found.stdout)
    assert (trace["trace_id"], trace["span_count"], trace["error"]) == (
        T, len(boot().spans), True)
    assert api.asked("/api/search")[0]["q"][0].startswith(
        '{ span."openstack.request_id" = "req-11111111-')
    shown = _cli("trace", "show", T, env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].startswith("POST /servers [api] server")
    deps = _cli("deps", "--since", "2000-01-01T00:00:00", "--format", "json", env=env)
    assert deps.returncode == 0, deps.stderr
    assert ("api", "conductor") in {(e["from"], e["to"])
                                    for e in json.loads(deps.stdout)["edges"]}


def test_jaeger_listing_and_prefixes(api):
    store = api.url("jaeger")
    listing = _cli("trace", "list", "--service", "api", "--store", store)
    assert listing.returncode == 0, listing.stderr
    rows = listing.stdout.splitlines()
    assert SECOND in rows[1] and T in rows[2] and "ERROR" in rows[2]
    prefix = _cli("trace", "show", T[:10], "--store", store)
    assert prefix.returncode == 1
    assert prefix.stderr == (f"os-tracing trace: {store}: '{T[:10]}' is not a whole trace "
                             "id; Jaeger looks traces up by all 32 hex digits (id prefixes "
                             "work in the embedded store only)\n")


@pytest.mark.parametrize("answer, misbehaviour, message", [
    pytest.param(b'{"error":{"httpCode":500,"message":"elasticsearch: no shards"}}', {},
                 "answered HTTP 500: elasticsearch: no shards", id="500"),
    pytest.param(b"<html><title>Sign in</title></html>", {}, "not JSON", id="html"),
    pytest.param(b'{"result": {"resourceSpans": [{"scopeSpans"', {}, "not JSON",
                 id="truncated"),
    pytest.param(b"{}", {"length": 1 << 40}, "answered more than 67,108,864 bytes",
                 id="huge"),
    pytest.param(b"{}", {"stall_s": 5}, "no whole answer within 1s", id="timeout"),
])
@pytest.mark.parametrize("scheme", ["jaeger", "tempo"])
def test_a_hostile_store_costs_one_line(api, scheme, answer, misbehaviour, message):
    """Every path a command reads answers the same bad way; each command says so in one
    line naming the store and the path."""
    status = 500 if message.startswith("answered HTTP") else 200
    for path in list(api.routes):
        api.serve(path, answer, status, **misbehaviour)
    store = f"{api.url(scheme)}?timeout=1"
    for command in (["trace", "show", T], ["trace", "list"], ["trace", "find",
                    "--request-id", REQ], ["deps", "--since", "1d"]):
        done = _cli(*command, "--store", store)
        assert done.returncode == 1, (command, done.stdout)
        assert re.fullmatch(rf"os-tracing (trace|deps): {re.escape(store)}: GET /api/\S+ "
                            rf".*{re.escape(message)}.*\n", done.stderr), done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


def test_an_unreachable_or_unknown_store(api):
    done = _cli("trace", "show", T, "--store", "tempo+http://127.0.0.1:9")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("os-tracing trace: tempo+http://127.0.0.1:9: cannot "
                                  "reach http://127.0.0.1:9: ")
    assert done.stderr.count("\n") == 1
    done = _cli("deps", "--store", "zipkin+http://zipkin:9411")
    assert done.returncode == 1 and done.stderr.startswith(
        "os-tracing deps: not a store URL: 'zipkin+http://zipkin:9411'; expected ")


def test_serve_shows_a_remote_store(api):
    """``os-tracing serve --store jaeger+http://...`` serves the traces Jaeger holds."""
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "tracing_middleware.cmd.main", "serve", "--store",
         api.url("jaeger"), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        line = server.stdout.readline()
        url = re.search(r"on (http://\S+)", line).group(1)
        with urllib.request.urlopen(f"{url}/api/traces/{T}", timeout=30) as reply:
            assert len(json.loads(reply.read())["spans"]) == len(boot().spans)
        with urllib.request.urlopen(f"{url}/search?service=api", timeout=30) as reply:
            assert SECOND in reply.read().decode()
    finally:
        server.terminate()
        server.communicate(timeout=30)
