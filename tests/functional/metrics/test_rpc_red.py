"""RED metrics on the traced+ driver over the real RabbitMQ: calls, casts, error replies
and a timeout counted exactly on both sides, sampled or not."""

from __future__ import annotations

import threading
import uuid

import oslo_messaging
import pytest
from oslo_config import cfg

from messaging_driver.compat import register_oslo_messaging_opts
from tracing_middleware import opts, tracer
from tracing_middleware.export.store import SpanStore
from tracing_middleware.metrics.points import SeriesKey
from tracing_middleware.metrics.recorder import Recorder

RABBIT = "traced+rabbit://guest:guest@127.0.0.1:5672/"

pytestmark = pytest.mark.rabbit


def _conf(service: str, store_url: str) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], project=service)
    opts.register_opts(conf)
    register_oslo_messaging_opts(conf)
    for key, value in {"service_name": service, "exporters": [store_url],
                       "sampler": "parentbased_traceidratio", "sampler_arg": "0.5",
                       "integrations": []}.items():
        conf.set_override(key, value, group="tracing")
    return conf


class Endpoint:
    def __init__(self) -> None:
        self.release = threading.Event()

    def ping(self, ctxt, n):
        return n

    def fail(self, ctxt):
        raise ValueError("worker failed")

    def stall(self, ctxt):
        self.release.wait(30)  # held until the caller has timed out


def test_calls_casts_errors_and_a_timeout_counted_exactly(tmp_path):
    store_url = f"sqlite:///{tmp_path}/rpc.db"
    client_conf, server_conf = _conf("conductor", store_url), _conf("compute", store_url)
    server_transport = oslo_messaging.get_rpc_transport(server_conf, RABBIT)
    client_transport = oslo_messaging.get_rpc_transport(client_conf, RABBIT)
    caller, callee = tracer.from_config(client_conf), tracer.from_config(server_conf)
    assert caller is not callee
    caller.metrics, callee.metrics = sent, received = Recorder(), Recorder()
    topic = f"red-{uuid.uuid4().hex}"
    endpoint = Endpoint()
    server = oslo_messaging.get_rpc_server(
        server_transport, oslo_messaging.Target(topic=topic, server="w1"), [endpoint],
        executor="threading")
    server.start()
    client = oslo_messaging.get_rpc_client(client_transport,
                                           oslo_messaging.Target(topic=topic), timeout=30)

    def in_request(send):
        scope = caller.activate(caller.start_span("request", parent=None, kind="server"),
                                finish_on_close=True)
        try:
            return send()
        finally:
            scope.close()

    try:
        for n in range(60):
            assert in_request(lambda n=n: client.call({}, "ping", n=n)) == n
        for _ in range(7):
            with pytest.raises(ValueError):  # the error reply, raised as its type
                in_request(lambda: client.call({}, "fail"))
        for n in range(25):
            in_request(lambda n=n: client.cast({}, "ping", n=n))
        with pytest.raises(oslo_messaging.MessagingTimeout):
            in_request(lambda: client.prepare(timeout=1).call({}, "stall"))
        endpoint.release.set()
        client.call({}, "ping", n=0)  # outside any trace: no span decision, not counted
    finally:
        endpoint.release.set()
        server.stop()
        server.wait()  # every message handled, and so counted, before the counts are read
        client_transport.cleanup()
        server_transport.cleanup()

    out = {p.key: p for p in sent.collect(delta=False)}
    assert {k: (p.count, p.errors) for k, p in out.items()} == {
        SeriesKey("conductor", "client", f"{topic}/ping", "ok"): (60, 0),
        SeriesKey("conductor", "client", f"{topic}/fail", "error"): (7, 7),
        SeriesKey("conductor", "producer", f"{topic}/ping", "ok"): (25, 0),
        SeriesKey("conductor", "client", f"{topic}/stall", "timeout"): (1, 1),
    }
    got = {p.key: p for p in received.collect(delta=False)}
    assert {k: (p.count, p.errors) for k, p in got.items()} == {
        SeriesKey("compute", "server", f"{topic}/ping", "ok"): (60, 0),
        SeriesKey("compute", "server", f"{topic}/fail", "error"): (7, 7),
        SeriesKey("compute", "consumer", f"{topic}/ping", "ok"): (25, 0),
        SeriesKey("compute", "server", f"{topic}/stall", "ok"): (1, 0),
    }

    assert caller.force_flush() and callee.force_flush()
    with SpanStore.from_url(store_url) as store:
        stored = {(s.trace_id, s.span_id): s for s in store.all_spans()}
    exemplars = [(key, e) for points in (out, got) for key, p in points.items()
                 for e in p.exemplars]
    assert exemplars  # half of 93 traces sampled: some are kept
    for key, exemplar in exemplars:
        span = stored[(exemplar.trace_id, exemplar.span_id)]
        assert (span.kind, span.name, span.service) == (key.kind, key.operation, key.service)
