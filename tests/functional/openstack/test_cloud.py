"""One user session through real keystone, placement and glance, traced end to end.

The user's openstacksdk is traced by the OpenTelemetry SDK; the services by os-tracing,
switched on only by ``os-tracing enable`` and the server configuration
``doc/source/enabling.rst`` documents. Every hop is checked by exact parent span id, in
the store the services flushed when they were stopped gracefully.
"""

from __future__ import annotations

import collections
import json
import queue
import re
import sqlite3
import urllib.parse
import uuid

import oslo_messaging
import pytest
from oslo_config import cfg

from messaging_driver.compat import register_oslo_messaging_opts
from tracing_middleware import opts, tracer, unit
from tracing_middleware.export.store import SpanStore

from .conftest import KEYSTONE_SPAN_CAP, KEYSTONE_THREADS

pytestmark = pytest.mark.openstack

#: uwsgi's request log line: the answering worker's pid, its request number, the request.
UWSGI_REQUEST = re.compile(
    r"^\[pid: (\d+)\|app: \d+\|req: (\d+)/\d+\] .*?\] (\w+) (\S+) =>", re.MULTILINE)
#: Apache's access log (``LogFormat "%h %t \"%r\" %>s %b %D"``): the request line.
APACHE_REQUEST = re.compile(r'^\S+ \[[^\]]+\] "(\w+) (\S+) HTTP/[\d.]+"', re.MULTILINE)
#: A keystone Fernet token as sent on the wire: the base64url of version byte 0x80 and a
#: timestamp starting with zero bytes. Finds the services' own tokens, which no test sees.
FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_-]{40,}")
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


class _Listener:
    """What keystone notifies, received over RabbitMQ by a traced+ listener."""

    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.events.put((event_type, payload))


@pytest.fixture(scope="module")
def session(cloud):
    """The user session, with keystone's notification received by a traced+ listener;
    then every service stopped gracefully and the store read."""
    conf = cfg.ConfigOpts()
    conf([], project="listener")
    opts.register_opts(conf)
    register_oslo_messaging_opts(conf)
    for key, value in {"exporters": [cloud.store], "service_name": "listener",
                       "integrations": []}.items():
        conf.set_override(key, value, group="tracing")
    transport = oslo_messaging.get_notification_transport(
        conf, "traced+rabbit://guest:guest@127.0.0.1:5672/")
    endpoint = _Listener()
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=cloud.notification_topic,
                                          exchange="keystone")],
        [endpoint], executor="threading")
    listener.start()
    project = f"p-{uuid.uuid4().hex[:8]}"
    try:
        driven = cloud.client("drive", project_name=project)
        while True:  # keystone notifies more than the project; wait for that one
            event_type, _ = endpoint.events.get(timeout=60)
            if event_type == "identity.project.created":
                break
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
        assert tracer.force_flush_all(10)
        tracer.reset()
        cloud.stop()
    store = SpanStore.from_url(cloud.store)
    try:
        spans = store.all_spans()
    finally:
        store.close()
    return {"client": driven, "spans": spans, "project": project,
            "keystone_log": cloud.servers["keystone"].log.read_text(),
            "placement_access": (cloud.root / "placement" /
                                 "placement-api-access.log").read_text()}


def _trace(session):
    return [s for s in session["spans"] if s.trace_id == session["client"]["trace_id"]]


def _client_spans(session):
    return [s for s in session["client"]["spans"] if s["kind"] == "client"]


def _client_span(session, method, fragment):
    for span in _client_spans(session):
        if span["method"] == method and fragment in (span["url"] or ""):
            return span
    raise AssertionError(f"no client span {method} {fragment}: {session['client']}")


def _server_child(spans, parent_id, service):
    children = [s for s in spans if s.parent_span_id == parent_id and s.kind == "server"]
    assert len(children) == 1, (parent_id, service, children)
    assert children[0].service == service, children[0]
    return children[0]


def test_every_sdk_request_is_continued_by_one_server_span_in_one_trace(session, cloud):
    """Each HTTP CLIENT span of the SDK is the exact parent of one SERVER span of the
    service it called, all in the user's one trace."""
    trace_id = session["client"]["trace_id"]
    assert {s["trace_id"] for s in session["client"]["spans"]} == {trace_id}
    ports = {urllib.parse.urlsplit(cloud.config[name]).port: service
             for name, service in (("keystone", "keystone"), ("placement", "placement"),
                                   ("glance", "glance-api"))}
    spans = _trace(session)
    calls = _client_spans(session)
    called = collections.Counter()
    for call in calls:
        service = ports[urllib.parse.urlsplit(call["url"]).port]
        server = _server_child(spans, call["span_id"], service)
        assert server.name.split()[0] == call["method"], (server.name, call)
        called[service] += 1
    print(f"SDK requests per service: {dict(called)}")
    assert set(called) == {"keystone", "placement", "glance-api"}
    for method, fragment, service in (("POST", "/v3/auth/tokens", "keystone"),
                                      ("POST", "/v3/projects", "keystone"),
                                      ("POST", "/resource_providers", "placement"),
                                      ("GET", "/resource_providers", "placement"),
                                      ("POST", "/v2/images", "glance-api"),
                                      ("GET", "/v2/images", "glance-api")):
        _server_child(spans, _client_span(session, method, fragment)["span_id"], service)


def test_token_validation_by_keystonemiddleware_is_a_hop_of_the_trace(session):
    """Inside placement's and glance's requests, authtoken's call to keystone is a CLIENT
    span whose exact child is keystone's SERVER span, in the user's trace.

    keystonemiddleware caches a validated token per worker process, so not every request
    validates; each service's first request in a worker does."""
    spans = _trace(session)
    for service in ("placement", "glance-api"):
        servers = {s.span_id for s in spans if s.service == service and s.kind == "server"}
        calls = [s for s in spans if s.parent_span_id in servers and s.kind == "client"
                 and "/v3/auth/tokens" in str(s.attributes.get("url.full", ""))]
        # the service's own login (POST, once per worker) and the validation (GET)
        answered = [_server_child(spans, call.span_id, "keystone").name for call in calls]
        assert "GET /v3/auth/tokens" in answered, (service, answered)


def test_keystones_notification_reaches_the_listener_in_the_trace(session):
    """identity.project.created: the traced+ listener's CONSUMER span's parent is the
    PRODUCER span keystone recorded inside the SDK's POST /v3/projects."""
    spans = _trace(session)
    consumer = next(s for s in spans if s.kind == "consumer"
                    and s.attributes.get("openstack.event_type") == "identity.project.created")
    assert consumer.service == "listener"
    by_id = {s.span_id: s for s in spans}
    producer = by_id[consumer.parent_span_id]
    assert (producer.kind, producer.service) == ("producer", "keystone")
    keystone = _server_child(spans, _client_span(session, "POST", "/v3/projects")["span_id"],
                             "keystone")
    parent = by_id[producer.parent_span_id]
    while parent.span_id != keystone.span_id:
        assert parent.kind != "server", "the notification was sent by another request"
        parent = by_id[parent.parent_span_id]


def test_uwsgi_prefork_stores_every_request_of_every_worker(session):
    """keystone under uwsgi's default prefork: every request each worker answered, its
    first included, is a stored SERVER span (the same method and path, as many times)."""
    answered = UWSGI_REQUEST.findall(session["keystone_log"])
    workers = collections.Counter(pid for pid, _, _, _ in answered)
    # uwsgi logs the worker's request counter as it reads when the request ends, so with two
    # threads a worker's first two requests may both say 2; either way, each worker's first
    # requests are in the log.
    firsts = {pid: min(int(number) for p, number, _, _ in answered if p == pid)
              for pid in workers}
    logged = collections.Counter((method, urllib.parse.urlsplit(path).path)
                                 for _, _, method, path in answered)
    stored = collections.Counter(
        (s.attributes.get("http.request.method"), s.attributes.get("url.path"))
        for s in session["spans"] if s.service == "keystone" and s.kind == "server")
    print(f"keystone: {len(answered)} requests answered by workers {dict(workers)}, "
          f"{sum(stored.values())} SERVER spans stored; first requests {firsts}")
    assert len(workers) == 2, workers  # both workers served
    assert all(first <= KEYSTONE_THREADS for first in firsts.values()), firsts
    assert stored == logged, (logged - stored, stored - logged)


def test_mod_wsgi_daemon_processes_store_every_request(session):
    """placement under Apache mod_wsgi daemon mode: one SERVER span per logged request."""
    logged = collections.Counter(
        (method, urllib.parse.urlsplit(path).path)
        for method, path in APACHE_REQUEST.findall(session["placement_access"]))
    stored = collections.Counter(
        (s.attributes.get("http.request.method"), s.attributes.get("url.path"))
        for s in session["spans"] if s.service == "placement" and s.kind == "server")
    print(f"placement: {sum(logged.values())} requests logged, "
          f"{sum(stored.values())} SERVER spans stored")
    assert logged and stored == logged, (logged - stored, stored - logged)


def test_no_secret_reaches_the_store(session, cloud):
    """No password, token or Fernet key is anywhere in the store, by bytes or by row."""
    secrets = [*cloud.secrets, *session["client"]["tokens"]]
    assert session["client"]["tokens"] and all(secrets)
    files = sorted(cloud.store_path.parent.glob("traces.db*"))
    data = b"".join(path.read_bytes() for path in files)
    with sqlite3.connect(cloud.store_path) as db:
        rows = [json.dumps(row) for row in db.execute("SELECT * FROM spans")]
    assert len(rows) == len(session["spans"])
    for secret in secrets:
        assert secret.encode() not in data, f"a secret of {len(secret)} chars in {files}"
        assert not [row for row in rows if secret in row]
    assert not FERNET_TOKEN.findall(data), "a Fernet token in the store"
    assert not [row for row in rows if FERNET_TOKEN.search(row.encode())]


def test_keystone_trace_size(session):
    """Measured: the user's trace and keystone's share of it, by statement (printed)."""
    spans = _trace(session)
    keystone = [s for s in spans if s.service == "keystone"]
    db = [s for s in keystone if "db.system.name" in s.attributes]
    operations = collections.Counter(s.attributes.get("db.operation.name") for s in db)
    by_service = collections.Counter(s.service for s in spans)
    print(f"user trace: {len(spans)} spans {dict(by_service)}; keystone: {len(keystone)} "
          f"spans, {len(db)} statements {dict(operations)}; in every keystone trace: "
          f"{sum(1 for s in session['spans'] if s.service == 'keystone')} spans")
    assert db and operations["SELECT"] > 0
    assert sum(1 for s in keystone if s.kind == "server") > 0


def test_keystone_traces_hold_no_transaction_control_and_fold_repeats(session):
    """SQL defaults (sql_transaction_spans = false, sql_fold_repeats = true) on keystone:
    no BEGIN/COMMIT/ROLLBACK spans in any of its traces; a folded span counts > 1.

    NOTE(os-tracing): written against the core's SQL defaults; if they change, change the
    expected set here with them."""
    db = [s for s in session["spans"] if s.service == "keystone"
          and "db.system.name" in s.attributes]
    operations = collections.Counter(s.attributes.get("db.operation.name") for s in db)
    names = collections.Counter(s.name.split()[0].upper() for s in db if s.name)
    folded = [s.attributes[unit.REPEAT_ATTRIBUTE] for s in db
              if unit.REPEAT_ATTRIBUTE in s.attributes]
    print(f"keystone: {len(db)} database spans, {dict(operations)}, "
          f"{len(folded)} folded ({sum(folded)} executions)")
    assert db
    assert not TRANSACTION_CONTROL & set(operations), operations
    assert not TRANSACTION_CONTROL & set(names), names
    assert all(count > 1 for count in folded)


def test_keystone_requests_record_at_most_the_span_cap(session):
    """Past max_spans_per_unit a keystone request counts its statements instead of
    recording them; what hands the trace on (the notification) is still recorded."""
    spans = [s for s in session["spans"] if s.service == "keystone"]
    by_id = {s.span_id: s for s in spans}
    recorded: collections.Counter = collections.Counter()
    for span in spans:
        if span.kind == "server" or "db.system.name" not in span.attributes:
            continue
        parent = by_id[span.parent_span_id]
        while parent.kind != "server":
            parent = by_id[parent.parent_span_id]
        recorded[parent.span_id] += 1
    capped = [s for s in spans if unit.DROPPED_ATTRIBUTE in s.attributes]
    assert capped, "no keystone request reached the cap"
    assert max(recorded.values()) <= KEYSTONE_SPAN_CAP
    for server in capped:
        assert recorded[server.span_id] == KEYSTONE_SPAN_CAP
    assert any(s.kind == "producer" for s in spans)
    print(f"keystone: {len(capped)} requests capped at {KEYSTONE_SPAN_CAP} statements, "
          f"{sum(s.attributes[unit.DROPPED_ATTRIBUTE] for s in capped)} counted instead")
