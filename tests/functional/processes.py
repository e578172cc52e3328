"""Real servers as the functional tests run them: each in its own session, ready when its
port answers, stopped gracefully down to the last worker, or killed as a whole tree.

Shared by the WSGI server tests (``servers/``) and the real OpenStack services
(``openstack/``); both also run Apache as an unprivileged user, which needs the last
three helpers here.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pwd
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence

import pytest

__all__ = ["Server", "free_port", "python_home", "system_user", "unprivileged"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    """A server process started in its own session, its output in ``log``.

    ``deadline_s`` bounds the wait for it to listen; ``stop_deadline_s`` the wait for it
    and every process it started to be gone after a stop; ``stop_signal`` is its
    graceful stop (Apache's is SIGWINCH).
    """

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str],
                 cwd: pathlib.Path, log: pathlib.Path, logs: Sequence[pathlib.Path] = (),
                 deadline_s: float = 30.0, stop_deadline_s: float = 15.0,
                 stop_signal: int = signal.SIGTERM) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.log = log
        self.logs = [log, *logs]
        self.deadline_s = deadline_s
        self.stop_deadline_s = stop_deadline_s
        with open(log, "wb") as out:
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
        deadline = time.monotonic() + self.deadline_s
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.proc.returncode}) before "
                            f"listening:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{self.name}: nothing listens on {port} after "
                                f"{self.deadline_s}s:\n{self.output()}")
            time.sleep(0.05)  # a readiness poll with a deadline

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait_stopped(self) -> int:
        """Wait for the server and every process it started to be gone; its exit status.

        Fails (after killing what is left) past the deadline: a server that cannot stop
        loses its spans.
        """
        try:
            code = self.proc.wait(self.stop_deadline_s)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} still running {self.stop_deadline_s}s after the "
                        f"stop:\n{self.output()}")
        deadline = time.monotonic() + self.stop_deadline_s
        while alive := _group_alive(self.pgid):  # workers may outlive the master
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"processes {alive} outlived {self.name}:\n{self.output()}")
            time.sleep(0.05)
        return code

    def stop(self) -> int:
        """The graceful stop (unless it already exited), then :meth:`wait_stopped`."""
        if self.proc.poll() is None:
            self.signal(self.stop_signal)
        return self.wait_stopped()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(self.deadline_s)


def system_user(name: str) -> pwd.struct_passwd:
    """The user an unprivileged server runs as: ``name``, created as a system user
    without a home if missing; when the tests do not run as root, the user running them."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], check=True, timeout=60)
        return pwd.getpwnam(name)


def unprivileged(user: pwd.struct_passwd, argv: Sequence[str]) -> list[str]:
    """``argv`` run as ``user``: Apache refuses to serve as root.

    NOTE(os-tracing): here the interpreter (under /root) and the test virtualenv (under
    .tox) are root-only (0700), so the user gets CAP_DAC_READ_SEARCH (read, never write)
    as an ambient capability; what it writes it owns. A deployment's virtualenv is
    readable by its service user.
    """
    if os.geteuid() != 0:
        return list(argv)  # already unprivileged
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *argv]


def python_home(directory: pathlib.Path) -> pathlib.Path:
    """A virtualenv in ``directory`` whose ``.pth`` adds this one's packages: the
    ``WSGIPythonHome`` of an Apache run as another user.

    NOTE(os-tracing): mod_wsgi recognises a virtualenv home by access(2) on its
    pyvenv.cfg, and access(2) ignores capabilities: with this root-only virtualenv as
    home it logs WSGI0102 ("Python home ... is not accessible") and Python then fails to
    start ("failed to get the Python codec of the filesystem encoding").
    """
    home = directory / "venv"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([str(pathlib.Path(sys.base_prefix) / "bin" / version), "-m", "venv",
                    "--without-pip", str(home)], check=True, timeout=120)
    site_packages = sysconfig.get_paths()["purelib"]
    (home / "lib" / version / "site-packages" / "os_tracing_tests.pth").write_text(
        f"import site; site.addsitedir({site_packages!r})\n")
    return home
