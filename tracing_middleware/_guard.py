"""The never-raise boundary between tracing bookkeeping and the host service."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

__all__ = ["guarded", "log_once", "reset_log_once", "swallow", "swallowed_count"]

LOG = logging.getLogger(__name__)

_seen: set[tuple[str, str]] = set()
_seen_lock = threading.Lock()
_swallowed = 0


def log_once(logger: logging.Logger, msg: str, *args: object, level: int = logging.WARNING,
             exc_info: bool = False, key: str | None = None) -> None:
    """Log ``msg`` the first time this (logger, key) pair is seen in this process.

    A tracing fault repeats on every request; one line is enough to tell the operator and
    a thousand lines a second would hurt the service we are a guest in.
    """
    token = (logger.name, key if key is not None else msg)
    with _seen_lock:
        if token in _seen:
            return
        _seen.add(token)
    logger.log(level, msg, *args, exc_info=exc_info)


def reset_log_once() -> None:
    """Forget what was logged (tests, and a reload that may have fixed the fault)."""
    with _seen_lock:
        _seen.clear()


def swallowed_count() -> int:
    """How many internal errors :func:`guarded` has swallowed in this process."""
    return _swallowed


def swallow(what: str) -> None:
    """Call from an ``except Exception`` block on a hot path instead of :func:`guarded`
    (which costs a generator per use): counts and logs once, like it."""
    global _swallowed
    _swallowed += 1
    log_once(LOG, "os-tracing: %s failed, span dropped", what, exc_info=True, key=what)


@contextlib.contextmanager
def guarded(what: str) -> Iterator[None]:
    """Tracing bookkeeping: a bug here costs a span, never a request."""
    global _swallowed
    try:
        yield
    except Exception:
        _swallowed += 1
        log_once(LOG, "os-tracing: %s failed, span dropped", what, exc_info=True, key=what)
