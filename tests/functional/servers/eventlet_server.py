"""An API service as OpenStack's eventlet services ran: ``eventlet.monkey_patch()`` first,
then the traced application under ``eventlet.wsgi`` on ``127.0.0.1:<argv[1]>``, and the
default SIGTERM disposition (no service framework installs a handler).

Started by test_eventlet.py with ``OS_TRACING_WSGI_APP`` and ``OS_TRACING_CONFIG_FILE``
in the environment; not a test module.
"""

import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402

import eventlet.wsgi  # noqa: E402

from tracing_middleware import wsgi  # noqa: E402


def main() -> None:
    sock = eventlet.listen(("127.0.0.1", int(sys.argv[1])))
    eventlet.wsgi.server(sock, wsgi.application, log_output=False)


if __name__ == "__main__":
    main()
