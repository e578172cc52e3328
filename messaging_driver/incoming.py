"""The receiving side: a span per message, current in the executor thread, and nowhere else.

A message that carries no trace (sent outside one, or by an untraced peer) gets no span
and runs with nothing current.

oslo.messaging runs ``_process_incoming`` in its executor: for RPC it calls
``acknowledge()`` first and ``reply()`` last; for notifications it dispatches first (the
dispatcher reads ``ctxt``/``message``) and ends with ``acknowledge()`` or ``requeue()``.
The wrapper starts and activates the span at the first of those calls and ends it,
restoring the thread's previous context, at the last — so the endpoint's own HTTP, RPC
and database calls are children, and the next message on the same thread starts clean.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from oslo_messaging._drivers import base

from messaging_driver import envelope
from tracing_middleware import _guard

__all__ = ["TracedIncoming", "TracedListener"]

# A scope left open by a message whose server never called reply()/acknowledge() must not
# leak into the next message handled by the same thread or greenthread.
_open = threading.local()


def _expects_reply(inner: Any) -> bool:
    """A ``call`` has somewhere to reply to; a cast or fanout does not."""
    for name in ("reply_q", "_reply_q"):
        if hasattr(inner, name):
            return bool(getattr(inner, name))
    return bool(getattr(inner, "msg_id", None))


class TracedIncoming:
    """Proxy of one ``IncomingMessage``; everything not overridden is delegated."""

    def __init__(self, inner: Any, listener: TracedListener) -> None:
        self._inner = inner
        self._listener = listener
        self._headers = envelope.pop_envelope(getattr(inner, "message", None))
        self._scope: Any = None
        self._started = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    # -- the attributes the dispatchers read ---------------------------------------------

    @property
    def ctxt(self) -> Any:
        if not self._listener.rpc:
            self._begin()
        return self._inner.ctxt

    @property
    def message(self) -> Any:
        if not self._listener.rpc:
            self._begin()
        return self._inner.message

    # -- lifecycle -----------------------------------------------------------------------

    def _begin(self) -> None:
        if self._started:
            return
        self._started = True
        leftover = getattr(_open, "incoming", None)
        if leftover is not None and leftover is not self:
            leftover._end(None)
        with _guard.guarded("starting a receive span"):
            listener = self._listener
            tracing = listener.tracing
            from messaging_driver.driver import _propagated_from

            inner = self._inner
            message = inner.message if isinstance(inner.message, Mapping) else {}
            ctxt = inner.ctxt
            parent = _propagated_from(tracing, self._headers, ctxt)
            if parent.span_context is None:
                # NOTE(os-tracing): a message sent outside any trace is handled outside
                # any trace; the edge continues traces, the API edge starts them.
                return
            tags: dict[str, Any] = {"messaging.system": listener.system,
                                    "messaging.operation.type": "process"}
            if listener.rpc:
                method = message.get("method", "")
                service = message.get("namespace") or listener.service or listener.topic
                kind = "server" if _expects_reply(inner) else "consumer"
                name = f"{service}/{method}"
                tags.update({"rpc.system": "oslo_messaging", "rpc.service": service,
                             "rpc.method": method,
                             "messaging.destination.name": listener.topic})
                msg_id = getattr(inner, "msg_id", None)
                if isinstance(msg_id, str):
                    tags["messaging.message.id"] = msg_id
            else:
                kind = "consumer"
                event_type = message.get("event_type")
                priority = message.get("priority", "")
                name = f"process {priority}".strip()
                if isinstance(event_type, str):
                    tags["openstack.event_type"] = event_type[:256]
                    name = f"process {event_type[:128]}"
                if isinstance(message.get("message_id"), str):
                    tags["messaging.message.id"] = message["message_id"]
            request_id = ctxt.get("request_id") if isinstance(ctxt, Mapping) else None
            if isinstance(request_id, str):
                tags["openstack.request_id"] = request_id[:128]
            tags["span.kind"] = kind
            span = tracing.start_span(name, parent=parent, kind=kind, tags=tags)
            self._scope = tracing.activate(span, finish_on_close=True)
            _open.incoming = self

    def _end(self, failure: Any) -> None:
        scope, self._scope = self._scope, None
        if getattr(_open, "incoming", None) is self:
            _open.incoming = None
        if scope is None:
            return
        with _guard.guarded("ending a receive span"):
            if failure is not None:
                exc = failure[1] if isinstance(failure, tuple) else failure
                if isinstance(exc, BaseException):
                    self._listener.tracing.set_error(scope.span, exc)
                    scope.span.set_tag("error.type", type(exc).__qualname__)
        scope.close()

    def acknowledge(self) -> Any:
        if self._listener.rpc:
            self._begin()
            try:
                return self._inner.acknowledge()
            except BaseException as exc:
                self._end((type(exc), exc, None))
                raise
        try:
            return self._inner.acknowledge()
        finally:
            self._end(None)

    def requeue(self) -> Any:
        try:
            return self._inner.requeue()
        finally:
            self._end(None)

    def reply(self, reply: Any = None, failure: Any = None) -> Any:
        try:
            return self._inner.reply(reply=reply, failure=failure)
        finally:
            self._end(failure)

    def heartbeat(self) -> Any:
        return self._inner.heartbeat()


class TracedListener(base.Listener):
    """Wraps the inner driver's listener; each incoming message gets a :class:`TracedIncoming`."""

    def __init__(self, inner: Any, tracing: Any, *, rpc: bool, system: str, topic: str,
                 service: str) -> None:
        super().__init__(inner.batch_size, inner.batch_timeout, inner.prefetch_size)
        self.inner = inner
        self.tracing = tracing
        self.rpc = rpc
        self.system = system
        self.topic = topic
        self.service = service

    def start(self, on_incoming_callback: Any) -> None:
        super().start(on_incoming_callback)

        def wrapped(incoming: list[Any]) -> Any:
            return on_incoming_callback([TracedIncoming(m, self) for m in incoming])

        self.inner.start(wrapped)

    def stop(self) -> None:
        self.inner.stop()
        super().stop()

    def cleanup(self) -> None:
        self.inner.cleanup()
