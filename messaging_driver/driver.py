"""``traced+<driver>://``: wraps any oslo.messaging driver and carries the trace through it.

oslo.messaging loads the driver named before the first ``+`` of the URL scheme, so
``traced+rabbit://...`` loads :class:`TracedDriver`, which loads ``rabbit`` with the same
URL minus ``traced+`` (hosts, credentials, virtual host and query unchanged) and delegates
everything to it. Sending: a CLIENT span for ``call``, a PRODUCER span for casts, fanouts
and notifications, with the context written into the envelope. Receiving: a SERVER or
CONSUMER span made current in the executor thread for exactly one message.

With RED metrics on (``tracing.metrics``), every message sent inside a trace, sampled or
not, is counted by the span name it has or would have: ``call`` as ``ok``, ``error`` (an
error reply or any other exception) or ``timeout``, casts and notifications as ``ok`` or
``error``. A message sent outside any trace has no span decision and is not counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import oslo_messaging
from oslo_messaging._drivers import base
from stevedore import driver as stevedore_driver

from messaging_driver import envelope
from messaging_driver.compat import register_oslo_messaging_opts
from messaging_driver.incoming import TracedListener
from tracing_middleware import _guard, request_ids, tracer
from tracing_middleware.metrics.recorder import Recorder

__all__ = ["TracedDriver"]

LOG = logging.getLogger(__name__)

PREFIX = "traced"

_now = time.perf_counter_ns


def _outcome(exc: BaseException) -> str:
    """The outcome a failed send is counted under: ``timeout`` for a call that got no
    reply in time, ``error`` for an error reply or any other exception."""
    return "timeout" if isinstance(exc, oslo_messaging.MessagingTimeout) else "error"


def _rpc_name(target: Any, message: Any) -> str:
    """An RPC span's name, ``service/method``: what its span is called, sampled or not."""
    if type(message) is dict or isinstance(message, Mapping):
        return f"{target.namespace or target.topic or ''}/{message.get('method', '')}"
    return f"{target.namespace or target.topic or ''}/"


def _inner_url(url: oslo_messaging.TransportURL) -> oslo_messaging.TransportURL:
    scheme = url.transport or ""
    head, sep, inner = scheme.partition("+")
    if head != PREFIX or not sep or not inner:
        raise oslo_messaging.InvalidTransportURL(
            str(url), f"transport URL scheme {scheme!r} names no driver to trace; use "
            f"{PREFIX}+<driver>://, e.g. {PREFIX}+rabbit://")
    return oslo_messaging.TransportURL(url.conf, transport=inner,
                                       virtual_host=url.virtual_host, hosts=url.hosts,
                                       query=url.query)


def _without_hmac_key(ctxt: Any) -> Any:
    """osprofiler serializers put the HMAC key in ``trace_info``; it never goes on the bus
    through us (the trace continues through our envelope instead)."""
    # isinstance(x, dict) first: the ABC check alone costs more than the rest of an
    # untraced send.
    if isinstance(ctxt, dict) or isinstance(ctxt, Mapping):
        info = ctxt.get("trace_info")
        if info is not None and isinstance(info, Mapping) and "hmac_key" in info:
            ctxt = dict(ctxt)
            ctxt["trace_info"] = {k: v for k, v in info.items() if k != "hmac_key"}
    return ctxt


class TracedDriver(base.BaseDriver):
    """Entry point ``traced`` in ``oslo.messaging.drivers``."""

    def __init__(self, conf: Any, url: oslo_messaging.TransportURL,
                 default_exchange: str | None = None,
                 allowed_remote_exmods: list[str] | None = None) -> None:
        inner_url = _inner_url(url)
        try:
            manager = stevedore_driver.DriverManager(
                "oslo.messaging.drivers", inner_url.transport.split("+")[0],
                invoke_on_load=True, invoke_args=[conf, inner_url],
                invoke_kwds={"default_exchange": default_exchange,
                             "allowed_remote_exmods": allowed_remote_exmods or []})
        except RuntimeError as exc:
            raise oslo_messaging.DriverLoadFailure(inner_url.transport, exc)
        self.inner = manager.driver
        self.system = inner_url.transport
        super().__init__(conf, inner_url, default_exchange, allowed_remote_exmods)
        register_oslo_messaging_opts(conf)
        settings, self._tracing = tracer.configure(conf)
        self._service_name = settings.service_name if settings else ""
        #: ``[tracing] rpc_context_fields``: write the trace into every request context.
        self._context_fields = bool(settings and settings.rpc_context_fields)

    # -- delegation ---------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["inner"], name)

    def require_features(self, requeue: bool = False) -> None:
        self.inner.require_features(requeue=requeue)

    def cleanup(self) -> None:
        self.inner.cleanup()

    # -- sending ------------------------------------------------------------------------
    #
    # With no active span (the common case: most RPC is sent outside any trace) a send
    # costs one context-variable read and the hmac_key check, then goes straight to the
    # inner driver: no span, no envelope, no copy of the message.

    def _active_span(self) -> Any:
        tracing = self._tracing
        if tracing is None:
            return None
        try:
            return tracing.active_span()
        except Exception:
            _guard.swallow("reading the active span")
            return None

    def _outgoing(self, active: Any, ctxt: Any, message: Any,
                  describe: Callable[..., tuple[str, str, dict[str, Any]]], *args: Any
                  ) -> tuple[Any, Any, Any]:
        """(span or None, request context, message) to send inside ``active``.

        Unsampled: no span object, only the context travels (in the envelope's one
        format, see :mod:`messaging_driver.envelope`), so the decision does too; a
        request context that carries a peer's ``traceparent`` gets ours instead (see
        :func:`~messaging_driver.envelope.with_context_fields`). ``describe(*args)`` ->
        (kind, name, tags) runs only for a span that records. A failure here costs the
        span or the envelope, never the send.
        """
        tracing = self._tracing
        span = None
        try:
            if tracing.is_recording(active):
                kind, name, tags = describe(*args)
                tags.update(request_ids.from_context(ctxt))
                span = tracing.start_span(name, parent=active, kind=kind, tags=tags)
            if tracing.propagates and (isinstance(message, dict) or isinstance(message, Mapping)):
                propagated = tracing.propagated_of(span if span is not None else active)
                headers = envelope.headers_for(propagated) if propagated is not None else None
                if headers:
                    message = envelope.with_envelope(message, headers)
                    ctxt = envelope.with_context_fields(ctxt, headers, self._context_fields)
        except Exception:
            _guard.swallow("starting a messaging span")
        return span, ctxt, message

    def _rpc_span(self, target: Any, message: Any, wait_for_reply: Any
                  ) -> tuple[str, str, dict[str, Any]]:
        method = message.get("method", "") if isinstance(message, Mapping) else ""
        service = target.namespace or target.topic or ""
        kind, name = "client" if wait_for_reply else "producer", _rpc_name(target, message)
        tags: dict[str, Any] = {
            "span.kind": kind, "rpc.system": "oslo_messaging", "rpc.service": service,
            "rpc.method": method, "messaging.system": self.system,
            "messaging.destination.name": target.topic or "",
            "messaging.operation.type": "send"}
        if target.fanout:
            tags["oslo_messaging.fanout"] = True
        if target.server:
            tags["oslo_messaging.server"] = target.server
        return kind, name, tags

    def _notification_span(self, target: Any, message: Any
                           ) -> tuple[str, str, dict[str, Any]]:
        topic = target.topic or ""
        tags: dict[str, Any] = {"span.kind": "producer", "messaging.system": self.system,
                                "messaging.destination.name": topic,
                                "messaging.operation.type": "send"}
        if isinstance(message, Mapping):
            if isinstance(message.get("event_type"), str):
                tags["openstack.event_type"] = message["event_type"][:256]
            if isinstance(message.get("message_id"), str):
                tags["messaging.message.id"] = message["message_id"]
        return "producer", f"send {topic}", tags

    def _count(self, metrics: Recorder, start: int, kind: str, name: str,
               exc: BaseException | None, span: Any) -> None:
        """Count one message sent inside a trace (see the module docstring); as
        :meth:`Recorder.record <tracing_middleware.metrics.recorder.Recorder.record>`,
        inline, as this is paid on every message."""
        duration = _now() - start
        try:
            buffer = metrics.buffer
            buffer.append((self._service_name, kind, name,
                           "ok" if exc is None else _outcome(exc), duration,
                           None if span is None else span.context))
            if len(buffer) > metrics.buffer_limit:
                metrics.overflow()
        except Exception:
            _guard.swallow("counting a message")

    def _count_rpc(self, metrics: Recorder, start: int, target: Any, message: Any,
                   wait_for_reply: Any, exc: BaseException | None, span: Any) -> None:
        """:meth:`_count` of an RPC message, named as its span is (:func:`_rpc_name`),
        in one Python call: this is paid on every message sent inside a trace."""
        duration = _now() - start
        try:
            method = (message.get("method", "") if type(message) is dict
                      or isinstance(message, Mapping) else "")
            buffer = metrics.buffer
            buffer.append((self._service_name, "client" if wait_for_reply else "producer",
                           f"{target.namespace or target.topic or ''}/{method}",
                           "ok" if exc is None else _outcome(exc), duration,
                           None if span is None else span.context))
            if len(buffer) > metrics.buffer_limit:
                metrics.overflow()
        except Exception:
            _guard.swallow("counting a message")

    def _finish(self, span: Any, exc: BaseException | None) -> None:
        try:
            if exc is not None and self._tracing is not None:
                self._tracing.set_error(span, exc)
            span.finish()
        except Exception:
            _guard.swallow("ending a messaging span")

    def send(self, target: Any, ctxt: Any, message: Any, wait_for_reply: bool | None = None,
             timeout: float | None = None, call_monitor_timeout: float | None = None,
             retry: int | None = None, transport_options: Any = None) -> Any:
        ctxt = _without_hmac_key(ctxt)
        active = self._active_span()
        span = metrics = None
        if active is not None:
            metrics = self._tracing.metrics
            start = _now() if metrics is not None else 0
            span, ctxt, message = self._outgoing(active, ctxt, message, self._rpc_span,
                                                 target, message, wait_for_reply)
        if span is None and metrics is None:
            return self.inner.send(target, ctxt, message, wait_for_reply=wait_for_reply,
                                   timeout=timeout, call_monitor_timeout=call_monitor_timeout,
                                   retry=retry, transport_options=transport_options)
        try:
            result = self.inner.send(target, ctxt, message, wait_for_reply=wait_for_reply,
                                     timeout=timeout, call_monitor_timeout=call_monitor_timeout,
                                     retry=retry, transport_options=transport_options)
        except BaseException as exc:
            if metrics is not None:
                self._count_rpc(metrics, start, target, message, wait_for_reply, exc, span)
            if span is not None:
                self._finish(span, exc)
            raise
        if metrics is not None:
            self._count_rpc(metrics, start, target, message, wait_for_reply, None, span)
        if span is not None:
            self._finish(span, None)
        return result

    def send_notification(self, target: Any, ctxt: Any, message: Any, version: Any,
                          retry: int | None = None) -> Any:
        ctxt = _without_hmac_key(ctxt)
        active = self._active_span()
        span = metrics = None
        if active is not None:
            metrics = self._tracing.metrics
            start = _now() if metrics is not None else 0
            span, ctxt, message = self._outgoing(active, ctxt, message,
                                                 self._notification_span, target, message)
        if span is None and metrics is None:
            return self.inner.send_notification(target, ctxt, message, version, retry)
        try:
            result = self.inner.send_notification(target, ctxt, message, version, retry)
        except BaseException as exc:
            if metrics is not None:
                self._count(metrics, start, "producer", f"send {target.topic or ''}", exc,
                            span)
            if span is not None:
                self._finish(span, exc)
            raise
        if metrics is not None:
            self._count(metrics, start, "producer", f"send {target.topic or ''}", None,
                        span)
        if span is not None:
            self._finish(span, None)
        return result

    # -- receiving ----------------------------------------------------------------------

    def listen(self, target: Any, batch_size: int, batch_timeout: Any) -> Any:
        listener = self.inner.listen(target, batch_size, batch_timeout)
        if self._tracing is None:
            return listener
        return TracedListener(listener, self._tracing, rpc=True, system=self.system,
                              topic=target.topic or "", service=target.namespace or "")

    def listen_for_notifications(self, targets_and_priorities: Any, pool: Any,
                                 batch_size: int, batch_timeout: Any) -> Any:
        listener = self.inner.listen_for_notifications(targets_and_priorities, pool,
                                                       batch_size, batch_timeout)
        if self._tracing is None:
            return listener
        return TracedListener(listener, self._tracing, rpc=False, system=self.system,
                              topic="", service="")

