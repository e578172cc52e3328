"""One oslo.messaging endpoint process over the real RabbitMQ, traced one of three ways.

``rpc_peer.py TRACER --name SERVICE [--store URL | --otlp URL] [--context-fields]``:

* ``traced``: os-tracing's ``traced+rabbit://``, spans to a sqlite store (``--store``);
  ``--context-fields`` sets ``[tracing] rpc_context_fields``.
* ``oslo``: plain ``rabbit://`` with oslo.messaging's own tracing
  (``[oslo_messaging_tracing] tracing_enabled``), on a global OpenTelemetry SDK provider
  as a service's WSGI tracing would have set it, exporting OTLP/HTTP to ``--otlp``.
* ``otel``: plain ``rabbit://`` with opentelemetry-instrumentation-oslo-messaging's
  ``OsloMessagingInstrumentor``, exporting the same way.

The roles come as JSON lines on stdin, each answered with ``{"id": ..., ...}`` on stdout,
so one process serves many tests, each on its own topics (starting a process per test and
role would cost more than the tests themselves):

* ``serve``: an RPC server (``mode = "rpc"``, methods ``ask`` for calls and ``tell`` for
  casts) or a notification listener (``mode = "notify"``) on ``topic``; with ``forward``
  it sends what it receives on to that topic, the same way (call, cast or notification),
  with the request context as received or, with ``rebuild``, rebuilt nova-style by
  oslo.context's ``RequestContext.from_dict``, which keeps only the fields it knows.
* ``send``: a client: starts a root span and sends a ``call``, ``cast`` or ``notify`` to
  ``topic`` with ``ctxt``; answers with the root span's ids. (oslo.messaging's Notifier
  sends a context object's ``to_dict()`` and drops a plain dict, so a notification's
  context travels in a :class:`PlainContext`.)
* ``flush``: exports every span ended so far.

Each message an endpoint receives is reported as ``{"event": "received", ...}``: the
request context as the endpoint sees it, and the span current there (``None`` when the
endpoint runs outside any trace). Closing stdin or SIGTERM stops the servers, flushes and
exits 0, reporting ``{"event": "stopped", "swallowed": n}``: the internal errors
os-tracing swallowed (always 0 for the peers).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import oslo_messaging
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from oslo_config import cfg
from oslo_context.context import RequestContext

from tracing_middleware import _guard, opts, tracer

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
EVENT_TYPE = "peer.event"


class _Terminated(Exception):
    """SIGTERM: leave the command loop through the same clean stop as end of input."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated()


class Peer:
    """The tracer-specific parts: the transport URL, root spans, the current span, flush."""

    url = RABBIT

    def __init__(self, args: argparse.Namespace, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    def check(self) -> None:
        """Raise if the tracer is not running: better no process than one that passes
        every message through untraced while the tests wait for spans."""

    def root(self) -> contextlib.AbstractContextManager[list[str]]:
        """A root span, current inside; yields its [trace id, span id] in hex."""
        raise NotImplementedError

    def current(self) -> list[str] | None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        self.flush()

    def swallowed(self) -> int:
        """Internal errors os-tracing's guard swallowed here (the suite fails on any)."""
        return 0


class TracedPeer(Peer):
    url = "traced+" + RABBIT

    def __init__(self, args: argparse.Namespace, conf: cfg.ConfigOpts) -> None:
        super().__init__(args, conf)
        opts.register_opts(conf)
        values = {"service_name": args.name, "exporters": [args.store],
                  "sampler": "always_on", "integrations": [],
                  "rpc_context_fields": args.context_fields}
        for key, value in values.items():
            conf.set_override(key, value, group="tracing")

    def _tracing(self) -> Any:
        tracing = tracer.get_tracing()
        if tracing is None:
            raise RuntimeError("traced+ configured no tracing (os-tracing logged why)")
        return tracing

    def check(self) -> None:
        self._tracing()

    @contextlib.contextmanager
    def root(self) -> Iterator[list[str]]:
        tracing = self._tracing()
        span = tracing.start_span("root", parent=None, kind="server")
        context = tracing.span_context_of(span)
        with tracing.activate(span, finish_on_close=True):
            yield [context.trace_id_hex, context.span_id_hex]

    def current(self) -> list[str] | None:
        tracing = self._tracing()
        span = tracing.active_span()
        context = tracing.span_context_of(span) if span is not None else None
        return [context.trace_id_hex, context.span_id_hex] if context is not None else None

    def flush(self) -> None:
        if not tracer.force_flush_all():
            raise RuntimeError("the span store did not flush")

    def swallowed(self) -> int:
        return _guard.swallowed_count()


class SDKPeer(Peer):
    """A peer on the OpenTelemetry SDK, exporting OTLP/HTTP in batches."""

    def __init__(self, args: argparse.Namespace, conf: cfg.ConfigOpts) -> None:
        super().__init__(args, conf)
        self.provider = TracerProvider(resource=Resource.create({"service.name": args.name}))
        self.provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"{args.otlp}/v1/traces")))
        self._tracer = self.provider.get_tracer("rpc_peer")

    @contextlib.contextmanager
    def root(self) -> Iterator[list[str]]:
        with self._tracer.start_as_current_span("root", kind=trace.SpanKind.SERVER) as span:
            context = span.get_span_context()
            yield [f"{context.trace_id:032x}", f"{context.span_id:016x}"]

    def current(self) -> list[str] | None:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return [f"{context.trace_id:032x}", f"{context.span_id:016x}"]

    def flush(self) -> None:
        if not self.provider.force_flush(10_000):
            raise RuntimeError("the OTLP exporter did not flush")

    def shutdown(self) -> None:
        self.provider.shutdown()


class OsloPeer(SDKPeer):
    """oslo.messaging's own tracing takes the global provider when one is set (else it
    builds one of its own), as a service whose WSGI tracing set it up first."""

    def __init__(self, args: argparse.Namespace, conf: cfg.ConfigOpts) -> None:
        super().__init__(args, conf)
        trace.set_tracer_provider(self.provider)
        conf.set_override("tracing_enabled", True, group="oslo_messaging_tracing")
        conf.set_override("tracing_service_name", args.name, group="oslo_messaging_tracing")


class OtelPeer(SDKPeer):
    def __init__(self, args: argparse.Namespace, conf: cfg.ConfigOpts) -> None:
        from opentelemetry.instrumentation.oslo_messaging import OsloMessagingInstrumentor

        super().__init__(args, conf)
        OsloMessagingInstrumentor().instrument(tracer_provider=self.provider)


PEERS: dict[str, type[Peer]] = {"traced": TracedPeer, "oslo": OsloPeer, "otel": OtelPeer}


class PlainContext:
    """A request context object holding exactly the keys it was given.

    oslo.messaging's Notifier discards a plain dict context (it sends only objects with
    ``redacted_copy()``), so a notification's context, sent or passed on as it is, needs
    one of these.
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = dict(values)

    def redacted_copy(self) -> PlainContext:
        return self

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)


class ContextSerializer(oslo_messaging.NoOpSerializer):
    """As nova's ``RequestContextSerializer`` sends: a context object goes on the wire as
    its ``to_dict()``; a received context reaches the endpoint as the dict that arrived."""

    def serialize_context(self, ctxt: Any) -> Any:
        return ctxt.to_dict() if hasattr(ctxt, "to_dict") else ctxt


SERIALIZER = ContextSerializer()


class Agent:
    """The endpoint: its transports, the servers it runs, the clients it forwards with."""

    def __init__(self, peer: Peer, name: str) -> None:
        self.peer = peer
        self.name = name
        self._out = threading.Lock()
        self.rpc = oslo_messaging.get_rpc_transport(peer.conf, peer.url)
        self.notifications = oslo_messaging.get_notification_transport(peer.conf, peer.url)
        self.servers: list[oslo_messaging.MessageHandlingServer] = []
        self._clients: dict[str, oslo_messaging.RPCClient] = {}
        self._notifiers: dict[str, oslo_messaging.Notifier] = {}

    def write(self, message: dict[str, Any]) -> None:
        with self._out:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    def report(self, op: str, topic: str, ctxt: Any, forwarded: Any) -> None:
        """``forwarded``: the context passed on, as serialized before any tracer saw it."""
        self.write({"event": "received", "op": op, "topic": topic, "ctxt": dict(ctxt),
                    "span": self.peer.current(),
                    "forwarded": (dict(SERIALIZER.serialize_context(forwarded))
                                  if forwarded is not None else None)})

    def client(self, topic: str) -> oslo_messaging.RPCClient:
        if topic not in self._clients:
            self._clients[topic] = oslo_messaging.get_rpc_client(
                self.rpc, oslo_messaging.Target(topic=topic), timeout=30,
                serializer=SERIALIZER)
        return self._clients[topic]

    def notifier(self, topic: str) -> oslo_messaging.Notifier:
        if topic not in self._notifiers:
            self._notifiers[topic] = oslo_messaging.Notifier(
                self.notifications, self.name, driver="messaging", topics=[topic],
                serializer=SERIALIZER)
        return self._notifiers[topic]

    def send(self, op: str, topic: str, ctxt: Any, hop: int = 0) -> None:
        if op == "call":
            self.client(topic).call(ctxt, "ask", hop=hop)
        elif op == "cast":
            self.client(topic).cast(ctxt, "tell", hop=hop)
        elif op == "notify":
            self.notifier(topic).info(ctxt, EVENT_TYPE, {"hop": hop})
        else:
            raise ValueError(f"unknown op {op!r}")

    # -- commands -------------------------------------------------------------------------

    def cmd_serve(self, topic: str, mode: str, forward: str | None = None,
                  rebuild: bool = False) -> dict[str, Any]:
        def onward(op: str, ctxt: Any, hop: int) -> None:
            if forward is None:
                self.report(op, topic, ctxt, None)
                return
            if rebuild:
                passed = RequestContext.from_dict(ctxt)
            else:
                passed = PlainContext(ctxt) if op == "notify" else ctxt
            self.report(op, topic, ctxt, passed)
            self.send(op, forward, passed, hop + 1)

        if mode == "rpc":
            server = oslo_messaging.get_rpc_server(
                self.rpc, oslo_messaging.Target(topic=topic, server=self.name),
                [RPCEndpoint(onward)], serializer=SERIALIZER)
        elif mode == "notify":
            server = oslo_messaging.get_notification_listener(
                self.notifications, [oslo_messaging.Target(topic=topic)],
                [NotificationEndpoint(onward)], serializer=SERIALIZER)
        else:
            raise ValueError(f"unknown mode {mode!r}")
        server.start()  # the queue exists once this returns: nothing sent later is lost
        self.servers.append(server)
        return {}

    def cmd_send(self, op: str, topic: str, ctxt: dict[str, Any]) -> dict[str, Any]:
        with self.peer.root() as root:
            self.send(op, topic, PlainContext(ctxt) if op == "notify" else ctxt)
        return {"root": root}

    def cmd_flush(self) -> dict[str, Any]:
        self.peer.flush()
        return {}

    def close(self) -> None:
        """Stop every server, then flush. A rabbit server's stop() waits up to a second
        for its poller to notice, so the servers stop side by side, not in turn."""

        def stop(server: oslo_messaging.MessageHandlingServer) -> None:
            server.stop()
            server.wait()

        _side_by_side([lambda server=server: stop(server) for server in self.servers])
        _side_by_side([self.rpc.cleanup, self.notifications.cleanup])
        self.peer.shutdown()
        self.write({"event": "stopped", "swallowed": self.peer.swallowed()})


def _side_by_side(calls: list[Callable[[], Any]]) -> None:
    threads = [threading.Thread(target=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class RPCEndpoint:
    def __init__(self, onward: Callable[[str, Any, int], None]) -> None:
        self._onward = onward

    def ask(self, ctxt: Any, hop: int) -> int:
        self._onward("call", ctxt, hop)
        return hop

    def tell(self, ctxt: Any, hop: int) -> None:
        self._onward("cast", ctxt, hop)


class NotificationEndpoint:
    def __init__(self, onward: Callable[[str, Any, int], None]) -> None:
        self._onward = onward

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        self._onward("notify", ctxt, payload.get("hop", 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracer", choices=sorted(PEERS))
    parser.add_argument("--name", required=True, help="service name, also the RPC server")
    parser.add_argument("--store", help="traced: the span store URL")
    parser.add_argument("--otlp", help="oslo, otel: the OTLP/HTTP endpoint")
    parser.add_argument("--context-fields", action="store_true",
                        help="traced: [tracing] rpc_context_fields = true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    # The global CONF, as a service has it: oslo.messaging 18.3 registers its
    # [oslo_messaging_tracing] and [oslo_messaging_metrics] options only there.
    conf = cfg.CONF
    conf([], project=args.name)
    agent = Agent(PEERS[args.tracer](args, conf), args.name)
    agent.peer.check()
    agent.write({"event": "ready"})
    try:
        for line in sys.stdin:
            request = json.loads(line)
            ident = request.pop("id")
            command = getattr(agent, "cmd_" + request.pop("cmd"))
            try:
                reply = command(**request)
            except Exception as exc:
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            agent.write({"id": ident, **reply})
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
