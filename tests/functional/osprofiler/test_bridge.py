"""osprofiler bridge and mixed fleets: one trace across os-tracing and unmodified
osprofiler (upstream release), with exact parents."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import uuid

import requests
import sqlalchemy
from osprofiler import profiler, web
from osprofiler import sqlalchemy as osprofiler_sqlalchemy

from tracing_middleware import tracer
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import OTLPReceiver, serve_wsgi

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts",
                      "osprofiler_service.py")
KEY = "shared-key"


def _spans(url):
    assert tracer.get_tracing().force_flush()
    store = SpanStore.from_url(url)
    try:
        return store.all_spans()
    finally:
        store.close()


def test_us_to_unmodified_osprofiler_service_in_one_trace(tmp_path):
    """Our CLIENT span is the parent of osprofiler's wsgi span (exported by osprofiler's
    own OTLP driver), and its @profiler.trace point is below that."""
    store_url = f"sqlite:///{tmp_path}/mix.db"
    with OTLPReceiver() as receiver:
        proc = subprocess.Popen([sys.executable, SCRIPT, f"127.0.0.1:{receiver.port}"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            port = int(proc.stdout.readline())

            def app(environ, start_response):
                body = requests.get(f"http://127.0.0.1:{port}/v2/images/1",
                                    timeout=10).content
                start_response("200 OK", [])
                return [body]

            filtered = TracingFilter.factory(
                {}, exporters=store_url, integrations="requests",
                propagators="tracecontext,osprofiler", hmac_keys=KEY)(app)
            with serve_wsgi(filtered) as api:
                assert requests.get(api.url, timeout=10).content == b"image"
        finally:
            proc.stdin.close()
            proc.wait(30)
        theirs = {s.name: s for s in receiver.take(2, timeout=20)}
    ours = {s.kind: s for s in _spans(store_url)}
    wsgi = next(s for n, s in theirs.items() if n.startswith("WSGI_"))
    point = theirs["load_image"]
    assert wsgi.trace_id == point.trace_id == ours["server"].trace_id
    assert wsgi.parent_span_id == ours["client"].span_id
    assert point.parent_span_id == wsgi.span_id
    assert ours["client"].parent_span_id == ours["server"].span_id


def test_os_profile_signed_request_is_forced_and_continued(tmp_path):
    """`openstack --os-profile KEY`-style headers force a trace even with always_off."""
    store_url = f"sqlite:///{tmp_path}/signed.db"
    base_id, parent_id = str(uuid.uuid4()), str(uuid.uuid4())
    profiler.clean()
    profiler.init(KEY, base_id=base_id, parent_id=parent_id)
    try:
        headers = web.get_trace_id_headers()
    finally:
        profiler.clean()

    def app(environ, start_response):
        start_response("200 OK", [])
        return [b""]

    filtered = TracingFilter.factory({}, exporters=store_url, integrations="",
                                     sampler="always_off", hmac_keys=KEY,
                                     propagators="tracecontext,osprofiler")(app)
    with serve_wsgi(filtered) as api:
        requests.get(api.url, headers=headers, timeout=10)
        requests.get(api.url, timeout=10)  # unsigned: dropped by always_off
    (span,) = _spans(store_url)
    assert span.trace_id == f"{uuid.UUID(base_id).int:032x}"
    assert span.parent_span_id == f"{uuid.UUID(parent_id).int & ((1 << 64) - 1):016x}"


def test_trace_points_and_osprofiler_sqlalchemy_become_spans(tmp_path):
    """@profiler.trace and osprofiler's SQLAlchemy tracing under the filter: children of the
    request; nothing leaks to the next request; unsampled requests leave osprofiler off."""
    store_url = f"sqlite:///{tmp_path}/bridge.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/app.db")
    osprofiler_sqlalchemy.add_tracing(sqlalchemy, engine, "db")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE t (x INTEGER)"))
    states = []

    @profiler.trace("compute_quota", info={"password": "s3cr3t", "tenant": "t1"})
    def compute_quota():
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("INSERT INTO t VALUES (1)"))

    def app(environ, start_response):
        states.append(profiler.get() is not None)
        compute_quota()
        start_response("200 OK", [])
        return [b""]

    filtered = TracingFilter.factory({}, exporters=store_url, integrations="osprofiler",
                                     sampler="parentbased_always_on")(app)
    with serve_wsgi(filtered) as api:
        requests.get(api.url, timeout=10)
        requests.get(api.url, timeout=10, headers={
            "traceparent": f"00-{'1' * 32}-{'2' * 16}-00"})  # unsampled
    assert states == [True, False]
    spans = {s.name: s for s in _spans(store_url)}
    server = spans["GET /"]
    assert spans["compute_quota"].parent_span_id == server.span_id
    assert spans["db"].parent_span_id == spans["compute_quota"].span_id
    assert spans["compute_quota"].attributes["osprofiler.tenant"] == "t1"
    assert "s3cr3t" not in repr(spans["compute_quota"].attributes)
    assert not any("params" in k for k in spans["db"].attributes)
    assert len(spans) == 3


def test_outgoing_keystoneauth_headers_match_our_span(tmp_path):
    """keystoneauth's osprofiler headers and ours describe the same call."""
    from keystoneauth1 import session as ksa_session
    from osprofiler import _utils as osprofiler_utils

    seen = []

    def down(environ, start_response):
        seen.append((environ.get("HTTP_TRACEPARENT"), environ.get("HTTP_X_TRACE_INFO"),
                     environ.get("HTTP_X_TRACE_HMAC")))
        start_response("200 OK", [])
        return [b"{}"]

    store_url = f"sqlite:///{tmp_path}/ksa.db"
    with serve_wsgi(down) as downstream:
        def app(environ, start_response):
            ksa_session.Session().get(downstream.url, authenticated=False)
            start_response("200 OK", [])
            return [b""]

        filtered = TracingFilter.factory(
            {}, exporters=store_url, integrations="keystoneauth1,requests,osprofiler",
            propagators="tracecontext,osprofiler", hmac_keys=KEY)(app)
        with serve_wsgi(filtered) as api:
            urllib.request.urlopen(api.url, timeout=10).read()
    traceparent, info, signature = seen[0]
    data = osprofiler_utils.signed_unpack(info, signature, [KEY])
    assert uuid.UUID(data["base_id"]).int == int(traceparent.split("-")[1], 16)
    assert osprofiler_utils.shorten_id(data["parent_id"]) == int(traceparent.split("-")[2], 16)
