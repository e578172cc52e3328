"""One user session through real keystone, placement and glance, traced end to end.

The user's openstacksdk is traced by the OpenTelemetry SDK; the services by os-tracing,
switched on only by ``os-tracing enable`` and the server configuration
``doc/source/enabling.rst`` documents. Every hop is checked by exact parent span id.
"""

from __future__ import annotations

import collections
import pathlib
import queue
import re
import uuid

import oslo_messaging
import pytest
from oslo_config import cfg

from messaging_driver.compat import register_oslo_messaging_opts
from tracing_middleware import opts, tracer, unit
from tracing_middleware.export.store import SpanStore

from .conftest import KEYSTONE_SPAN_CAP

pytestmark = pytest.mark.openstack

#: uwsgi's request log line: the worker pid of every request it answered.
UWSGI_REQUEST = re.compile(r"^\[pid: (\d+)\|app: \d+\|req: \d+/\d+\]", re.MULTILINE)


class _Listener:
    """What keystone notifies, received over RabbitMQ by a traced+ listener."""

    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.events.put((event_type, payload))


@pytest.fixture(scope="module")
def session(cloud):
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
        for server in cloud.servers.values():
            server.stop()
    store = SpanStore.from_url(cloud.store)
    try:
        spans = store.all_spans()
    finally:
        store.close()
    return {"client": driven, "spans": spans, "project": project,
            "keystone_log": cloud.servers["keystone"].log.read_text()}


def _trace(session):
    return [s for s in session["spans"] if s.trace_id == session["client"]["trace_id"]]


def _client_span(session, method, fragment):
    for span in session["client"]["spans"]:
        if span["kind"] == "client" and span["method"] == method \
                and fragment in (span["url"] or ""):
            return span
    raise AssertionError(f"no client span {method} {fragment}: {session['client']}")


def _server_child(spans, parent_id, service):
    children = [s for s in spans if s.parent_span_id == parent_id and s.kind == "server"]
    assert len(children) == 1, (parent_id, children)
    assert children[0].service == service
    return children[0]


def test_every_service_continues_the_users_trace_with_exact_parents(session):
    """The SDK's HTTP CLIENT span is the parent of each service's SERVER span."""
    spans = _trace(session)
    for method, fragment, service in (("POST", "/v3/projects", "keystone"),
                                      ("POST", "/resource_providers", "placement"),
                                      ("POST", "/v2/images", "glance-api"),
                                      ("GET", "/v2/images", "glance-api")):
        client = _client_span(session, method, fragment)
        server = _server_child(spans, client["span_id"], service)
        assert server.name.split()[0] == method


def test_token_validation_by_keystonemiddleware_is_a_hop_of_the_trace(session):
    """placement's and glance's authtoken call keystone inside the request's trace.

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
    """identity.project.created: keystone's PRODUCER span is the listener's parent."""
    spans = _trace(session)
    consumer = next(s for s in spans if s.kind == "consumer"
                    and s.attributes.get("openstack.event_type") == "identity.project.created")
    assert consumer.service == "listener"
    producer = next(s for s in spans if s.span_id == consumer.parent_span_id)
    assert (producer.kind, producer.service) == ("producer", "keystone")
    keystone = _server_child(spans, _client_span(session, "POST", "/v3/projects")["span_id"],
                             "keystone")
    ancestors = {producer.parent_span_id}
    by_id = {s.span_id: s for s in spans}
    while (parent := by_id.get(next(iter(ancestors)))) is not None \
            and parent.span_id != keystone.span_id:
        ancestors = {parent.parent_span_id}
    assert parent is keystone, "the notification was not sent inside keystone's request"


def test_uwsgi_prefork_stores_every_request_of_every_worker(session):
    """keystone under uwsgi's default prefork: one SERVER span per answered request."""
    answered = UWSGI_REQUEST.findall(session["keystone_log"])
    workers = collections.Counter(answered)
    stored = [s for s in session["spans"] if s.service == "keystone" and s.kind == "server"]
    assert len(workers) == 2, workers  # both workers served, their first requests included
    assert len(stored) == len(answered), (len(stored), workers)


def test_no_secret_reaches_the_store(session, cloud):
    """No password, token or Fernet key byte is anywhere in the store's file."""
    data = b"".join(path.read_bytes() for path in pathlib.Path(cloud.root).glob("traces.db*"))
    keys = [p.read_text().strip() for p in (cloud.root / "keystone").glob("*-keys/*")]
    for secret in [*cloud.secrets, *session["client"]["tokens"], *keys]:
        assert secret and secret.encode() not in data


def test_keystone_traces_hold_no_transaction_control_and_fold_repeats(session):
    """SQL defaults on keystone: no BEGIN/COMMIT spans; repeats carry their count."""
    db = [s for s in session["spans"] if s.service == "keystone"
          and "db.system.name" in s.attributes]
    operations = collections.Counter(s.attributes.get("db.operation.name") for s in db)
    assert db and not {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT"} & set(operations)
    folded = [s.attributes[unit.REPEAT_ATTRIBUTE] for s in db
              if unit.REPEAT_ATTRIBUTE in s.attributes]
    print(f"keystone: {len(db)} database spans, {dict(operations)}, folded {folded}")
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
        print(f"{server.name}: {KEYSTONE_SPAN_CAP} statements recorded, "
              f"{server.attributes[unit.DROPPED_ATTRIBUTE]} counted")
