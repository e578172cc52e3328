"""Suite-wide guards: fresh tracing state per test, no swallowed internal errors, no writes
to the user's real span store, no OpenTelemetry environment leaking in from the shell."""

from __future__ import annotations

import os
import socket

import pytest

from tracing_middleware import _guard


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_swallowed: the test provokes internal errors "
                                       "that guarded() is expected to swallow")
    config.addinivalue_line("markers", "stress: long-running; run with tox -e stress")


_rabbit: list[bool] = []


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``rabbit`` fails at once, saying why, when RabbitMQ is not up."""
    if item.get_closest_marker("rabbit") is None:
        return
    if not _rabbit:
        try:
            with socket.create_connection(("127.0.0.1", 5672), 2):
                _rabbit.append(True)
        except OSError:
            _rabbit.append(False)
    if not _rabbit[0]:
        pytest.fail("RabbitMQ is not listening on 127.0.0.1:5672 (.ci/run starts it)")


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            del os.environ[name]
    store = tmp_path_factory.mktemp("store") / "default.db"
    os.environ["OS_TRACING_STORE"] = f"sqlite:///{store}"
    yield


@pytest.fixture(autouse=True)
def _fresh_tracing(request: pytest.FixtureRequest):
    """Reset global tracer/scope state after each test and fail on swallowed errors."""
    before = _guard.swallowed_count()
    yield
    from tracing_middleware import tracer

    tracer.reset()
    swallowed = _guard.swallowed_count() - before
    if swallowed and request.node.get_closest_marker("allow_swallowed") is None:
        pytest.fail(f"guarded() swallowed {swallowed} internal error(s); see the log")
