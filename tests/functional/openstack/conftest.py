"""A small real cloud on 127.0.0.1: keystone, placement and glance from PyPI on SQLite,
enabled only by ``os-tracing enable`` and the documented server configuration.

* keystone: uwsgi as devstack writes it (master, 2 processes x 2 threads, the app loaded
  in the master and forked, no ``lazy-apps``, no ``py-call-osafterfork``), through the
  wrapper ``tracing_middleware.wsgi``; notifications over RabbitMQ (``traced+`` by
  ``enable``);
* placement: gunicorn (gthread) through the wrapper;
* glance: uwsgi loading ``glance.wsgi.api`` with its paste pipeline, the filter put in
  by ``enable``.

Everything is torn down gracefully (SIGTERM, as systemd stops devstack's units) before
the store is read, so the spans there are the ones the services flushed on the way out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

import tracing_middleware.wsgi  # noqa: F401 - its file and module are what the servers load

HERE = pathlib.Path(__file__).resolve().parent
BIN = pathlib.Path(sys.executable).parent
PREFIX = pathlib.Path(sys.prefix)
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
DEADLINE_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: pathlib.Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)  # a readiness poll with a deadline
    pytest.fail(f"nothing listening on {port} after {DEADLINE_S}s:\n{log.read_text()[-3000:]}")


def run(*argv: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, f"{argv}: {out.stdout[-2000:]}{out.stderr[-2000:]}"
    return out.stdout


@dataclasses.dataclass
class Server:
    name: str
    proc: subprocess.Popen
    log: pathlib.Path

    def stop(self) -> None:
        """SIGTERM, as systemd stops a unit; then wait for the whole tree to exit."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # workers of the group may outlive the master
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def start(name: str, argv: list[str], env: dict[str, str], root: pathlib.Path,
          port: int) -> Server:
    log = root / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=root, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_port(port, proc, log)
    return Server(name, proc, log)


#: keystone's span cap here: below what its busiest requests run (token validation runs
#: about 80 statements), so the cap is exercised on a real service.
KEYSTONE_SPAN_CAP = 40


def tracing_lines(store: str, *extra: str) -> str:
    """Appended to the ``[tracing]`` block ``enable`` wrote (the file's last section)."""
    return "".join(f"{line}\n" for line in (f"exporters = {store}", *extra))


@dataclasses.dataclass
class Cloud:
    root: pathlib.Path
    store: str
    config: dict
    servers: dict[str, Server]
    notification_topic: str
    secrets: list[str]

    def client(self, mode: str, **extra: str) -> dict | None:
        out = run(sys.executable, str(HERE / "client.py"), mode,
                  json.dumps({**self.config, **extra}))
        return json.loads(out) if mode == "drive" else None


def _keystone(root: pathlib.Path, port: int, store: str, topic: str,
              admin_password: str) -> Server:
    etc = root / "keystone"
    etc.mkdir()
    conf = etc / "keystone.conf"
    conf.write_text(
        f"[DEFAULT]\n\n[database]\nconnection = sqlite:///{root}/keystone.db\n\n"
        f"[token]\nprovider = fernet\n\n"
        f"[fernet_tokens]\nkey_repository = {etc}/fernet-keys\n\n"
        f"[fernet_receipts]\nkey_repository = {etc}/fernet-keys\n\n"
        f"[credential]\nkey_repository = {etc}/credential-keys\n\n"
        f"[oslo_messaging_notifications]\ndriver = messagingv2\n"
        f"transport_url = {RABBIT}\ntopics = {topic}\n")
    manage = [str(BIN / "keystone-manage"), "--config-file", str(conf)]
    run(*manage, "db_sync")
    run(*manage, "fernet_setup", "--keystone-user", "root", "--keystone-group", "root")
    run(*manage, "credential_setup", "--keystone-user", "root", "--keystone-group", "root")
    url = f"http://127.0.0.1:{port}/v3"
    run(*manage, "bootstrap", "--bootstrap-password", admin_password,
        "--bootstrap-admin-url", url, "--bootstrap-public-url", url,
        "--bootstrap-internal-url", url, "--bootstrap-region-id", "RegionOne")
    run(str(BIN / "os-tracing"), "enable", "--config-file", str(conf),
        "--service-name", "keystone")
    with open(conf, "a") as f:
        f.write(tracing_lines(store, f"max_spans_per_unit = {KEYSTONE_SPAN_CAP}"))
    # devstack's lib/apache write_uwsgi_config, keystone's target through the wrapper
    ini = etc / "keystone-uwsgi-public.ini"
    ini.write_text("\n".join([
        "[uwsgi]",
        "module = tracing_middleware.wsgi:application",
        "env = OS_TRACING_WSGI_APP=keystone.wsgi.api:application",
        f"env = OS_TRACING_CONFIG_FILE={conf}",
        f"env = OS_KEYSTONE_CONFIG_DIR={etc}",
        f"virtualenv = {PREFIX}",
        f"http-socket = 127.0.0.1:{port}",
        "master = true", "processes = 2", "threads = 2", "enable-threads = true",
        "die-on-term = true", "exit-on-reload = false",
        "hook-master-start = unix_signal:15 gracefully_kill_them_all",
        "buffer-size = 65535", "add-header = Connection: close", ""]))
    return start("keystone", [str(BIN / "uwsgi"), "--ini", str(ini)], {}, root, port)


def _authtoken(keystone: str, user: str, password: str) -> str:
    return (f"[keystone_authtoken]\nwww_authenticate_uri = {keystone}/v3\n"
            f"auth_url = {keystone}/v3\nauth_type = password\nusername = {user}\n"
            f"password = {password}\nproject_name = service\n"
            f"user_domain_name = Default\nproject_domain_name = Default\n\n")


def _placement(root: pathlib.Path, port: int, store: str, keystone: str,
               password: str) -> Server:
    etc = root / "placement"
    etc.mkdir()
    conf = etc / "placement.conf"
    conf.write_text(f"[DEFAULT]\n\n[api]\nauth_strategy = keystone\n\n"
                    f"[placement_database]\nconnection = sqlite:///{root}/placement.db\n\n"
                    + _authtoken(keystone, "placement", password))
    run(str(BIN / "placement-manage"), "--config-file", str(conf), "db", "sync")
    run(str(BIN / "os-tracing"), "enable", "--config-file", str(conf),
        "--service-name", "placement")
    with open(conf, "a") as f:
        f.write(tracing_lines(store))
    env = {"OS_TRACING_WSGI_APP": "placement.wsgi.api:application",
           "OS_TRACING_CONFIG_FILE": str(conf), "OS_PLACEMENT_CONFIG_DIR": str(etc)}
    return start("placement", [str(BIN / "gunicorn"), "--workers", "2",
                               "--worker-class", "gthread", "--threads", "2",
                               "--bind", f"127.0.0.1:{port}",
                               "tracing_middleware.wsgi:application"], env, root, port)


def _glance(root: pathlib.Path, port: int, store: str, keystone: str,
            password: str) -> Server:
    etc = root / "glance"
    etc.mkdir()
    for folder in ("images", "staging", "tasks"):
        (root / folder).mkdir()
    conf = etc / "glance-api.conf"
    conf.write_text(
        f"[DEFAULT]\nenabled_backends = fs:file\n\n"
        f"[database]\nconnection = sqlite:///{root}/glance.db\n\n"
        f"[paste_deploy]\nflavor = keystone\n\n"
        f"[glance_store]\ndefault_backend = fs\n\n"
        f"[fs]\nfilesystem_store_datadir = {root}/images\n\n"
        f"[os_glance_staging_store]\nfilesystem_store_datadir = {root}/staging\n\n"
        f"[os_glance_tasks_store]\nfilesystem_store_datadir = {root}/tasks\n\n"
        + _authtoken(keystone, "glance", password))
    paste = etc / "glance-api-paste.ini"
    shutil.copy(PREFIX / "etc" / "glance" / "glance-api-paste.ini", paste)
    run(str(BIN / "glance-manage"), "--config-file", str(conf), "db_sync")
    run(str(BIN / "os-tracing"), "enable", "--paste-config", str(paste),
        "--config-file", str(conf), "--service-name", "glance-api")
    with open(conf, "a") as f:
        f.write(tracing_lines(store))
    ini = etc / "glance-uwsgi.ini"
    ini.write_text("\n".join([
        "[uwsgi]", "module = glance.wsgi.api:application",
        f"env = OS_GLANCE_CONFIG_DIR={etc}", f"virtualenv = {PREFIX}",
        f"http-socket = 127.0.0.1:{port}", "master = true", "processes = 2",
        "threads = 2", "enable-threads = true", "die-on-term = true",
        "hook-master-start = unix_signal:15 gracefully_kill_them_all",
        "buffer-size = 65535", "add-header = Connection: close", ""]))
    return start("glance", [str(BIN / "uwsgi"), "--ini", str(ini)], {}, root, port)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    root = tmp_path_factory.mktemp("cloud")
    store = f"sqlite:///{root}/traces.db"
    admin_password = "ADMIN-" + secrets.token_hex(12)
    service_password = "SERVICE-" + secrets.token_hex(12)
    topic = f"notifications-{uuid.uuid4().hex[:8]}"
    ports = {name: free_port() for name in ("keystone", "placement", "glance")}
    config = {"admin_password": admin_password, "service_password": service_password,
              **{name: f"http://127.0.0.1:{port}" for name, port in ports.items()}}
    servers: dict[str, Server] = {}
    try:
        servers["keystone"] = _keystone(root, ports["keystone"], store, topic,
                                        admin_password)
        cloud = Cloud(root, store, config, servers, topic,
                      [admin_password, service_password])
        cloud.client("setup")
        servers["placement"] = _placement(root, ports["placement"], store,
                                          config["keystone"], service_password)
        servers["glance"] = _glance(root, ports["glance"], store, config["keystone"],
                                    service_password)
        yield cloud
    finally:
        for server in servers.values():
            server.stop()
