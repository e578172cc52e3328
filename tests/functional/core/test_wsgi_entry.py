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
