"""traced+ next to the two tracers that carry the trace in the request context, both ways:
oslo.messaging's own tracing (``oslo``) and opentelemetry-instrumentation-oslo-messaging
(``otel``). Every endpoint is its own process (``scripts/rpc_peer.py``) over the real
RabbitMQ; parent span ids are checked exactly at every hop.

Six processes serve the whole module: ``{peer}-a`` only ever sends first, ``{peer}-b`` only
ever receives last, and ``traced`` / ``traced-fields`` (``[tracing] rpc_context_fields``)
send, receive or sit in the middle. Each test has its own topics and request id, and finds
its spans by that request id (every tracer here records it as ``openstack.request_id``).
"""

from __future__ import annotations

import dataclasses
import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tracing_middleware.export.store import SpanStore
from tracing_middleware.testing import OTLPReceiver

pytestmark = pytest.mark.rabbit

SCRIPT = Path(__file__).parent / "scripts" / "rpc_peer.py"
PEERS = ["oslo", "otel"]
OPS = ["call", "cast", "notify"]
#: OTLP's SpanKind numbers, named as the span store names them.
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class Span:
    """A span as either exporter delivered it, reduced to what the tests compare."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    service: str
    request_id: str | None


class Endpoint:
    """One ``rpc_peer.py`` process: commands on stdin, replies and events on stdout."""

    def __init__(self, tracer: str, name: str, tmp: Path, otlp: str,
                 context_fields: bool = False) -> None:
        self.name = name
        self.store = f"sqlite:///{tmp}/{name}.db" if tracer == "traced" else None
        args = [sys.executable, str(SCRIPT), tracer, "--name", name]
        args += ["--store", self.store] if self.store else ["--otlp", otlp]
        if context_fields:
            args.append("--context-fields")
        self.log = tmp / f"{name}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(args, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, text=True,
                                            bufsize=1)
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, name=f"rpc-peer-{name}",
                                        daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            if "id" in message:
                self._replies.put(message)
            else:
                with self._changed:
                    self._events.append(message)
                    self._changed.notify_all()
        self._replies.put({"id": None, "error": "the process closed its output"})
        with self._changed:
            self._changed.notify_all()

    def _fail(self, what: str) -> None:
        pytest.fail(f"{self.name}: {what}\n{self.log.read_text()[-3000:]}")

    def _event(self, match: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        with self._changed:
            while True:
                for event in self._events:
                    if match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    self._fail(f"no {what}")
                self._changed.wait(left)

    def ready(self) -> None:
        self._event(lambda e: e["event"] == "ready", "readiness")

    def stopped(self) -> dict[str, Any]:
        """The report of a process that exited cleanly."""
        with self._changed:
            stopped = [e for e in self._events if e["event"] == "stopped"]
        if not stopped:
            self._fail("exited without its report")
        return stopped[0]

    def request(self, cmd: str, **kwargs: Any) -> dict[str, Any]:
        self._next_id += 1
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": self._next_id, "cmd": cmd, **kwargs}) + "\n")
        self.process.stdin.flush()
        try:
            reply = self._replies.get(timeout=60)
        except queue.Empty:
            self._fail(f"no reply to {cmd}")
        if reply.get("error") or reply["id"] != self._next_id:
            self._fail(f"{cmd} failed: {reply}")
        return reply

    def serve(self, topic: str, op: str, forward: str | None = None,
              rebuild: bool = False) -> None:
        self.request("serve", topic=topic, mode="notify" if op == "notify" else "rpc",
                     forward=forward, rebuild=rebuild)

    def send(self, op: str, topic: str, ctxt: dict[str, str]) -> list[str]:
        """Send from a new root span; its [trace id, span id]."""
        return self.request("send", op=op, topic=topic, ctxt=ctxt)["root"]

    def received(self, request_id: str) -> dict[str, Any]:
        """What the endpoint reported for the message with ``request_id``: the request
        context it saw and the span current there."""
        return self._event(lambda e: e["event"] == "received"
                           and e["ctxt"].get("request_id") == request_id,
                           f"message {request_id}")

    def stop(self) -> None:
        """End of input: the process stops its servers, flushes and exits."""
        assert self.process.stdin is not None
        self.process.stdin.close()

    def wait(self) -> int:
        try:
            code = self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self._reader.join(TIMEOUT)  # the last lines, read to the end of the output
        return code


class Spans:
    """Every span the module's endpoints exported: the peers' over OTLP, traced+'s in its
    stores."""

    def __init__(self, receiver: OTLPReceiver, endpoints: list[Endpoint]) -> None:
        self._receiver = receiver
        self._endpoints = endpoints
        self._otlp: list[Span] = []

    def _all(self) -> list[Span]:
        while True:
            try:
                s = self._receiver.spans.get_nowait()
            except queue.Empty:
                break
            self._otlp.append(Span(s.trace_id, s.span_id, s.parent_span_id, s.name,
                                   KINDS.get(s.kind, str(s.kind)), s.service,
                                   s.attributes.get("openstack.request_id")))
        found = list(self._otlp)
        for endpoint in self._endpoints:
            if endpoint.store is None:
                continue
            with SpanStore.from_url(endpoint.store) as store:
                found += [Span(r.trace_id, r.span_id, r.parent_span_id, r.name, r.kind,
                               r.service, r.attributes.get("openstack.request_id"))
                          for r in store.all_spans()]
        return found

    def of(self, request_id: str, count: int) -> dict[tuple[str, str], Span]:
        """The ``count`` spans of ``request_id`` by (service, kind), once they have all
        ended: a receive span ends after the endpoint reported the message, so this
        flushes every process and looks again until they are there."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            for endpoint in self._endpoints:
                endpoint.request("flush")
            found = [s for s in self._all() if s.request_id == request_id]
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # a readiness poll: the deadline above bounds it
        spans = {(s.service, s.kind): s for s in found}
        assert len(found) == len(spans) == count, found
        return spans


@pytest.fixture(scope="module")
def otlp():
    with OTLPReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def endpoints(otlp, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rpc-peers")
    endpoint = f"http://127.0.0.1:{otlp.port}"
    started = {name: Endpoint(tracer, name, tmp, endpoint, fields) for name, tracer, fields in [
        ("traced", "traced", False), ("traced-fields", "traced", True),
        ("oslo-a", "oslo", False), ("oslo-b", "oslo", False),
        ("otel-a", "otel", False), ("otel-b", "otel", False)]}
    try:
        for each in started.values():
            each.ready()
        yield started
    finally:
        for each in started.values():
            each.stop()
        codes = {name: each.wait() for name, each in started.items()}
    assert codes == dict.fromkeys(started, 0)
    swallowed = {name: each.stopped()["swallowed"] for name, each in started.items()}
    assert swallowed == dict.fromkeys(started, 0), "os-tracing swallowed internal errors"


@pytest.fixture(scope="module")
def spans(otlp, endpoints):
    return Spans(otlp, list(endpoints.values()))


def _names() -> tuple[str, str, str]:
    """Two topics and a request id of this test's own."""
    unique = uuid.uuid4().hex[:12]
    return f"peers-{unique}", f"peers-{unique}-next", f"req-{unique}"


def _ctxt(request_id: str) -> dict[str, str]:
    """A request context as a service serializes one (nova's has more fields)."""
    return {"request_id": request_id, "user_id": "u-1", "project_id": "p-1"}


def _traced_by(peer: str, op: str) -> bool:
    """oslo.messaging's own tracing traces RPC only, in RPCClient and the RPC server."""
    return not (peer == "oslo" and op == "notify")


def _sending(op: str) -> str:
    return "client" if op == "call" else "producer"


def _receiving(op: str) -> str:
    return "server" if op == "call" else "consumer"


def _carried(seen: dict[str, Any]) -> dict[str, Any]:
    """The request context an endpoint reported, ``traceparent`` as (trace id, span id)
    when sampled, without the key the rabbit driver adds to every received context (the
    caller's timeout)."""
    ctxt = {k: v for k, v in seen["ctxt"].items() if k != "client_timeout"}
    if "traceparent" in ctxt:
        _, trace_id, span_id, flags = ctxt["traceparent"].split("-")
        assert int(flags, 16) & 1, ctxt["traceparent"]
        ctxt["traceparent"] = (trace_id, span_id)
    return ctxt


def _ids(span: Span) -> tuple[str, str]:
    return span.trace_id, span.span_id


@pytest.mark.parametrize("context_fields", [False, True], ids=["no-fields", "fields"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("peer", PEERS)
def test_peer_to_traced(endpoints, spans, peer, op, context_fields):
    """A peer's message is continued by traced+, whatever ``rpc_context_fields`` says: its
    SERVER or CONSUMER span is a child of the peer's producer span."""
    topic, _, request_id = _names()
    sender = endpoints[f"{peer}-a"]
    receiver = endpoints["traced-fields" if context_fields else "traced"]
    receiver.serve(topic, op)
    root = sender.send(op, topic, _ctxt(request_id))
    seen = receiver.received(request_id)
    if not _traced_by(peer, op):
        # Nothing to continue: handled outside any trace, as any untraced message.
        assert _carried(seen) == _ctxt(request_id)
        assert seen["span"] is None
        assert spans.of(request_id, 0) == {}
        return
    found = spans.of(request_id, 2)
    producer = found[(sender.name, "producer")]
    received = found[(receiver.name, _receiving(op))]
    assert (producer.trace_id, producer.parent_span_id) == tuple(root)
    assert (received.trace_id, received.parent_span_id) == (root[0], producer.span_id)
    assert seen["span"] == [received.trace_id, received.span_id]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("peer", PEERS)
def test_traced_to_peer_with_context_fields(endpoints, spans, peer, op):
    """With ``rpc_context_fields`` the request context carries our CLIENT or PRODUCER
    span, and the peer's receive span is its child."""
    topic, _, request_id = _names()
    sender, receiver = endpoints["traced-fields"], endpoints[f"{peer}-b"]
    receiver.serve(topic, op)
    root = sender.send(op, topic, _ctxt(request_id))
    seen = receiver.received(request_id)
    traced = _traced_by(peer, op)
    found = spans.of(request_id, 2 if traced else 1)
    sent = found[(sender.name, _sending(op))]
    assert (sent.trace_id, sent.parent_span_id) == tuple(root)
    assert _carried(seen) == {**_ctxt(request_id), "traceparent": _ids(sent)}
    if not traced:
        assert seen["span"] is None  # the key arrives; nothing there reads it
        return
    received = found[(receiver.name, "consumer")]
    assert (received.trace_id, received.parent_span_id) == (root[0], sent.span_id)
    assert seen["span"] == [received.trace_id, received.span_id]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("peer", PEERS)
def test_traced_to_peer_adds_no_key_by_default(endpoints, spans, peer, op):
    """By default the peer gets exactly the request context the sender passed (the
    rolling-upgrade promise), so it starts a trace of its own."""
    topic, _, request_id = _names()
    sender, receiver = endpoints["traced"], endpoints[f"{peer}-b"]
    receiver.serve(topic, op)
    root = sender.send(op, topic, _ctxt(request_id))
    seen = receiver.received(request_id)
    assert _carried(seen) == _ctxt(request_id)
    traced = _traced_by(peer, op)
    found = spans.of(request_id, 2 if traced else 1)
    sent = found[(sender.name, _sending(op))]
    assert (sent.trace_id, sent.parent_span_id) == tuple(root)
    if not traced:
        assert seen["span"] is None
        return
    received = found[(receiver.name, "consumer")]
    assert received.parent_span_id is None
    assert received.trace_id != root[0]
    assert seen["span"] == [received.trace_id, received.span_id]


def _hops(found, first, middle, last, op):
    """The four spans of peer -> traced+ -> peer, in the order the message went: the
    first peer's producer, our receiving and sending spans, the last peer's consumer."""
    return (found[(first.name, "producer")], found[(middle.name, _receiving(op))],
            found[(middle.name, _sending(op))], found[(last.name, "consumer")])


@pytest.mark.parametrize("context_fields", [False, True], ids=["no-fields", "fields"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("peer", PEERS)
def test_peer_traced_peer_with_context_forwarded(endpoints, spans, peer, op, context_fields):
    """peer -> traced+ -> peer, the middle passing on the request context it received:
    the peer's ``traceparent`` in it is replaced by our CLIENT or PRODUCER span's (by
    default too), so the last peer hangs off that span, one trace from end to end."""
    topic, onward, request_id = _names()
    first, last = endpoints[f"{peer}-a"], endpoints[f"{peer}-b"]
    middle = endpoints["traced-fields" if context_fields else "traced"]
    last.serve(onward, op)
    middle.serve(topic, op, forward=onward)
    root = first.send(op, topic, _ctxt(request_id))
    in_middle, at_end = middle.received(request_id), last.received(request_id)
    if not _traced_by(peer, op):
        assert _carried(in_middle) == _carried(at_end) == _ctxt(request_id)
        assert in_middle["span"] is None and at_end["span"] is None
        assert spans.of(request_id, 0) == {}
        return
    found = spans.of(request_id, 4)
    producer, received, sent, consumer = _hops(found, first, middle, last, op)
    assert {s.trace_id for s in found.values()} == {root[0]}
    assert producer.parent_span_id == root[1]
    assert received.parent_span_id == producer.span_id
    assert sent.parent_span_id == received.span_id
    assert consumer.parent_span_id == sent.span_id
    assert _carried(in_middle) == {**_ctxt(request_id), "traceparent": _ids(producer)}
    assert _carried(at_end) == {**_ctxt(request_id), "traceparent": _ids(sent)}
    assert at_end["span"] == [consumer.trace_id, consumer.span_id]


@pytest.mark.parametrize("context_fields", [True, False], ids=["fields", "no-fields"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("peer", PEERS)
def test_peer_traced_peer_with_context_rebuilt(endpoints, spans, peer, op, context_fields):
    """peer -> traced+ -> peer, the middle rebuilding the request context from the fields
    it knows (as nova's ``RequestContext.from_dict`` does), which drops the peer's
    ``traceparent``: with ``rpc_context_fields`` ours is written into the new context and
    the last peer continues under our span; without it nothing in the context carries the
    trace (it goes on only in our envelope, which the peer does not read), so the last
    peer starts a new one."""
    topic, onward, request_id = _names()
    first, last = endpoints[f"{peer}-a"], endpoints[f"{peer}-b"]
    middle = endpoints["traced-fields" if context_fields else "traced"]
    last.serve(onward, op)
    middle.serve(topic, op, forward=onward, rebuild=True)
    root = first.send(op, topic, _ctxt(request_id))
    in_middle, at_end = middle.received(request_id), last.received(request_id)
    rebuilt = in_middle["forwarded"]
    assert "traceparent" not in rebuilt and rebuilt["request_id"] == request_id
    if not _traced_by(peer, op):
        assert _carried(in_middle) == _ctxt(request_id)
        assert _carried(at_end) == rebuilt
        assert in_middle["span"] is None and at_end["span"] is None
        assert spans.of(request_id, 0) == {}
        return
    found = spans.of(request_id, 4)
    producer, received, sent, consumer = _hops(found, first, middle, last, op)
    assert {producer.trace_id, received.trace_id, sent.trace_id} == {root[0]}
    assert producer.parent_span_id == root[1]
    assert received.parent_span_id == producer.span_id
    assert sent.parent_span_id == received.span_id
    assert at_end["span"] == [consumer.trace_id, consumer.span_id]
    if context_fields:
        assert _carried(at_end) == {**rebuilt, "traceparent": _ids(sent)}
        assert (consumer.trace_id, consumer.parent_span_id) == (root[0], sent.span_id)
    else:
        assert _carried(at_end) == rebuilt
        assert consumer.parent_span_id is None
        assert consumer.trace_id != root[0]
