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
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest

import tracing_middleware.wsgi
from tracing_middleware.export.store import SpanStore

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


def _group_alive(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(entry))
    return alive


class Server:
    """A server process started in its own session; ``kill()`` ends its whole tree."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], cwd: pathlib.Path,
                 logs: Sequence[pathlib.Path] = ()) -> None:
        self.log = cwd / f"{pathlib.Path(argv[0]).name}-{time.monotonic_ns()}.log"
        self.logs = [self.log, *logs]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.pgid = self.proc.pid

    def output(self) -> str:
        """The tail of every log the server wrote, for failure messages."""
        parts = []
        for path in self.logs:
            with contextlib.suppress(OSError):
                parts.append(f"--- {path}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def wait_listening(self, port: int) -> None:
        """Poll the port until it accepts connections (readiness), with a deadline."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited ({self.proc.returncode}) before listening:\n"
                            f"{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"nothing listens on {port} after {DEADLINE_S}s:\n"
                                f"{self.output()}")
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait_stopped(self) -> int:
        """Wait for the server and every process it started to be gone; its exit status."""
        try:
            code = self.proc.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"server still running {STOP_DEADLINE_S}s after the stop:\n"
                        f"{self.output()}")
        deadline = time.monotonic() + STOP_DEADLINE_S
        while _group_alive(self.pgid):
            if time.monotonic() > deadline:
                pytest.fail(f"processes {_group_alive(self.pgid)} outlived the server:\n"
                            f"{self.output()}")
            time.sleep(0.05)
        return code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(DEADLINE_S)


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


def assert_all_stored(store: pathlib.Path, traffic: Traffic) -> None:
    """One SERVER span per answered request, and none more; names each worker's losses."""
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


class Harness:
    """One test's directory, port, service configuration, store and servers."""

    here = HERE
    bin = BIN
    wsgi_file = WSGI_FILE
    app = APP
    apache_user = APACHE_USER

    def __init__(self, directory: pathlib.Path) -> None:
        self.dir = directory
        self.port = _free_port()
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
        server = Server(argv, self.env() if env is None else env, self.dir, logs)
        self.servers.append(server)
        return server

    def unprivileged(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run as the Apache user, able to read (never write) root-only files.

        NOTE(os-tracing): here the interpreter (under /root) and the test virtualenv
        (under .tox) are root-only (0700), so the user gets CAP_DAC_READ_SEARCH as an
        ambient capability; a deployment's virtualenv is readable by its service user.
        """
        if os.geteuid() != 0:
            return list(argv)  # already unprivileged: Apache runs as this user
        user = pwd.getpwnam(self.apache_user)
        return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                "--clear-groups", "--inh-caps=+dac_read_search",
                "--ambient-caps=+dac_read_search", *argv]

    def traffic(self) -> Traffic:
        return Traffic(self.port)

    def assert_all_stored(self, traffic: Traffic) -> None:
        assert_all_stored(self.store, traffic)

    def close(self) -> None:
        for server in self.servers:
            server.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def harness(tmp_path: pathlib.Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    try:
        yield h
    finally:
        h.close()


def _apache_user() -> pwd.struct_passwd:
    """The Apache user, created (as a system user without a home) if missing."""
    try:
        return pwd.getpwnam(APACHE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", APACHE_USER], check=True, timeout=60)
        return pwd.getpwnam(APACHE_USER)


@pytest.fixture(scope="session")
def apache_python_home() -> Iterator[pathlib.Path]:
    """A virtualenv in a world-readable place whose ``.pth`` adds this one's packages:
    the ``WSGIPythonHome`` of the Apache tests.

    NOTE(os-tracing): mod_wsgi recognises a virtualenv home by access(2) on its
    pyvenv.cfg, and access(2) ignores capabilities: with this root-only virtualenv as
    home it logs WSGI0102 ("Python home ... is not accessible") and Python then fails to
    start ("failed to get the Python codec of the filesystem encoding").
    """
    directory = pathlib.Path(tempfile.mkdtemp(prefix="os-tracing-apache-venv-"))
    directory.chmod(0o755)
    home = directory / "venv"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([str(pathlib.Path(sys.base_prefix) / "bin" / version), "-m", "venv",
                    "--without-pip", str(home)], check=True, timeout=DEADLINE_S)
    site_packages = sysconfig.get_paths()["purelib"]
    (home / "lib" / version / "site-packages" / "os_tracing_tests.pth").write_text(
        f"import site; site.addsitedir({site_packages!r})\n")
    try:
        yield home
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
        user = _apache_user()
        os.chown(directory, user.pw_uid, user.pw_gid)
        os.chown(h.conf, user.pw_uid, user.pw_gid)
    try:
        yield h
    finally:
        h.close()
        shutil.rmtree(directory, ignore_errors=True)
