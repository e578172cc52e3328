"""The traced+ driver over the real RabbitMQ and the fake driver: spans checked exactly."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Callable

import kombu
import oslo_messaging
import pytest
from oslo_config import cfg

from messaging_driver import envelope
from messaging_driver.compat import register_oslo_messaging_opts
from tracing_middleware import opts, tracer
from tracing_middleware.export.store import SpanStore

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"


BUSES = ["fake://", pytest.param(RABBIT, marks=pytest.mark.rabbit)]


def make_conf(service: str, store_url: str, **tracing: object) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], project=service)
    opts.register_opts(conf)
    register_oslo_messaging_opts(conf)
    values = {"service_name": service, "exporters": [store_url], "sampler": "always_on",
              "integrations": [], **tracing}
    for key, value in values.items():
        conf.set_override(key, value, group="tracing")
    conf.set_override("executor_thread_pool_size", 1)
    return conf


class Bus:
    """Transports for one test; on fake://, services share one in-process exchange."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.transports: list[oslo_messaging.Transport] = []
        self.servers: list[oslo_messaging.MessageHandlingServer] = []

    def transport(self, conf: cfg.ConfigOpts, traced: bool = True,
                  notifications: bool = False) -> oslo_messaging.Transport:
        url = ("traced+" if traced else "") + self.base
        get = (oslo_messaging.get_notification_transport if notifications
               else oslo_messaging.get_rpc_transport)
        transport = get(conf, url)
        if self.base.startswith("fake") and self.transports:
            inner = _fake_driver(transport)
            inner._exchange_manager = _fake_driver(self.transports[0])._exchange_manager
        self.transports.append(transport)
        return transport

    def serve(self, server: oslo_messaging.MessageHandlingServer) -> None:
        server.start()
        self.servers.append(server)

    def rpc(self, topic: str, endpoint: object, *, server: oslo_messaging.Transport,
            client: oslo_messaging.Transport) -> oslo_messaging.RPCClient:
        """Serve ``endpoint`` on ``topic`` from the ``server`` transport (one threading
        server, "w1"); return a client of the topic on the ``client`` transport."""
        self.serve(oslo_messaging.get_rpc_server(
            server, oslo_messaging.Target(topic=topic, server="w1"), [endpoint],
            executor="threading"))
        return oslo_messaging.get_rpc_client(client, oslo_messaging.Target(topic=topic),
                                             timeout=30)

    def close(self) -> None:
        for server in self.servers:
            server.stop()
            server.wait()
        for transport in self.transports:
            transport.cleanup()


def _fake_driver(transport):
    driver = transport._driver
    return getattr(driver, "inner", driver)


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path}/rpc.db"


@pytest.fixture(params=BUSES)
def bus(request):
    b = Bus(request.param)
    yield b
    b.close()


class Worker:
    def __init__(self, notifier: oslo_messaging.Notifier | None = None) -> None:
        self.notifier = notifier
        self.seen: queue.Queue = queue.Queue()

    def _report(self, ctxt, name):
        tracing = tracer.get_tracing()
        span = tracing.active_span() if tracing else None
        context = tracing.span_context_of(span) if span is not None else None
        self.seen.put((name, dict(ctxt), context))

    def build(self, ctxt, name):
        self._report(ctxt, "build")
        if self.notifier is not None:
            self.notifier.info(ctxt, "compute.instance.create.end", {"name": name})
        return {"name": name}

    def usage(self, ctxt, count):
        self._report(ctxt, "usage")

    def fail(self, ctxt):
        raise ValueError("worker failed")


class Listener:
    def __init__(self) -> None:
        self.seen: queue.Queue = queue.Queue()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        tracing = tracer.get_tracing()
        span = tracing.active_span() if tracing else None
        self.seen.put((dict(ctxt), event_type, payload,
                       tracing.span_context_of(span) if span is not None else None))


def _spans(store_url):
    assert tracer.force_flush_all()
    store = SpanStore.from_url(store_url)
    try:
        return {(s.name, s.kind): s for s in store.all_spans()}
    finally:
        store.close()


def test_call_cast_and_notification_form_one_tree(bus, store_url):
    """call -> SERVER, cast -> CONSUMER, notification -> CONSUMER: exact parent ids."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    api = make_conf("api", store_url)
    worker_conf = make_conf("worker", store_url)
    agent_conf = make_conf("agent", store_url)
    api_transport = bus.transport(api)
    worker_transport = bus.transport(worker_conf)
    notify_transport = bus.transport(worker_conf, notifications=True)
    listen_transport = bus.transport(agent_conf, notifications=True)
    notifier = oslo_messaging.Notifier(notify_transport, "worker.host", driver="messaging",
                                       topics=[f"{topic}-n"])
    worker = Worker(notifier)
    listener = Listener()
    bus.serve(oslo_messaging.get_rpc_server(
        worker_transport, oslo_messaging.Target(topic=topic, server="w1"), [worker],
        executor="threading"))
    bus.serve(oslo_messaging.get_notification_listener(
        listen_transport, [oslo_messaging.Target(topic=f"{topic}-n")], [listener],
        executor="threading"))
    client = oslo_messaging.get_rpc_client(api_transport, oslo_messaging.Target(topic=topic),
                                           timeout=30)
    tracing = tracer.get_tracing()
    root = tracing.start_span("POST /servers", parent=None, kind="server")
    ctxt = {"request_id": "req-42", "user": "u"}
    with tracing.activate(root, finish_on_close=True):
        assert client.call(ctxt, "build", name="vm") == {"name": "vm"}
        client.cast(ctxt, "usage", count=1)
    root_ctx = tracing.span_context_of(root)
    seen = {worker.seen.get(timeout=30)[0]: None for _ in range(2)}
    assert set(seen) == {"build", "usage"}
    listener.seen.get(timeout=30)
    spans = _spans(store_url)
    service = topic
    call_client = spans[(f"{service}/build", "client")]
    call_server = spans[(f"{service}/build", "server")]
    cast_producer = spans[(f"{service}/usage", "producer")]
    cast_consumer = spans[(f"{service}/usage", "consumer")]
    notify_producer = spans[(f"send {topic}-n.info", "producer")]
    notify_consumer = spans[("process compute.instance.create.end", "consumer")]
    assert {s.trace_id for s in spans.values()} == {root_ctx.trace_id_hex}
    assert call_client.parent_span_id == root_ctx.span_id_hex
    assert call_server.parent_span_id == call_client.span_id
    assert cast_producer.parent_span_id == root_ctx.span_id_hex
    assert cast_consumer.parent_span_id == cast_producer.span_id
    assert notify_producer.parent_span_id == call_server.span_id
    assert notify_consumer.parent_span_id == notify_producer.span_id
    assert (call_client.service, call_server.service, notify_consumer.service) == (
        "api", "worker", "agent")
    assert call_client.attributes["rpc.system"] == "oslo_messaging"
    assert call_client.attributes["rpc.method"] == "build"
    assert call_client.attributes["openstack.request_id"] == "req-42"
    assert call_server.attributes["messaging.operation.type"] == "process"
    assert notify_consumer.attributes["openstack.event_type"] == "compute.instance.create.end"


def test_request_ids_on_both_sides_of_call_and_cast(bus, store_url):
    """The request context's request_id and global_request_id are on the sending and the
    receiving span; a global id not shaped req-<uuid> is left out, the call still goes."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    transport = bus.transport(make_conf("svc", store_url))
    worker = Worker()
    client = bus.rpc(topic, worker, server=transport, client=transport)
    tracing = tracer.get_tracing()
    shared = f"req-{uuid.uuid4()}"
    with tracing.activate(tracing.start_span("root", parent=None), finish_on_close=True):
        assert client.call({"request_id": "req-7", "global_request_id": shared}, "build",
                           name="x") == {"name": "x"}
        client.cast({"request_id": "req-8", "global_request_id": "req-1; drop"}, "usage",
                    count=1)
    # A sync() call: one executor thread, so the cast and its span have ended by its reply.
    client.call({}, "usage", count=0)
    spans = _spans(store_url)
    for kind in ("client", "server"):
        attributes = spans[(f"{topic}/build", kind)].attributes
        assert attributes["openstack.request_id"] == "req-7"
        assert attributes["openstack.global_request_id"] == shared
    for kind in ("producer", "consumer"):
        attributes = spans[(f"{topic}/usage", kind)].attributes
        assert attributes["openstack.request_id"] == "req-8"
        assert "openstack.global_request_id" not in attributes


def test_remote_error_marks_call_span(bus, store_url):
    """A call whose endpoint raises marks both sides as errors; the error reaches the caller."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    conf = make_conf("svc", store_url)
    transport = bus.transport(conf)
    client = bus.rpc(topic, Worker(), server=transport, client=transport)
    tracing = tracer.get_tracing()
    with tracing.activate(tracing.start_span("root", parent=None), finish_on_close=True):
        with pytest.raises(Exception, match="worker failed"):
            client.call({}, "fail")
    spans = _spans(store_url)
    assert spans[(f"{topic}/fail", "client")].status == "error"
    assert spans[(f"{topic}/fail", "server")].status == "error"


@pytest.mark.parametrize("traced_side", ["sender", "receiver"])
def test_rolling_upgrade_is_invisible(bus, store_url, traced_side):
    """One side on the plain URL: endpoints see exactly what an untraced run shows them."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    conf = make_conf("svc", store_url)
    sender = bus.transport(conf, traced=traced_side == "sender")
    receiver = bus.transport(conf, traced=traced_side == "receiver")
    worker = Worker()
    client = bus.rpc(topic, worker, server=receiver, client=sender)
    tracer.from_config(conf)
    tracing = tracer.get_tracing()
    ctxt = {"request_id": "req-1", "project_id": "p"}
    with tracing.activate(tracing.start_span("root", parent=None), finish_on_close=True):
        assert client.call(ctxt, "build", name="x") == {"name": "x"}
    name, seen_ctxt, _ = worker.seen.get(timeout=30)
    assert name == "build"
    assert envelope.KEY not in seen_ctxt
    assert {k: v for k, v in seen_ctxt.items() if k in ctxt} == ctxt
    assert not any("trace" in k for k in seen_ctxt)


def test_reused_worker_thread_never_leaks_a_trace(bus, store_url):
    """One executor thread, traced and untraced casts interleaved: each sees its own trace."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    conf = make_conf("svc", store_url)
    transport = bus.transport(conf)
    worker = Worker()
    client = bus.rpc(topic, worker, server=transport, client=transport)
    tracing = tracer.get_tracing()
    expected = []
    for i in range(20):
        if i % 2 == 0:
            root = tracing.start_span(f"r{i}", parent=None)
            with tracing.activate(root, finish_on_close=True):
                client.call({"i": i}, "build", name=str(i))
            expected.append((i, tracing.span_context_of(root).trace_id))
        else:
            client.call({"i": i}, "build", name=str(i))
            expected.append((i, None))
    seen = {}
    for _ in range(20):
        _, ctxt, context = worker.seen.get(timeout=30)
        seen[ctxt["i"]] = context.trace_id if context is not None else None
    assert [seen[i] for i, _ in expected] == [t for _, t in expected]


def test_unsampled_message_carries_decision_without_spans(bus, store_url):
    """An unsampled trace sends only its context; the receiver records nothing and
    carries the context on as it came."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    conf = make_conf("svc", store_url, sampler="parentbased_always_off")
    transport = bus.transport(conf)
    worker = Worker()
    client = bus.rpc(topic, worker, server=transport, client=transport)
    tracing = tracer.get_tracing()
    root = tracing.start_span("root", parent=None)
    assert not tracing.is_recording(root)
    with tracing.activate(root, finish_on_close=True):
        client.call({}, "build", name="x")
    _, _, context = worker.seen.get(timeout=30)
    sent = tracing.span_context_of(root)
    assert context is not None and context.trace_id == sent.trace_id
    assert not context.sampled
    # Passed through: the receiver invents no span id for a span nobody records.
    assert context.span_id == sent.span_id
    assert _spans(store_url) == {}


def test_hmac_key_is_never_sent(store_url):
    """osprofiler trace_info keeps flowing, without its key, and still continues the trace."""
    bus = Bus("fake://")
    try:
        topic = f"t-{uuid.uuid4().hex[:8]}"
        conf = make_conf("svc", store_url, hmac_keys=["k3y"])
        transport = bus.transport(conf)
        worker = Worker()
        client = bus.rpc(topic, worker, server=transport, client=transport)
        base_id = str(uuid.uuid4())
        client.call({"trace_info": {"hmac_key": "k3y", "base_id": base_id,
                                    "parent_id": base_id}}, "build", name="x")
        _, ctxt, context = worker.seen.get(timeout=30)
    finally:
        bus.close()
    assert "hmac_key" not in ctxt["trace_info"]
    assert "k3y" not in repr(ctxt)
    assert context is None  # without the key the receiver cannot trust trace_info


@pytest.mark.parametrize(("url", "error"), [
    ("traced://", oslo_messaging.InvalidTransportURL),
    ("traced+nosuch://", oslo_messaging.DriverLoadFailure),
])
def test_bad_urls_fail_fast(url, error, store_url):
    """A traced URL without a loadable inner driver raises oslo.messaging's own error."""
    with pytest.raises(error):
        oslo_messaging.get_rpc_transport(make_conf("svc", store_url), url)


def test_trace_info_from_osprofiler_serializer_continues_the_trace(store_url):
    """A request context with trace_info signed by one of our keys continues that trace."""
    bus = Bus("fake://")
    try:
        topic = f"t-{uuid.uuid4().hex[:8]}"
        conf = make_conf("svc", store_url, hmac_keys=["k3y"])
        plain = bus.transport(conf, traced=False)
        traced = bus.transport(conf)
        worker = Worker()
        client = bus.rpc(topic, worker, server=traced, client=plain)
        base_id = str(uuid.uuid4())
        parent_id = str(uuid.uuid4())
        client.call({"trace_info": {"hmac_key": "k3y", "base_id": base_id,
                                    "parent_id": parent_id}}, "build", name="x")
        _, _, context = worker.seen.get(timeout=30)
    finally:
        bus.close()
    assert context is not None
    assert context.trace_id == uuid.UUID(base_id).int
    spans = _spans(store_url)
    server = spans[(f"{topic}/build", "server")]
    assert server.parent_span_id == f"{uuid.UUID(parent_id).int & ((1 << 64) - 1):016x}"


@pytest.fixture
def native_tracing(monkeypatch):
    """oslo.messaging's own OpenTelemetry tracing (18.3+), on a private SDK provider that
    keeps its spans in memory (oslo.messaging keeps one tracer per process)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from oslo_messaging._tracing import client as native

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(native, "_TRACER", provider.get_tracer("oslo.messaging"))
    yield provider, exporter
    provider.shutdown()


@pytest.mark.parametrize("sampled", [True, False])
def test_oslo_messaging_own_tracing_is_continued(bus, store_url, native_tracing, sampled):
    """A service with ``[oslo_messaging_tracing] tracing_enabled`` on the plain driver
    writes ``traceparent`` into the request context; a ``traced+`` receiver continues it,
    and keeps its decision."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    provider, exporter = native_tracing
    user = provider if sampled else TracerProvider(sampler=ALWAYS_OFF)
    topic = f"t-{uuid.uuid4().hex[:8]}"
    sender_conf = make_conf("api", store_url)
    sender_conf.set_override("tracing_enabled", True, group="oslo_messaging_tracing")
    sender = bus.transport(sender_conf, traced=False)
    receiver = bus.transport(make_conf("worker", store_url, sampler="parentbased_always_on"))
    worker = Worker()
    client = bus.rpc(topic, worker, server=receiver, client=sender)
    with user.get_tracer("user").start_as_current_span("user request") as root:
        assert client.call({"request_id": "req-1"}, "build", name="x") == {"name": "x"}
    _, seen_ctxt, context = worker.seen.get(timeout=30)
    assert "traceparent" in seen_ctxt  # oslo.messaging's contract, left as it wrote it
    assert context is not None
    assert context.trace_id == root.get_span_context().trace_id
    assert bool(context.sampled) is sampled
    if sampled:
        # The SERVER span ends when the reply has gone; on the one executor thread, the
        # reply to a later call comes only after that.
        client.call({}, "usage", count=0)
    spans = _spans(store_url)
    if not sampled:
        assert spans == {}
        return
    producer = next(s for s in exporter.get_finished_spans() if s.name == f"{topic}.build")
    server = spans[(f"{topic}/build", "server")]
    assert server.trace_id == f"{root.get_span_context().trace_id:032x}"
    assert server.parent_span_id == f"{producer.context.span_id:016x}"



@pytest.mark.parametrize("base", ["fake://", pytest.param(RABBIT, marks=pytest.mark.rabbit)])
def test_eventlet_executor_in_a_subprocess(base):
    """Under eventlet.monkey_patch() and the eventlet executor each call sees its own trace."""
    import json
    import os
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts",
                          "eventlet_executor.py")
    out = subprocess.run([sys.executable, script, base], capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["manager"] == "eventlet"
    assert report["seen"] == report["expected"]


def test_endpoint_fanning_out_to_a_futurist_pool(store_url):
    """An endpoint under the threading executor hands work to a futurist pool: each piece
    of work is a child of the message's SERVER span."""
    import futurist

    bus = Bus("fake://")
    pool = futurist.ThreadPoolExecutor(2)
    try:
        topic = f"t-{uuid.uuid4().hex[:8]}"
        conf = make_conf("svc", store_url, integrations=["futurist"])
        transport = bus.transport(conf)

        class Fanout:
            def run(self, ctxt):
                tracing = tracer.get_tracing()

                def piece(i):
                    tracing.start_span(f"piece-{i}").finish()
                for f in [pool.submit(piece, i) for i in range(3)]:
                    f.result(10)
                return True

        client = bus.rpc(topic, Fanout(), server=transport, client=transport)
        tracing = tracer.get_tracing()
        with tracing.activate(tracing.start_span("root", parent=None), finish_on_close=True):
            assert client.call({}, "run") is True
    finally:
        pool.shutdown()
        bus.close()
    spans = _spans(store_url)
    server = spans[(f"{topic}/run", "server")]
    pieces = [s for (name, _), s in spans.items() if name.startswith("piece-")]
    assert len(pieces) == 3
    assert all(p.parent_span_id == server.span_id for p in pieces)


def _on_the_wire(bus: Bus, transport: oslo_messaging.Transport, topic: str,
                 cast: Callable[[], None]) -> dict:
    """The message dict of one cast to ``topic`` (no server listening), as the bus holds it."""
    if bus.base.startswith("fake"):
        cast()
        exchange = _fake_driver(transport)._exchange_manager.get_exchange(None)
        [(_, message, _, _)] = exchange._topic_queues[(topic, None)]
        return json.loads(json.dumps(message))
    with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as connection:
        copy = kombu.Queue(f"{topic}-copy", kombu.Exchange("openstack", type="topic",
                                                           durable=False),
                           routing_key=topic, auto_delete=True)
        with connection.SimpleQueue(copy) as bound:
            cast()
            received = bound.get(block=True, timeout=30)
            received.ack()
    return json.loads(json.loads(received.body)["oslo.message"])


@pytest.mark.parametrize("active", ["no span", "unsampled span"])
def test_unsampled_cast_on_the_wire(bus, store_url, active):
    """Outside any trace a cast carries no ``_os_trace`` key on the bus; inside an unsampled
    one it carries that context flagged unsampled (the decision travels) and records nothing."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    transport = bus.transport(make_conf("svc", store_url, sampler="always_off"))
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=topic))
    tracing = tracer.get_tracing()
    root = tracing.start_span("root", parent=None)
    assert not tracing.is_recording(root)

    def cast() -> None:
        if active == "no span":
            client.cast({"request_id": "req-1"}, "usage", count=1)
            return
        with tracing.activate(root, finish_on_close=True):
            client.cast({"request_id": "req-1"}, "usage", count=1)

    message = _on_the_wire(bus, transport, topic, cast)
    assert message["method"] == "usage" and message["args"] == {"count": 1}
    if active == "no span":
        assert envelope.KEY not in message
    else:
        _, trace_id, _, flags = message[envelope.KEY]["traceparent"].split("-")
        assert trace_id == tracing.span_context_of(root).trace_id_hex
        assert flags == "02"  # not sampled; the trace id is ours, so random
    assert _spans(store_url) == {}


@pytest.mark.parametrize(("propagators", "expected"), [
    (["b3multi", "baggage"], {"traceparent", "baggage"}),
    (["jaeger"], {"traceparent", "baggage"}),
    (["none"], None),
])
def test_envelope_speaks_w3c_whatever_the_edges_speak(bus, store_url, propagators, expected):
    """Only os-tracing reads the envelope, so it carries one format, W3C Trace Context and
    Baggage, whatever ``propagators`` says for HTTP; ``none`` sends no context at all."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    transport = bus.transport(make_conf("svc", store_url, propagators=propagators))
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=topic))
    tracing = tracer.get_tracing()
    root = tracing.start_span("root", parent=None)
    root.set_baggage_item("tenant", "t1")

    def cast() -> None:
        with tracing.activate(root, finish_on_close=True):
            client.cast({}, "usage", count=1)

    message = _on_the_wire(bus, transport, topic, cast)
    if expected is None:
        assert envelope.KEY not in message
        return
    headers = message[envelope.KEY]
    assert set(headers) == expected
    _, trace_id, parent_id, flags = headers["traceparent"].split("-")
    producer = _spans(store_url)[(f"{topic}/usage", "producer")]
    assert (trace_id, parent_id, flags) == (producer.trace_id, producer.span_id, "03")
    assert headers["baggage"] == "tenant=t1"


class _Escapes(BaseException):
    """Not an ``Exception``: oslo.messaging's server lets it through without ``reply()``."""


class LeakyWorker(Worker):
    def leak(self, ctxt):
        self._report(ctxt, "leak")
        raise _Escapes("the server never gets to reply()")


def test_scope_leaked_by_a_message_never_reaches_the_next(bus, store_url):
    """A traced cast whose server never calls ``reply()`` leaves its scope open in the one
    worker thread; the next, untraced, cast there still runs outside any trace, and the
    leaked span is ended rather than lost."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    transport = bus.transport(make_conf("svc", store_url))  # one executor thread
    worker = LeakyWorker()
    bus.serve(oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=topic, server="w1"), [worker],
        executor="threading"))
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=topic))
    tracing = tracer.get_tracing()
    root = tracing.start_span("root", parent=None)
    with tracing.activate(root, finish_on_close=True):
        client.cast({}, "leak")
    client.cast({}, "usage", count=1)
    name, _, leaked = worker.seen.get(timeout=30)
    assert name == "leak" and leaked.trace_id == tracing.span_context_of(root).trace_id
    name, _, context = worker.seen.get(timeout=30)
    assert name == "usage" and context is None
    assert (f"{topic}/leak", "consumer") in _spans(store_url)
