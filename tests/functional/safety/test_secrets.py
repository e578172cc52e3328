"""Secrets never leave the process: not in spans, OTLP payloads, logs or bus messages."""

from __future__ import annotations

import logging
import uuid

import kombu
import oslo_messaging
import pytest
import requests
import sqlalchemy
from oslo_config import cfg

from messaging_driver.compat import register_oslo_messaging_opts
from tracing_middleware import opts, tracer
from tracing_middleware.export.store import SpanStore
from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import OTLPReceiver, serve_wsgi

SECRETS = {
    "X-Auth-Token": "SECRET-AUTH-TOKEN",
    "X-Subject-Token": "SECRET-SUBJECT-TOKEN",
    "X-Service-Token": "SECRET-SERVICE-TOKEN",
    "Authorization": "Bearer SECRET-AUTHORIZATION",
    "Cookie": "session=SECRET-COOKIE",
}
QUERY_SECRET = "SECRET-QUERY-PASSWORD"
USERINFO_SECRET = "SECRET-USERINFO"
SQL_SECRET = "SECRET-SQL-PARAMETER"
HMAC_KEY = "SECRET-HMAC-KEY"
RABBIT_PASSWORD = "guest"
ALL = [*SECRETS.values(), QUERY_SECRET, USERINFO_SECRET, SQL_SECRET, HMAC_KEY]


@pytest.mark.rabbit
def test_no_secret_reaches_store_otlp_logs_or_bus(tmp_path, caplog):
    """Every secret goes through the filter, HTTP, SQL and RPC; none is found anywhere."""
    caplog.set_level(logging.DEBUG)
    store_url = f"sqlite:///{tmp_path}/secrets.db"
    topic = f"secrets-{uuid.uuid4().hex[:8]}"
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/app.db")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE users (name TEXT, password TEXT)"))
    seen_downstream = []

    def downstream(environ, start_response):
        seen_downstream.append(dict(environ))
        start_response("200 OK", [])
        return [b""]

    bus_copy = kombu.Connection("amqp://guest:guest@127.0.0.1:5672//")
    copy_queue = kombu.Queue(f"{topic}-copy", kombu.Exchange("openstack", type="topic",
                                                              durable=False),
                             routing_key=topic, auto_delete=True)
    copy_queue(bus_copy.default_channel).declare()
    with OTLPReceiver() as receiver, serve_wsgi(downstream) as down:
        conf = cfg.ConfigOpts()
        conf([], project="secrets")
        opts.register_opts(conf)
        register_oslo_messaging_opts(conf)
        for key, value in {"exporters": [store_url, receiver.endpoint],
                           "integrations": ["requests", "sqlalchemy", "logging"],
                           "propagators": ["tracecontext", "osprofiler"],
                           "hmac_keys": [HMAC_KEY], "sampler": "always_on",
                           "service_name": "secrets"}.items():
            conf.set_override(key, value, group="tracing")
        transport = oslo_messaging.get_rpc_transport(
            conf, f"traced+rabbit://guest:{RABBIT_PASSWORD}@127.0.0.1:5672/")

        class Endpoint:
            def store(self, ctxt, name):
                return name

        server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic=topic, server="s"), [Endpoint()],
            executor="threading")
        server.start()
        client = oslo_messaging.get_rpc_client(transport,
                                               oslo_messaging.Target(topic=topic), timeout=30)

        def app(environ, start_response):
            with engine.begin() as conn:
                conn.execute(sqlalchemy.text("INSERT INTO users VALUES (:n, :p)"),
                             {"n": "alice", "p": SQL_SECRET})
            host, port = down.url.split("//", 1)[1].split(":")
            requests.get(f"http://admin:{USERINFO_SECRET}@{host}:{port}/v3?password="
                         f"{QUERY_SECRET}&limit=1", timeout=10)
            client.call({"request_id": "req-1", "trace_info": {
                "hmac_key": HMAC_KEY, "base_id": str(uuid.uuid4()),
                "parent_id": str(uuid.uuid4())}}, "store", name="alice")
            logging.getLogger("test.app").error("handled request")
            start_response("200 OK", [])
            return [b""]

        filtered = TracingFilter.factory({}, **{"exporters": f"{store_url},"
                                                f"{receiver.endpoint}",
                                                "integrations": "requests,sqlalchemy,logging",
                                                "propagators": "tracecontext,osprofiler",
                                                "hmac_keys": HMAC_KEY,
                                                "sampler": "always_on",
                                                "service_name": "secrets"})(app)
        with serve_wsgi(filtered) as api:
            response = requests.get(f"{api.url}/v2.1/servers?token={QUERY_SECRET}",
                                    headers=SECRETS, timeout=30)
            assert response.status_code == 200
        server.stop()
        server.wait()
        transport.cleanup()
        assert tracer.force_flush_all()
        otlp = b"".join(receiver.raw_bodies)
        assert receiver.requests > 0
    message = copy_queue(bus_copy.default_channel).get(no_ack=True)
    bus_copy.release()
    assert message is not None, "the RPC message was not copied off the bus"
    bus_body = message.body if isinstance(message.body, bytes) else str(
        message.body).encode()
    store = SpanStore.from_url(store_url)
    stored = repr([s.to_json() for s in store.all_spans()])
    store.close()
    assert "db.query.text" in stored and "url.full" in stored  # the spans are there
    # our log lines (the host's libraries, e.g. urllib3 at DEBUG, log what they log)
    logs = "\n".join(r.getMessage() for r in caplog.records
                     if r.name.startswith(("tracing_middleware", "messaging_driver")))
    for secret in ALL:
        assert secret not in stored, secret
        assert secret.encode() not in otlp, secret
        assert secret not in logs, secret
    assert HMAC_KEY.encode() not in bus_body
    assert b"_os_trace" in bus_body  # the envelope itself travelled
    for header in ("HTTP_X_AUTH_TOKEN", "HTTP_X_SERVICE_TOKEN", "HTTP_COOKIE"):
        assert header not in seen_downstream[0]  # we never forward the caller's secrets
