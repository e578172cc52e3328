"""eventlet.wsgi after ``eventlet.monkey_patch()``, as OpenStack's eventlet API services
ran: SIGTERM stores every span still queued."""

from __future__ import annotations

import signal
import sys


def test_sigterm_stores_every_queued_span(harness):
    """SIGTERM under monkey-patching: every answered request stored, exit status SIGTERM."""
    server = harness.start(
        [sys.executable, str(harness.here / "eventlet_server.py"), str(harness.port)],
        env=harness.env(OS_TRACING_WSGI_APP=harness.app,
                        OS_TRACING_CONFIG_FILE=str(harness.conf)))
    server.wait_listening(harness.port)
    traffic = harness.traffic()
    traffic.spread(1, minimum=16)
    server.signal(signal.SIGTERM)
    code = server.wait_stopped()
    harness.assert_all_stored(traffic)
    assert code == -signal.SIGTERM, server.output()
