"""gunicorn serving ``tracing_middleware.wsgi:application``: sync and gthread workers,
with and without ``--preload`` (the application, and tracing, loaded in the arbiter and
the workers forked from it). Every answered request is a stored span after SIGTERM
(gunicorn's graceful stop) and across a SIGHUP reload."""

from __future__ import annotations

import signal

import pytest

WORKERS = 2


@pytest.mark.parametrize("preload", [False, True], ids=["", "preload"])
@pytest.mark.parametrize("worker", ["sync", "gthread"])
@pytest.mark.parametrize("reload", [False, True], ids=["SIGTERM", "SIGHUP+SIGTERM"])
def test_every_request_is_stored(harness, worker, preload, reload):
    """Each worker's requests, the first included, and a reload's new workers': all stored."""
    argv = [str(harness.bin / "gunicorn"), "--bind", f"127.0.0.1:{harness.port}",
            "--workers", str(WORKERS), "--worker-class", worker, "--graceful-timeout", "20"]
    if worker == "gthread":
        argv += ["--threads", "2"]
    if preload:
        argv.append("--preload")
    server = harness.start(
        [*argv, "tracing_middleware.wsgi:application"],
        env=harness.env(OS_TRACING_WSGI_APP=harness.app,
                        OS_TRACING_CONFIG_FILE=str(harness.conf)))
    server.wait_listening(harness.port)
    traffic = harness.traffic()
    traffic.spread(WORKERS)
    if reload:
        server.signal(signal.SIGHUP)
        traffic.spread(WORKERS)  # until both new workers have answered
    server.signal(signal.SIGTERM)
    server.wait_stopped()
    harness.assert_all_stored(traffic)
