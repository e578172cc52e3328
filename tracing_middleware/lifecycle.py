"""Process lifecycle: what must happen at exit, on SIGTERM and after a fork.

The registry calls :func:`install` once, when the first engine is built, with the two
things only it knows how to do: shut every engine down, and restart what a forked child
needs (samplers that poll, export threads). Nothing here knows what an engine is.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["install"]

LOG = logging.getLogger(__name__)

_lock = threading.Lock()
_installed = False
_after_fork: list[Callable[[], None]] = []


def install(shutdown_all: Callable[[float], None], after_fork: Callable[[], None]) -> None:
    """Flush at exit and on SIGTERM, and run ``after_fork`` in every forked child
    (``os.fork`` and uwsgi's workers alike). Idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    atexit.register(shutdown_all, 5.0)
    _after_fork.append(after_fork)
    _install_sigterm_flush(shutdown_all)
    _chain_uwsgi_post_fork()


def _install_sigterm_flush(shutdown_all: Callable[[float], None]) -> None:
    """Flush on SIGTERM when nobody else handles it.

    Python's default SIGTERM ends the process without running ``atexit``, which would
    lose every queued span of a worker being stopped. Only when the handler is still the
    default (oslo.service and most servers install their own, which exit normally and so
    run ``atexit``) we install one that flushes with a deadline and then dies by SIGTERM
    as before, so the exit status the supervisor sees is unchanged. ``signal.signal``
    itself refuses outside the main thread; ``threading.main_thread()`` is not asked,
    because under eventlet's monkey-patching it names no thread that is current.
    """

    def terminate() -> None:
        try:
            shutdown_all(2.0)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    def flush_then_terminate(signum: int, frame: Any) -> None:
        if wake is not None:
            # NOTE(os-tracing): under eventlet the handler runs in the hub, which must
            # not block (joining the export thread there raises "Cannot switch to
            # MAINLOOP from MAINLOOP"), and which an idle server never leaves: the flush
            # runs in a green thread that a byte on a pipe wakes.
            wake()
            return
        terminate()

    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        wake = _green_waker(terminate)
        signal.signal(signal.SIGTERM, flush_then_terminate)
    except (ValueError, OSError, AttributeError):
        return


def _green_waker(work: Callable[[], None]) -> Callable[[], Any] | None:
    """Under eventlet's monkey-patching: a green thread that runs ``work`` once woken,
    and the function that wakes it from a signal handler; else ``None``."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None or not patcher.is_monkey_patched("thread"):
        return None
    eventlet = sys.modules["eventlet"]
    real_os = patcher.original("os")  # the patched os.write refuses to run in the hub
    read_end, write_end = real_os.pipe()

    def wait_then_work() -> None:
        eventlet.hubs.trampoline(read_end, read=True)
        work()

    eventlet.spawn_n(wait_then_work)
    return lambda: real_os.write(write_end, b"x")


def _after_fork_in_child() -> None:
    for work in list(_after_fork):
        try:
            work()
        except Exception:
            LOG.debug("os-tracing: after_fork failed", exc_info=True)


def _chain_uwsgi_post_fork() -> None:
    """Run the after-fork work in each uwsgi worker.

    uwsgi forks its workers in C and, unless ``py-call-osafterfork`` is set, runs no
    ``os.register_at_fork`` hook; it calls ``uwsgi.post_fork_hook`` instead (the hook
    uwsgidecorators' ``@postfork`` chains through). We chain onto whatever is there.
    Batch processors also notice such a fork by themselves, before their first span;
    this makes samplers that poll restart in workers that never record a span.
    """
    try:
        import uwsgi  # the server's embedded module: importable only inside uwsgi
    except ImportError:
        return
    if getattr(uwsgi, "_os_tracing_chained", False):
        return
    previous = getattr(uwsgi, "post_fork_hook", None)

    def post_fork_hook() -> None:
        _after_fork_in_child()
        if previous is not None:
            previous()

    try:
        uwsgi.post_fork_hook = post_fork_hook
        uwsgi._os_tracing_chained = True
    except Exception:
        LOG.debug("os-tracing: uwsgi post_fork_hook not settable", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
