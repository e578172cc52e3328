"""tracing_middleware.wsgi wraps an application named in the environment."""

from __future__ import annotations

import subprocess
import sys


def test_wsgi_entry_point_wraps_the_named_app(tmp_path):
    """OS_TRACING_WSGI_APP + OS_TRACING_CONFIG_FILE: the app answers through the filter."""
    conf = tmp_path / "svc.conf"
    conf.write_text(f"[tracing]\ntraceresponse = true\nintegrations =\n"
                    f"exporters = sqlite:///{tmp_path}/w.db\n")
    code = """
import wsgiref.util
from tracing_middleware import wsgi
seen = {}
def start(status, headers, exc_info=None):
    seen.update(headers)
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v3/auth/tokens"}
wsgiref.util.setup_testing_defaults(environ)
body = wsgi.application(environ, start)
print(b"".join(body).decode(), seen.get("traceresponse", "")[:3])
"""
    env = {"OS_TRACING_WSGI_APP": "tracing_middleware.demo.apps:_versions",
           "OS_TRACING_CONFIG_FILE": str(conf), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("00-")
    assert '"versions"' in out.stdout


def test_wsgi_entry_point_takes_the_app_from_the_request_environ(tmp_path):
    """mod_wsgi's SetEnv reaches the request environ, not os.environ: the first request
    names the application; ``application`` is in the module dict before any request."""
    conf = tmp_path / "svc.conf"
    conf.write_text(f"[tracing]\ntraceresponse = true\nintegrations =\n"
                    f"exporters = sqlite:///{tmp_path}/w.db\n")
    code = f"""
import wsgiref.util
from tracing_middleware import wsgi
assert "application" in vars(wsgi) and wsgi._app is None
seen = {{}}
def start(status, headers, exc_info=None):
    seen.update(headers)
environ = {{"REQUEST_METHOD": "GET", "PATH_INFO": "/",
           "OS_TRACING_WSGI_APP": "tracing_middleware.demo.apps:_versions",
           "OS_TRACING_CONFIG_FILE": {str(conf)!r}}}
wsgiref.util.setup_testing_defaults(environ)
body = wsgi.application(environ, start)
print(b"".join(body).decode(), seen.get("traceresponse", "")[:3])
"""
    out = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("00-")


def test_wsgi_entry_point_without_a_target_names_the_variable():
    """No OS_TRACING_WSGI_APP anywhere: the error says what to set."""
    code = """
from tracing_middleware import wsgi
try:
    wsgi.application({"REQUEST_METHOD": "GET"}, lambda *a: None)
except RuntimeError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    assert "set OS_TRACING_WSGI_APP=module:attribute" in out.stdout, out.stderr
