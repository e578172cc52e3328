"""Apache mod_wsgi in daemon mode, as kolla-ansible runs keystone: every answered request
is a stored span after a graceful stop.

Apache will not serve as root, so it runs as an unprivileged user from the start (see
``Harness.unprivileged``). Two forms: an httpd.conf written here that loads the module
``mod_wsgi-express module-config`` names and points ``WSGIScriptAlias`` at the wrapper's
file, naming the application by ``SetEnv`` (so it is loaded by the first request); and
``mod_wsgi-express`` serving the wrapper's module, naming the application in the process
environment (so it is loaded at import).
"""

from __future__ import annotations

import subprocess

WORKERS = 2

_VHOST = """\
ServerRoot {dir}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {dir}/httpd.pid
ErrorLog {dir}/error.log
LogLevel info
Mutex file:{dir}
DefaultRuntimeDir {dir}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule env_module {modules}/mod_env.so
{load_module}
WSGIPythonHome {home}
WSGISocketPrefix {dir}/wsgi

<VirtualHost 127.0.0.1:{port}>
    WSGIDaemonProcess keystone-public processes={workers} threads=2 \\
        display-name=keystone-public home={dir} python-path={here}
    WSGIProcessGroup keystone-public
    WSGIScriptAlias / {wsgi_file}
    WSGIApplicationGroup %{{GLOBAL}}
    WSGIPassAuthorization On
    SetEnv OS_TRACING_WSGI_APP {app}
    SetEnv OS_TRACING_CONFIG_FILE {conf}
    <Directory {wsgi_dir}>
        Require all granted
    </Directory>
</VirtualHost>
"""


def _apxs(variable: str) -> str:
    return subprocess.run(["apxs", "-q", variable], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def _httpd() -> str:
    return f"{_apxs('SBINDIR')}/{_apxs('TARGET')}"


def _env(harness, **extra: str) -> dict[str, str]:
    env = harness.env(**extra)
    del env["PYTHONPATH"]  # the test app is found through the server's python-path
    return env


def _spread_stop_and_check(harness, server, stop: list[str]) -> None:
    server.wait_listening(harness.port)
    traffic = harness.traffic()
    traffic.spread(WORKERS)
    done = subprocess.run(stop, env=_env(harness), cwd=harness.dir, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    server.wait_stopped()
    harness.assert_all_stored(traffic)


def test_script_alias_in_daemon_mode(apache_harness, apache_python_home):
    """WSGIScriptAlias + SetEnv, 2 daemon processes: all stored after apache2 -k graceful-stop."""
    h = apache_harness
    module_config = subprocess.run([str(h.bin / "mod_wsgi-express"), "module-config"],
                                   capture_output=True, text=True, check=True, timeout=60)
    load_module = next(line for line in module_config.stdout.splitlines()
                       if line.startswith("LoadModule"))
    conf = h.dir / "httpd.conf"
    conf.write_text(_VHOST.format(
        dir=h.dir, port=h.port, modules=_apxs("LIBEXECDIR"), load_module=load_module,
        home=apache_python_home, workers=WORKERS, here=h.here, wsgi_file=h.wsgi_file,
        wsgi_dir=h.wsgi_file.parent, app=h.app, conf=h.conf))
    httpd = _httpd()
    server = h.start(h.unprivileged([httpd, "-f", str(conf), "-DFOREGROUND"]), env=_env(h),
                     logs=[h.dir / "error.log"])
    _spread_stop_and_check(h, server, [httpd, "-f", str(conf), "-k", "graceful-stop"])


def test_mod_wsgi_express_module(apache_harness, apache_python_home):
    """mod_wsgi-express --application-type module: all stored after apachectl graceful-stop."""
    h = apache_harness
    root = h.dir / "express"
    # mod_wsgi-express names this (root-only) virtualenv as WSGIPythonHome; the last
    # WSGIPythonHome read wins.
    override = h.dir / "python-home.conf"
    override.write_text(f"WSGIPythonHome {apache_python_home}\n")
    argv = [str(h.bin / "mod_wsgi-express"), "start-server", "--server-root", str(root),
            "--host", "127.0.0.1", "--port", str(h.port), "--processes", str(WORKERS),
            "--threads", "2", "--locale", "C.UTF-8", "--python-path", str(h.here),
            "--include-file", str(override), "--application-type", "module",
            "tracing_middleware.wsgi"]
    server = h.start(h.unprivileged(argv),
                     env=_env(h, OS_TRACING_WSGI_APP=h.app, OS_TRACING_CONFIG_FILE=str(h.conf)),
                     logs=[root / "error_log"])
    _spread_stop_and_check(h, server, [str(root / "apachectl"), "graceful-stop"])
