"""Span context in and out of an oslo.messaging message, invisible to untraced peers.

The context travels as one top-level key of the message dict, never in the request
context: oslo.messaging's RPC and notification dispatchers read only the keys they know
(``method``, ``args``, ``namespace``, ``version``; ``event_type``, ``payload``...), so an
unmodified peer on plain ``rabbit://`` processes the message exactly as before, and the
request context its endpoints see gains no key. Traced receivers pop the key before the
dispatcher runs. Inbound envelopes are untrusted: anything but a small dict of short
strings is ignored.

The envelope is read only by os-tracing, so it always speaks one format, W3C Trace Context
plus Baggage, whatever ``propagators`` says for the HTTP edges (where peers we do not
control decide the format): one format is all a receiver has to parse per message. An
envelope in any other form (written by a build that injected every configured format) is
handed to the configured propagators instead.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from tracing_middleware.propagation.baggage import BaggagePropagator
from tracing_middleware.propagation.tracecontext import (
    TraceContextPropagator,
    format_traceparent,
    parse_traceparent,
)
from tracing_middleware.spancontext import EMPTY, Propagated

__all__ = [
    "KEY",
    "MAX_ENTRIES",
    "MAX_VALUE_LENGTH",
    "headers_for",
    "pop_envelope",
    "propagated_from",
    "with_envelope",
    "with_context_fields",
]

#: The message key; short, and unlikely to collide with a service's own keys.
KEY = "_os_trace"
MAX_ENTRIES = 16
MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 8192


def with_envelope(message: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``message`` carrying ``headers``; the caller's dict is never changed."""
    copy = dict(message)
    if headers:
        copy[KEY] = dict(headers)
    return copy


def with_context_fields(ctxt: Any, headers: Mapping[str, str], add: bool) -> Any:
    """``ctxt`` (a serialized request context) carrying ``headers`` for peers that read
    the trace from the request context (oslo.messaging's own tracing and
    opentelemetry-instrumentation-oslo-messaging), in a copy.

    ``add``: every header is written. Otherwise only those the context already holds are
    replaced: a ``traceparent`` a peer upstream wrote names its span, not ours, and
    would hang the next peer's span off it; a context without one is returned as it is,
    so an untraced receiver sees exactly the context it always saw.
    """
    if not (isinstance(ctxt, dict) or isinstance(ctxt, Mapping)):
        return ctxt
    if not add and "traceparent" not in ctxt:
        return ctxt
    fields = {key: value for key, value in headers.items() if add or key in ctxt}
    return {**ctxt, **fields} if fields else ctxt


def pop_envelope(message: Any) -> dict[str, str] | None:
    """Remove and validate the envelope from a received message dict (in place).

    Every driver delivers a ``dict``: checked first, as the ABC checks cost more than the
    rest of an untraced receive.
    """
    if isinstance(message, dict) or isinstance(message, MutableMapping):
        raw = message.pop(KEY, None)
    else:
        return None
    if raw is None:
        return None
    if not (isinstance(raw, dict) or isinstance(raw, Mapping)) or not raw \
            or len(raw) > MAX_ENTRIES:
        return None
    lowered = True
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, str):
            return None
        if len(key) > MAX_KEY_LENGTH or len(value) > MAX_VALUE_LENGTH:
            return None
        lowered = lowered and key.islower()
    if lowered and type(raw) is dict:  # as headers_for() writes it: popped, so ours
        return raw
    return {key.lower(): value for key, value in raw.items()}


def headers_for(propagated: Propagated) -> dict[str, str]:
    """The envelope headers of a context: ``traceparent``, and ``tracestate`` and
    ``baggage`` when there are any."""
    context = propagated.span_context
    if not propagated.baggage and context is not None and not context.trace_state \
            and context.is_valid:
        # The usual envelope, one key: written without the propagators' carrier
        # plumbing, which costs more than the formatting itself.
        return {"traceparent": format_traceparent(context)}
    headers: dict[str, str] = {}
    _TRACECONTEXT.inject(headers, propagated)
    _BAGGAGE.inject(headers, propagated)
    return headers


def propagated_from(headers: Mapping[str, str]) -> Propagated | None:
    """The context of an envelope :func:`headers_for` wrote (as :func:`pop_envelope`
    returns it); ``None`` for an envelope in another form."""
    if len(headers) == 1:
        traceparent = headers.get("traceparent")
        if traceparent is not None:  # the usual envelope, read as headers_for writes it
            context = parse_traceparent(traceparent)
            return Propagated(context) if context is not None else EMPTY
    if not headers.keys() <= _FIELDS:
        return None
    return _BAGGAGE.extract(headers, _TRACECONTEXT.extract(headers))


#: The envelope's one format: these two, called directly rather than through a composite.
_TRACECONTEXT = TraceContextPropagator()
_BAGGAGE = BaggagePropagator()
_FIELDS = _TRACECONTEXT.fields | _BAGGAGE.fields
