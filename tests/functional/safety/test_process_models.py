"""Process models: spans queued at exit or SIGTERM are flushed; spawned children trace on
their own; a load of concurrent requests arrives exactly once with correct parents."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading

import pytest
import requests

from tracing_middleware import tracer
from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import OTLPReceiver, serve_wsgi

CHILD = """
import sys, threading
from tracing_middleware import tracer
from tracing_middleware.config import load_settings
t = tracer.setup(load_settings(None, {"exporters": sys.argv[1], "integrations": "",
    "sampler": "always_on", "export_interval_ms": "3600000"}, environ={}))
for i in range(25):
    t.start_span(f"queued-{i}", parent=None).finish()
print("ready", flush=True)
if sys.argv[2] == "wait":  # idle until the parent's SIGTERM arrives
    threading.Event().wait(60)
"""


def _count(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("ending", ["exit", "sigterm"])
def test_queued_spans_are_flushed_on_exit_and_sigterm(tmp_path, ending):
    """Nothing was exported yet (hour-long interval); exit or SIGTERM flushes all 25."""
    path = tmp_path / "exit.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, f"sqlite:///{path}",
                             "wait" if ending == "sigterm" else "exit"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    if ending == "sigterm":
        proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    assert code == (-signal.SIGTERM if ending == "sigterm" else 0)
    assert _count(path) == 25


def test_spawned_child_traces_and_exports_on_its_own(tmp_path):
    """multiprocessing 'spawn' children are fresh interpreters: they set up and export."""
    path = tmp_path / "spawn.db"
    code = ("import multiprocessing, subprocess, sys\n"
            "ctx = multiprocessing.get_context('spawn')\n"
            f"p = ctx.Process(target=subprocess.run, args=([sys.executable, '-c', {CHILD!r}, "
            f"'sqlite:///{path}', 'exit'],))\n"
            "p.start(); p.join(60); sys.exit(p.exitcode)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert _count(path) == 25


def _load(tmp_path, threads, per_thread):
    """Requests from many threads through the filter into a traced RPC server."""
    import oslo_messaging
    from oslo_config import cfg

    from messaging_driver.compat import register_oslo_messaging_opts
    from tracing_middleware import opts

    store_path = tmp_path / "load.db"
    with OTLPReceiver() as receiver:
        exporters = f"sqlite:///{store_path},{receiver.endpoint}"
        conf = cfg.ConfigOpts()
        conf([], project="load")
        opts.register_opts(conf)
        register_oslo_messaging_opts(conf)
        for key, value in {"exporters": exporters.split(","), "integrations": [],
                           "sampler": "always_on", "service_name": "load",
                           "max_queue_size": 100000}.items():
            conf.set_override(key, value, group="tracing")
        transport = oslo_messaging.get_rpc_transport(conf, "traced+fake://")

        class Endpoint:
            def echo(self, ctxt, i):
                return i

        server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic="load", server="s"), [Endpoint()],
            executor="threading")
        server.start()
        client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic="load"),
                                               timeout=60)

        def app(environ, start_response):
            client.call({}, "echo", i=1)
            start_response("200 OK", [])
            return [b""]

        filtered = TracingFilter.factory({}, exporters=exporters, integrations="",
                                         sampler="always_on", service_name="load",
                                         max_queue_size="100000")(app)
        errors = []
        with serve_wsgi(filtered) as api:
            session_local = threading.local()

            def worker():
                session = getattr(session_local, "s", None) or requests.Session()
                session_local.s = session
                for _ in range(per_thread):
                    if session.get(api.url, timeout=60).status_code != 200:
                        errors.append(1)

            pool = [threading.Thread(target=worker) for _ in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join(300)
        server.stop()
        server.wait()
        transport.cleanup()
        assert tracer.force_flush_all(60)
        total = threads * per_thread * 3
        received = receiver.take(total, timeout=30)
        assert receiver.spans.empty()
    assert not errors
    conn = sqlite3.connect(store_path)
    rows = conn.execute("SELECT trace_id, span_id, parent_span_id, kind FROM spans").fetchall()
    conn.close()
    assert len(rows) == total
    by_trace: dict[str, list[tuple]] = {}
    for trace_id, span_id, parent, kind in rows:
        by_trace.setdefault(trace_id, []).append((span_id, parent, kind))
    assert len(by_trace) == threads * per_thread
    for spans in by_trace.values():
        (root,) = [s for s in spans if s[1] is None]
        (client,) = [s for s in spans if s[2] == "client"]
        (rpc_server,) = [s for s in spans if s[2] == "server" and s[1] is not None]
        assert root[2] == "server"
        assert client[1] == root[0] and rpc_server[1] == client[0]
    assert sorted(s.span_id for s in received) == sorted(r[1] for r in rows)


def test_concurrent_load_every_span_exactly_once(tmp_path):
    """32 threads x 4 requests, 100% sampling: every span once, in the store and over OTLP."""
    _load(tmp_path, 32, 4)


@pytest.mark.stress
def test_stress_load_every_span_exactly_once(tmp_path):
    """32 threads x 100 requests (tox -e stress)."""
    _load(tmp_path, 32, 100)


