"""uwsgi as devstack and OpenStack-Ansible run it: every answered request is a stored span.

Master with 2 workers of 2 threads, ``enable-threads``, devstack's SIGTERM handling
(``die-on-term`` and ``hook-master-start = unix_signal:15 gracefully_kill_them_all``),
with and without ``lazy-apps``, and never ``py-call-osafterfork``: without lazy-apps the
application (and tracing) is loaded in the master and the workers are forked in C, which
runs no Python fork hook. The application is the wrapper's file (``wsgi-file``), the
wrapper's module (``module``) or a paste pipeline with the tracing filter (``paste``).
"""

from __future__ import annotations

import signal
import sys

import pytest

WORKERS = 2
FORMS = ("wsgi-file", "module", "paste")
LAZY = pytest.mark.parametrize("lazy", [False, True], ids=["prefork", "lazy-apps"])

_PASTE = """\
[pipeline:main]
pipeline = tracing pidapp

[filter:tracing]
use = egg:os-tracing#tracing
oslo_config_project = servers
oslo_config_file = {conf}

[app:pidapp]
paste.app_factory = pidapp:app_factory
"""


def _start(harness, form: str, lazy: bool):
    lines = [
        "[uwsgi]",
        f"http-socket = 127.0.0.1:{harness.port}",
        f"home = {sys.prefix}",
        f"pythonpath = {harness.here}",
        "master = true",
        f"processes = {WORKERS}",
        "threads = 2",
        "enable-threads = true",
        "thunder-lock = true",
        "die-on-term = true",
        "hook-master-start = unix_signal:15 gracefully_kill_them_all",
        "add-header = Connection: close",
    ]
    if lazy:
        lines.append("lazy-apps = true")
    if form == "paste":
        paste = harness.dir / "api-paste.ini"
        paste.write_text(_PASTE.format(conf=harness.conf))
        lines.append(f"paste = config:{paste}")
    else:
        lines += [f"wsgi-file = {harness.wsgi_file}" if form == "wsgi-file"
                  else "module = tracing_middleware.wsgi:application",
                  f"env = OS_TRACING_WSGI_APP={harness.app}",
                  f"env = OS_TRACING_CONFIG_FILE={harness.conf}"]
    ini = harness.dir / "uwsgi.ini"
    ini.write_text("\n".join(lines) + "\n")
    server = harness.start([str(harness.bin / "uwsgi"), "--ini", str(ini)])
    server.wait_listening(harness.port)
    return server


@LAZY
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_every_request_is_stored_after_stop(harness, form, lazy, stop):
    """Each worker's requests, its first included, are all stored once uwsgi has stopped."""
    server = _start(harness, form, lazy)
    traffic = harness.traffic()
    traffic.spread(WORKERS)
    server.signal(stop)
    server.wait_stopped()
    harness.assert_all_stored(traffic)


@LAZY
@pytest.mark.parametrize("form", FORMS)
def test_every_request_is_stored_across_a_graceful_reload(harness, form, lazy):
    """Requests before a SIGHUP reload and to the reloaded workers after it: all stored."""
    server = _start(harness, form, lazy)
    traffic = harness.traffic()
    traffic.spread(WORKERS)
    server.signal(signal.SIGHUP)
    traffic.spread(WORKERS)  # until both reloaded workers have answered
    server.signal(signal.SIGTERM)
    server.wait_stopped()
    harness.assert_all_stored(traffic)
