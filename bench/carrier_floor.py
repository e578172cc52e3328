"""The least any in-message context carrier can add to ``rpc cast (fake, one thread)``.

A reference row, not a tracer: the plain fake driver, with only what every carrier of a
context inside the message must do. The sender copies the message and adds one key (a
constant ``traceparent``: no span read, nothing formatted). The receiver pops the key,
proxies the message, and makes the value current in a context variable from
``acknowledge()`` to ``reply()``. Nothing is parsed or validated and no span object
exists. ``traced+`` with an unsampled trace does this and also reads the active span,
formats and parses the ``traceparent``, checks the untrusted envelope and keeps a span
current through the scope manager; the gap between the two rows is what those cost.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

__all__ = ["LABEL", "install"]

LABEL = "carrier floor (reference)"
_KEY = "_os_trace"
_HEADERS = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}
_current: contextvars.ContextVar[Any] = contextvars.ContextVar("carried", default=None)


class _Proxy:
    """The smallest proxy that scopes a value to one RPC message's processing."""

    __slots__ = ("_inner", "_token", "_value", "client_timeout", "ctxt", "message",
                 "msg_id")

    def __init__(self, inner: Any, value: Any) -> None:
        self._inner = inner
        self._value = value
        self._token: Any = None
        self.ctxt = inner.ctxt
        self.message = inner.message
        self.msg_id = inner.msg_id
        self.client_timeout = inner.client_timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def acknowledge(self) -> Any:
        self._token = _current.set(self._value)
        return self._inner.acknowledge()

    def reply(self, reply: Any = None, failure: Any = None) -> Any:
        try:
            return self._inner.reply(reply=reply, failure=failure)
        finally:
            _current.reset(self._token)


def _hand_over(incoming: list[Any]) -> list[Any]:
    handed = list(incoming)
    for index, message in enumerate(incoming):
        value = message.message.pop(_KEY, None)
        if value is not None:
            handed[index] = _Proxy(message, value)
    return handed


def install(transport: Any) -> Callable[[list[Any]], list[Any]]:
    """Make the plain ``transport``'s sends carry the constant envelope; return the
    hand-over that takes it off received messages."""
    driver = transport._driver
    send = driver.send

    def carrying_send(target: Any, ctxt: Any, message: Any, *args: Any, **kwargs: Any
                      ) -> Any:
        message = dict(message)
        message[_KEY] = dict(_HEADERS)
        return send(target, ctxt, message, *args, **kwargs)

    driver.send = carrying_send
    return _hand_over
