"""A small real cloud on 127.0.0.1: keystone, placement and glance from PyPI on SQLite,
enabled only by ``os-tracing enable`` and the server configuration
``doc/source/enabling.rst`` documents.

* keystone: uwsgi as devstack writes it (master, 2 processes x 2 threads, the app loaded
  in the master and forked, no ``lazy-apps``, no ``py-call-osafterfork``), through the
  wrapper ``tracing_middleware.wsgi``; notifications over RabbitMQ (``traced+`` by
  ``enable``);
* placement: Apache mod_wsgi in daemon mode the kolla-ansible way (``WSGIScriptAlias`` to
  the wrapper's file, ``WSGIDaemonProcess``, ``WSGIApplicationGroup %{GLOBAL}``, the
  application and config file named by ``SetEnv``), as an unprivileged user;
* glance: uwsgi loading ``glance.wsgi.api`` with its paste pipeline, the filter put in
  by ``enable``.

All of them write to one store. Everything is stopped gracefully (uwsgi: SIGTERM, as
systemd stops devstack's units; Apache: graceful-stop) before the store is read, so the
spans there are the ones the services flushed on the way out. ``OS_TRACING_KEEP_CLOUD=1``
keeps the cloud's directory (configuration, logs, databases, the store) for a look after.
"""

from __future__ import annotations

import dataclasses
import grp
import json
import os
import pathlib
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator

import pytest

import tracing_middleware.wsgi
from tracing_middleware.export.store import SpanStore

from ..processes import Server, free_port, python_home, system_user, unprivileged

HERE = pathlib.Path(__file__).resolve().parent
BIN = pathlib.Path(sys.executable).parent
PREFIX = pathlib.Path(sys.prefix)
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
#: ``WSGIScriptAlias`` target: the wrapper's own file.
WSGI_FILE = pathlib.Path(tracing_middleware.wsgi.__file__).resolve()
#: Any start, bootstrap step or stop longer than this is a failure.
DEADLINE_S = 120.0
#: The unprivileged user Apache (placement) runs as; created if missing.
PLACEMENT_USER = "placement"
#: keystone's span cap here: below what its busiest requests run (token validation runs
#: about 80 statements), so the cap is exercised on a real service. Every other
#: ``[tracing]`` option is left at its default.
KEYSTONE_SPAN_CAP = 40
#: Threads per keystone uwsgi worker.
KEYSTONE_THREADS = 2


def run(*argv: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE_S,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, f"{argv}: {out.stdout[-2000:]}{out.stderr[-2000:]}"
    return out.stdout


def start(name: str, argv: list[str], env: dict[str, str], root: pathlib.Path, port: int,
          logs: tuple[pathlib.Path, ...] = (), stop_signal: int = signal.SIGTERM) -> Server:
    server = Server(name, argv, {**os.environ, **env}, root, root / f"{name}.log", logs,
                    DEADLINE_S, DEADLINE_S / 2, stop_signal)
    try:
        server.wait_listening(port)
    except BaseException:
        server.kill()
        raise
    return server


def _chown(path: pathlib.Path, user: pwd.struct_passwd) -> None:
    if os.geteuid() == 0:
        os.chown(path, user.pw_uid, user.pw_gid)


def enable(*args: str) -> None:
    """``os-tracing enable``: the only edit tracing makes to a service's files."""
    run(str(BIN / "os-tracing"), "enable", *args)


def tracing_lines(store: str, *extra: str) -> str:
    """Appended to the ``[tracing]`` block ``enable`` wrote (the file's last section): the
    store every service shares (the default would be each user's own data directory)."""
    return "".join(f"{line}\n" for line in (f"exporters = {store}", *extra))


@dataclasses.dataclass
class Cloud:
    root: pathlib.Path
    store: str
    config: dict
    servers: dict[str, Server]
    notification_topic: str
    #: passwords, key material and tokens that must never reach the store
    secrets: list[str]

    @property
    def store_path(self) -> pathlib.Path:
        return self.root / "store" / "traces.db"

    def client(self, mode: str, **extra: str) -> dict:
        out = run(sys.executable, str(HERE / "client.py"), mode,
                  json.dumps({**self.config, **extra}))
        return json.loads(out)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


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
    owner = ["--keystone-user", pwd.getpwuid(os.geteuid()).pw_name,
             "--keystone-group", grp.getgrgid(os.getegid()).gr_name]
    run(*manage, "fernet_setup", *owner)
    run(*manage, "credential_setup", *owner)
    url = f"http://127.0.0.1:{port}/v3"
    run(*manage, "bootstrap", "--bootstrap-password", admin_password,
        "--bootstrap-admin-url", url, "--bootstrap-public-url", url,
        "--bootstrap-internal-url", url, "--bootstrap-region-id", "RegionOne")
    enable("--config-file", str(conf), "--service-name", "keystone")
    assert f"transport_url = traced+{RABBIT}" in conf.read_text(), "enable left the URL"
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
        "master = true", "processes = 2", f"threads = {KEYSTONE_THREADS}",
        "enable-threads = true",
        "die-on-term = true", "exit-on-reload = false",
        "hook-master-start = unix_signal:15 gracefully_kill_them_all",
        "buffer-size = 65535", "add-header = Connection: close", ""]))
    return start("keystone", [str(BIN / "uwsgi"), "--ini", str(ini)], {}, root, port)


def _authtoken(keystone: str, user: str, password: str) -> str:
    return (f"[keystone_authtoken]\nwww_authenticate_uri = {keystone}/v3\n"
            f"auth_url = {keystone}/v3\nauth_type = password\nusername = {user}\n"
            f"password = {password}\nproject_name = service\n"
            f"user_domain_name = Default\nproject_domain_name = Default\n\n")


#: kolla-ansible's placement-api-wsgi.conf, as a whole server configuration.
_PLACEMENT_HTTPD = """\
ServerRoot {dir}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {dir}/httpd.pid
ErrorLog {dir}/placement-api-error.log
LogLevel info
LogFormat "%h %t \\"%r\\" %>s %b %D" logformat
Mutex file:{dir}
DefaultRuntimeDir {dir}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule env_module {modules}/mod_env.so
{load_module}
WSGIPythonHome {home}
WSGISocketPrefix {dir}/wsgi

<VirtualHost 127.0.0.1:{port}>
    WSGIDaemonProcess placement-api processes=2 threads=2 display-name=placement-api \\
        home={dir}
    WSGIProcessGroup placement-api
    WSGIScriptAlias / {wsgi_file}
    WSGIApplicationGroup %{{GLOBAL}}
    WSGIPassAuthorization On
    SetEnv OS_TRACING_WSGI_APP placement.wsgi.api:application
    SetEnv OS_TRACING_CONFIG_FILE {conf}
    <Directory {wsgi_dir}>
        Require all granted
    </Directory>
    CustomLog {dir}/placement-api-access.log logformat
</VirtualHost>
"""


def _apxs(variable: str) -> str:
    return run("apxs", "-q", variable).strip()


def _placement(root: pathlib.Path, port: int, store: str, keystone: str,
               password: str) -> Server:
    user = system_user(PLACEMENT_USER)
    etc = root / "placement"
    etc.mkdir()
    conf = etc / "placement.conf"
    conf.write_text(f"[DEFAULT]\n\n[api]\nauth_strategy = keystone\n\n"
                    f"[placement_database]\nconnection = sqlite:///{etc}/placement.db\n\n"
                    + _authtoken(keystone, "placement", password))
    run(str(BIN / "placement-manage"), "--config-file", str(conf), "db", "sync")
    enable("--config-file", str(conf), "--service-name", "placement")
    with open(conf, "a") as f:
        f.write(tracing_lines(store))
    for path in (etc, etc / "placement.db"):
        _chown(path, user)
    load_module = next(line for line in run(str(BIN / "mod_wsgi-express"),
                                            "module-config").splitlines()
                       if line.startswith("LoadModule"))
    httpd_conf = etc / "placement-api-wsgi.conf"
    httpd_conf.write_text(_PLACEMENT_HTTPD.format(
        dir=etc, port=port, modules=_apxs("LIBEXECDIR"), load_module=load_module,
        home=python_home(root), wsgi_file=WSGI_FILE, wsgi_dir=WSGI_FILE.parent,
        conf=conf))
    httpd = f"{_apxs('SBINDIR')}/{_apxs('TARGET')}"
    # placement reads its own files from OS_PLACEMENT_CONFIG_DIR in os.environ, which
    # SetEnv does not reach: it comes from Apache's environment, as under systemd.
    # NOTE(os-tracing): graceful-stop is SIGWINCH to the parent (apachectl -k
    # graceful-stop): it lets mod_wsgi shut each daemon process down cleanly.
    return start("placement", unprivileged(user, [httpd, "-f", str(httpd_conf),
                                                   "-DFOREGROUND"]),
                 {"OS_PLACEMENT_CONFIG_DIR": str(etc)}, root, port,
                 logs=(etc / "placement-api-error.log",), stop_signal=signal.SIGWINCH)


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
    enable("--paste-config", str(paste), "--config-file", str(conf),
           "--service-name", "glance-api")
    assert "egg:os-tracing#tracing" in paste.read_text(), "enable left the pipeline"
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
def cloud() -> Iterator[Cloud]:
    # NOTE(os-tracing): not pytest's tmp_path, whose parent only root may enter (0700):
    # the placement user owns its own directory and the store's below this one.
    root = pathlib.Path(tempfile.mkdtemp(prefix="os-tracing-cloud-"))
    root.chmod(0o755)
    (root / "store").mkdir()
    store = f"sqlite:///{root}/store/traces.db"
    with SpanStore.from_url(store) as created:  # created here, so its owner is chosen here
        assert created.all_spans() == []
    # NOTE(os-tracing): one store for every service; SQLite running as root gives the
    # -wal and -shm files it creates to the database's owner, so all can write it.
    placement_user = system_user(PLACEMENT_USER)
    for path in (root / "store", *(root / "store").iterdir()):
        _chown(path, placement_user)
    passwords = {"admin_password": "ADMIN-" + secrets.token_hex(12),
                 "placement_password": "PLACEMENT-" + secrets.token_hex(12),
                 "glance_password": "GLANCE-" + secrets.token_hex(12)}
    topic = f"notifications-{uuid.uuid4().hex[:8]}"
    ports = {name: free_port() for name in ("keystone", "placement", "glance")}
    config = {**passwords,
              **{name: f"http://127.0.0.1:{port}" for name, port in ports.items()}}
    servers: dict[str, Server] = {}
    cloud = Cloud(root, store, config, servers, topic, list(passwords.values()))
    try:
        servers["keystone"] = _keystone(root, ports["keystone"], store, topic,
                                        passwords["admin_password"])
        cloud.secrets += [p.read_text().strip()
                          for p in (root / "keystone").glob("*-keys/*")]
        cloud.secrets += cloud.client("setup")["tokens"]
        servers["placement"] = _placement(root, ports["placement"], store,
                                          config["keystone"], passwords["placement_password"])
        servers["glance"] = _glance(root, ports["glance"], store, config["keystone"],
                                    passwords["glance_password"])
        yield cloud
    finally:
        for server in servers.values():
            server.kill()
        if os.environ.get("OS_TRACING_KEEP_CLOUD"):
            print(f"cloud kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
