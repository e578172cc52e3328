"""The harness of the WSGI server tests: a real server in its own session, requests spread
over every worker, and the spans read back from the store once the server has stopped.

Every test gets a :class:`Harness`: its own directory, free port, service configuration
(``[tracing]`` writing to ``<dir>/traces.db``) and store. Servers are started in a new
session, so a stop can be waited for down to the last worker process and teardown can
kill the whole tree with one ``killpg``.

The export interval is an hour: no span leaves a worker on a timer during a test, so
every span in the store was flushed by the stop or reload under test, or it is lost.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import os
import pathlib
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest

import tracing_middleware.wsgi
from tracing_middleware.export.store import SpanStore

from ..processes import Server, free_port, python_home, system_user, unprivileged

HERE = pathlib.Path(__file__).resolve().parent
BIN = pathlib.Path(sys.executable).parent
#: ``WSGIScriptAlias`` / ``wsgi-file`` target: the wrapper's own file.
WSGI_FILE = pathlib.Path(tracing_middleware.wsgi.__file__).resolve()
#: The traced application, as ``OS_TRACING_WSGI_APP`` names it.
APP = "pidapp:application"
#: Concurrent requests per round: more than one worker's threads, so all workers serve.
CLIENTS = 8
#: Any wait for a start or a response longer than this is a failure.
DEADLINE_S = 30.0
#: A stop is allowed this long (the flush on exit has a 2-5 s deadline of its own).
STOP_DEADLINE_S = 15.0
#: The unprivileged user Apache runs as.
APACHE_USER = "www-data"


class Traffic:
    """Requests sent to one port, each on its own connection, and who answered them."""

    def __init__(self, port: int) -> None:
        self.port = port
        #: request path -> pid of the worker that answered it
        self.answered: dict[str, int] = {}

    def _get(self, path: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE_S)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        assert response.status == 200, (path, response.status, body[:500])
        return int(body.split()[0])

    def spread(self, workers: int, minimum: int = CLIENTS) -> set[int]:
        """Rounds of concurrent requests until ``workers`` workers that had not answered
        before have answered (at least ``minimum`` requests); the pids that answered."""
        before = set(self.answered.values())
        sent = 0
        new: set[int] = set()
        deadline = time.monotonic() + DEADLINE_S
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            while len(new) < workers or sent < minimum:
                if time.monotonic() > deadline:
                    pytest.fail(f"after {sent} requests only workers {sorted(new)} answered; "
                                f"expected {workers} new ones")
                paths = [f"/req/{len(self.answered) + i}" for i in range(CLIENTS)]
                for path, pid in zip(paths, pool.map(self._get, paths), strict=True):
                    self.answered[path] = pid
                    if pid not in before:
                        new.add(pid)
                sent += len(paths)
        return new


def stored_server_spans(store: pathlib.Path) -> list[str]:
    """``url.path`` of every SERVER span in the store (none if it was never created)."""
    if not store.exists():
        return []
    with contextlib.closing(SpanStore(str(store))) as spans:
        return [str(s.attributes.get("url.path")) for s in spans.all_spans()
                if s.kind == "server"]


def counted_requests(store: pathlib.Path) -> tuple[int, int]:
    """The server requests the RED metrics in the store counted, and in how many
    streams (processes) they were counted."""
    if not store.exists():
        return 0, 0
    with contextlib.closing(sqlite3.connect(store)) as conn:
        try:
            return conn.execute("SELECT COALESCE(SUM(count), 0), COUNT(DISTINCT instance) "
                                "FROM metric_points WHERE kind = 'server'").fetchone()
        except sqlite3.OperationalError:  # no metrics were ever written
            return 0, 0


def assert_all_stored(store: pathlib.Path, traffic: Traffic) -> None:
    """One SERVER span per answered request, and none more; names each worker's losses.
    The metrics, flushed at the same stop, counted every answered request too, each
    worker in a stream of its own."""
    stored = stored_server_spans(store)
    lost = {p: pid for p, pid in traffic.answered.items() if p not in set(stored)}
    answered = Counter(traffic.answered.values())
    losses = Counter(lost.values())
    per_worker = ", ".join(f"pid {pid}: {losses[pid]} of {n} lost"
                           for pid, n in sorted(answered.items()))
    assert not lost and len(stored) == len(traffic.answered), (
        f"{len(traffic.answered)} requests answered, {len(stored)} server spans stored, "
        f"{len(lost)} answered requests have no span ({per_worker}); "
        f"lost: {sorted(lost, key=lambda p: int(p.rsplit('/', 1)[1]))}")
    counted, streams = counted_requests(store)
    assert counted == len(traffic.answered), (
        f"{len(traffic.answered)} requests answered, {counted} counted in the metrics")
    assert streams >= len(answered), (
        f"{len(answered)} workers answered, their counts came in {streams} streams")


class Harness:
    """One test's directory, port, service configuration, store and servers."""

    here = HERE
    bin = BIN
    wsgi_file = WSGI_FILE
    app = APP
    apache_user = APACHE_USER

    def __init__(self, directory: pathlib.Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.store = directory / "traces.db"
        self.conf = directory / "service.conf"
        self.conf.write_text(
            "[tracing]\n"
            f"exporters = sqlite:///{self.store}\n"
            "service_name = servers\n"
            "integrations =\n"
            "export_interval_ms = 3600000\n")
        self.servers: list[Server] = []

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment: this venv's programs, the test app importable."""
        return {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                "PYTHONPATH": str(HERE), "HOME": str(self.dir), "LANG": "C.UTF-8", **extra}

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None,
              logs: Sequence[pathlib.Path] = ()) -> Server:
        name = pathlib.Path(argv[0]).name
        server = Server(name, argv, self.env() if env is None else env, self.dir,
                        self.dir / f"{name}-{time.monotonic_ns()}.log", logs,
                        DEADLINE_S, STOP_DEADLINE_S)
        self.servers.append(server)
        return server

    def unprivileged(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run as the Apache user (see :func:`processes.unprivileged`)."""
        return unprivileged(system_user(self.apache_user), argv)

    def traffic(self) -> Traffic:
        return Traffic(self.port)

    def assert_all_stored(self, traffic: Traffic) -> None:
        assert_all_stored(self.store, traffic)

    def close(self) -> None:
        for server in self.servers:
            server.kill()


@pytest.fixture
def harness(tmp_path: pathlib.Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(scope="session")
def apache_python_home() -> Iterator[pathlib.Path]:
    """A world-readable :func:`processes.python_home`: the Apache tests'
    ``WSGIPythonHome``."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="os-tracing-apache-venv-"))
    directory.chmod(0o755)
    try:
        yield python_home(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def apache_harness() -> Iterator[Harness]:
    """A harness whose directory the unprivileged Apache user owns.

    pytest's ``tmp_path`` lies under a directory only its owner may enter (0700), so
    Apache's server root, logs and the store live in a fresh directory under /tmp, given
    to the Apache user when the tests run as root.
    """
    directory = pathlib.Path(tempfile.mkdtemp(prefix="os-tracing-apache-"))
    h = Harness(directory)
    if os.geteuid() == 0:
        user = system_user(APACHE_USER)
        os.chown(directory, user.pw_uid, user.pw_gid)
        os.chown(h.conf, user.pw_uid, user.pw_gid)
    try:
        yield h
    finally:
        h.close()
        shutil.rmtree(directory, ignore_errors=True)
