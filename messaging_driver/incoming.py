"""The receiving side: a span per message, current in the executor thread, and nowhere else.

A message that carries no trace (sent outside one, or by an untraced peer) gets no span
and runs with nothing current.

oslo.messaging runs ``_process_incoming`` in its executor: for RPC it calls
``acknowledge()`` first and ``reply()`` last; for notifications it dispatches first (the
dispatcher reads ``ctxt``/``message``) and ends with ``acknowledge()`` or ``requeue()``.
The wrapper starts and activates the span at the first of those calls and ends it,
restoring the thread's previous context, at the last — so the endpoint's own HTTP, RPC
and database calls are children, and the next message on the same thread starts clean.

A message with nothing to continue is handed to the server as the inner driver made it,
without a proxy, whenever that cannot let a span leak into it (see
:meth:`TracedListener.wrap`): the common untraced message costs a ``dict.pop``.

With RED metrics on, each message with a span decision (sampled or not) is counted from
its first call to its last, by the kind and name its span has or would have: ``ok``, or
``error`` for an error reply, an exception or a requeue.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from oslo_messaging._drivers import base

from messaging_driver import envelope
from tracing_middleware import _guard, request_ids
from tracing_middleware.spancontext import EMPTY, Propagated

__all__ = ["TracedIncoming", "TracedListener", "TracedNotification", "TracedRPCIncoming"]


class _Open(threading.local):
    """The message whose receive scope is open in this thread or greenthread: a scope
    left open by a server that never called reply()/acknowledge() must not leak into the
    next message handled there. The class default makes a thread's first read a plain
    attribute hit instead of a caught AttributeError."""

    incoming: TracedIncoming | None = None


_open = _Open()

# A weak reference to every TracedIncoming from its creation (in the listener's thread)
# until its span ends or it turns out to have none. While this is empty no executor thread
# holds a receive scope or will open one for a message already handed over, so the next
# message may skip the proxy (whose first job is to close such a leftover). Weak: a message
# the server drops unprocessed never opens a scope and must not keep every later message
# on the slow path. A plain set, not a WeakSet: ``not _unfinished`` is then one C call.
_unfinished: set[weakref.ref[TracedIncoming]] = set()

_now = time.perf_counter_ns


class _Requeued:
    """The failure a requeued message ends with: counted as an error, not recorded on
    the span (the endpoint asked for it; nothing raised)."""


_REQUEUED = _Requeued()


_MISSING = object()


def _expects_reply(inner: Any) -> bool:
    """A ``call`` has somewhere to reply to; a cast or fanout does not. (Read on every
    counted message: one lookup per attribute, no loop.)"""
    reply_q = getattr(inner, "reply_q", _MISSING)
    if reply_q is _MISSING:
        reply_q = getattr(inner, "_reply_q", _MISSING)
        if reply_q is _MISSING:
            return bool(getattr(inner, "msg_id", None))
    return bool(reply_q)


def _propagated_from(tracing: Any, headers: dict[str, str] | None, ctxt: Any) -> Propagated:
    """The sender's context: our envelope, else what the request context carries."""
    if headers:
        if not tracing.propagates:
            return EMPTY
        found = envelope.propagated_from(headers)
        return found if found is not None else tracing.extract(headers)
    return tracing.extract_request_context(ctxt)


class TracedIncoming:
    """Proxy of one ``IncomingMessage``; everything not overridden is delegated.

    The subclasses say when the span starts and ends: RPC and notification servers call
    the message's methods in different orders.
    """

    # With RED metrics on: when the message began (perf_counter_ns), and what its span
    # said when one was made (kind and name; the context if it records). Class defaults,
    # so a message that never sets them reads them without reaching __getattr__.
    _began = 0
    _named: tuple[str, str] | None = None
    _sampled: Any = None

    def __init__(self, inner: Any, listener: TracedListener,
                 headers: dict[str, str] | None) -> None:
        self._inner = inner
        self._listener = listener
        self._headers = headers
        self._scope: Any = None
        self._started = False
        self._ref = weakref.ref(self, _unfinished.discard)
        _unfinished.add(self._ref)
        # Read for every message by the RPC server and dispatcher, and set once by the
        # driver before the hand-over: copied, so that a read is neither a property call
        # nor a failed lookup falling back to __getattr__.
        self.msg_id = getattr(inner, "msg_id", None)
        self.client_timeout = getattr(inner, "client_timeout", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    # -- lifecycle -----------------------------------------------------------------------

    def _begin(self) -> None:
        if self._started:
            return
        self._started = True
        leftover = _open.incoming
        if leftover is not None:
            leftover._end(None)
        if self._listener.tracing.metrics is not None:
            self._began = _now()
        try:
            self._scope = self._start()
        except Exception:
            _guard.swallow("starting a receive span")
        if self._scope is None:
            _unfinished.discard(self._ref)
        else:
            _open.incoming = self

    def _start(self) -> Any:
        """The activated scope of this message's span, or ``None`` when it has no trace."""
        tracing = self._listener.tracing
        ctxt = self._inner.ctxt
        parent = _propagated_from(tracing, self._headers, ctxt)
        if parent.span_context is None:
            # NOTE(os-tracing): a message sent outside any trace is handled outside any
            # trace; the edge continues traces, the API edge starts them.
            return None
        # An unsampled trace the sampler follows: no name to build (both receive kinds
        # open a unit of work, so "consumer" stands for either).
        span = tracing.continue_unsampled(parent, "consumer")
        if span is None:
            span = self._span(tracing, parent, ctxt)
        return tracing.activate(span, finish_on_close=True)

    def _span(self, tracing: Any, parent: Propagated, ctxt: Any) -> Any:
        """This message's span, sampled by name and kind (what per-operation policies
        read); the tags are built only for a span that records."""
        message = self._inner.message
        if not (isinstance(message, dict) or isinstance(message, Mapping)):
            message = {}
        self._named = kind, name = self._kind_name(message)
        span = tracing.start_span(name, parent=parent, kind=kind)
        if tracing.is_recording(span):
            self._sampled = span.context
            tracing.set_tags(span, self._tags(message, ctxt))
        return span

    def _kind_name(self, message: Any) -> tuple[str, str]:
        """The span's kind and name, read from the message."""
        listener = self._listener
        if listener.rpc:  # the service as _service() reads it, inline
            service = message.get("namespace") or listener.service or listener.topic
            return ("server" if _expects_reply(self._inner) else "consumer",
                    f"{service}/{message.get('method', '')}")
        event_type = message.get("event_type")
        return "consumer", (f"process {event_type[:128]}" if isinstance(event_type, str)
                            else f"process {message.get('priority', '')}".strip())

    def _count(self, failed: bool) -> None:
        """Count this message in the RED metrics (see the module docstring); as
        :meth:`Recorder.record <tracing_middleware.metrics.recorder.Recorder.record>`,
        inline, as this is paid on every message in a trace."""
        began = self._began
        if not began:
            return
        listener = self._listener
        metrics = listener.tracing.metrics
        if metrics is None:
            return
        try:
            duration = _now() - began
            named = self._named
            if named is None:  # an unsampled message the sampler followed: no name built
                message = self._inner.message
                if not (type(message) is dict or isinstance(message, Mapping)):
                    message = {}
                named = self._kind_name(message)
            buffer = metrics.buffer
            buffer.append((listener.service_name, named[0], named[1],
                           "error" if failed else "ok", duration, self._sampled))
            if len(buffer) > metrics.buffer_limit:
                metrics.overflow()
        except Exception:
            _guard.swallow("counting a message")

    def _service(self, message: Any) -> str:
        """The RPC service: the target namespace, else the server's, else its topic."""
        listener = self._listener
        return message.get("namespace") or listener.service or listener.topic

    def _tags(self, message: Any, ctxt: Any) -> dict[str, Any]:
        listener = self._listener
        inner = self._inner
        tags: dict[str, Any] = {"messaging.system": listener.system,
                                "messaging.operation.type": "process"}
        if listener.rpc:
            tags.update({"rpc.system": "oslo_messaging", "rpc.service": self._service(message),
                         "rpc.method": message.get("method", ""),
                         "messaging.destination.name": listener.topic})
            msg_id = getattr(inner, "msg_id", None)
            if isinstance(msg_id, str):
                tags["messaging.message.id"] = msg_id
        else:
            event_type = message.get("event_type")
            if isinstance(event_type, str):
                tags["openstack.event_type"] = event_type[:256]
            if isinstance(message.get("message_id"), str):
                tags["messaging.message.id"] = message["message_id"]
        tags.update(request_ids.from_context(ctxt))
        return tags

    def _end(self, failure: Any) -> None:
        scope, self._scope = self._scope, None
        _unfinished.discard(self._ref)
        if _open.incoming is self:
            _open.incoming = None
        if scope is None:
            return
        self._count(failure is not None)
        try:
            if failure is not None:
                exc = failure[1] if isinstance(failure, tuple) else failure
                if isinstance(exc, BaseException):
                    self._listener.tracing.set_error(scope.span, exc)
        except Exception:
            _guard.swallow("ending a receive span")
        scope.close()

    def requeue(self) -> Any:
        try:
            return self._inner.requeue()
        finally:
            self._end(_REQUEUED)

    def heartbeat(self) -> Any:
        return self._inner.heartbeat()


class TracedRPCIncoming(TracedIncoming):
    """The RPC server calls ``acknowledge()`` first and ``reply()`` last."""

    def __init__(self, inner: Any, listener: TracedListener,
                 headers: dict[str, str] | None) -> None:
        super().__init__(inner, listener, headers)
        self.ctxt = getattr(inner, "ctxt", None)
        self.message = getattr(inner, "message", None)

    def acknowledge(self) -> Any:
        self._begin()
        try:
            return self._inner.acknowledge()
        except BaseException as exc:
            self._end((type(exc), exc, None))
            raise

    def reply(self, reply: Any = None, failure: Any = None) -> Any:
        try:
            return self._inner.reply(reply=reply, failure=failure)
        finally:
            self._end(failure)


class TracedNotification(TracedIncoming):
    """The notification server reads ``ctxt`` and ``message`` first (to dispatch) and
    ends with ``acknowledge()`` or ``requeue()``."""

    @property
    def ctxt(self) -> Any:
        self._begin()
        return self._inner.ctxt

    @property
    def message(self) -> Any:
        self._begin()
        return self._inner.message

    def acknowledge(self) -> Any:
        try:
            return self._inner.acknowledge()
        finally:
            self._end(None)


class TracedListener(base.Listener):
    """Wraps the inner driver's listener; strips the envelope from every message and
    proxies those that may need a span."""

    def __init__(self, inner: Any, tracing: Any, *, rpc: bool, system: str, topic: str,
                 service: str) -> None:
        super().__init__(inner.batch_size, inner.batch_timeout, inner.prefetch_size)
        self.inner = inner
        self.tracing = tracing
        self.rpc = rpc
        self.system = system
        self.topic = topic
        self.service = service
        #: The service the RED metrics count this listener's messages under.
        self.service_name: str = tracing.settings.service_name
        self._proxy = TracedRPCIncoming if rpc else TracedNotification
        # Every message without an envelope is asked whether its request context holds
        # one of these.
        self._trace_keys = tracing.request_context_keys

    def wrap(self, incoming: list[Any]) -> list[Any]:
        """``incoming`` with the envelope removed, each message proxied only if needed.

        A message goes unproxied when it has no envelope, no request-context key that may
        carry a trace, and no earlier message is still unfinished. The last condition is what
        keeps a scope leaked by an earlier message (a server that never called
        ``reply()``) out of it: a message that runs before it on the same thread or
        greenthread was handed over before it, since oslo.messaging's executors (futurist's
        thread and green pools) take work from one FIFO queue.
        """
        wrapped: list[Any] | None = None
        trace_keys = self._trace_keys
        for index, message in enumerate(incoming):
            try:
                headers = envelope.pop_envelope(getattr(message, "message", None))
                if headers is None and not _unfinished:
                    ctxt = getattr(message, "ctxt", None)
                    # isinstance(x, dict) first: the ABC check costs more.
                    if not (isinstance(ctxt, dict) or isinstance(ctxt, Mapping)) \
                            or ctxt.keys().isdisjoint(trace_keys):
                        continue
            except Exception:
                _guard.swallow("reading a message envelope")
                headers = None
            if wrapped is None:
                wrapped = list(incoming)
            wrapped[index] = self._proxy(message, self, headers)
        return incoming if wrapped is None else wrapped

    def start(self, on_incoming_callback: Any) -> None:
        super().start(on_incoming_callback)
        wrap = self.wrap

        def wrapped(incoming: list[Any]) -> Any:
            return on_incoming_callback(wrap(incoming))

        self.inner.start(wrapped)

    def stop(self) -> None:
        self.inner.stop()
        super().stop()

    def cleanup(self) -> None:
        self.inner.cleanup()
