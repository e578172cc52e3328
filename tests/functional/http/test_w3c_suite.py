"""The W3C Trace Context test suite, Level 2 and strict, against the paste filter.

The service is what the suite asks for: the filter around an app that calls every URL it
is given with ``requests`` (traced by the requests integration), so each test sees what
the filter extracted and what the integration injected on the way out.
"""

from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys

from tracing_middleware.filter import TracingFilter
from tracing_middleware.testing import serve_wsgi, w3c_conformance_app

SUITE = pathlib.Path(__file__).parent / "w3c_suite"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_level_2_test_passes():
    """41 tests, none failing, none skipped: Level 1, Level 1 advanced and Level 2."""
    app = TracingFilter.factory({}, integrations="requests", exporters="console://",
                                sampler="parentbased_always_on")(w3c_conformance_app)
    with serve_wsgi(app) as service:
        env = {**os.environ, "SPEC_LEVEL": "2", "STRICT_LEVEL": "2",
               "HARNESS_PORT": str(_free_port()), "HARNESS_HOST": "127.0.0.1"}
        run = subprocess.run([sys.executable, "test.py", f"{service.url}/test"], cwd=SUITE,
                             env=env, capture_output=True, text=True, timeout=300)
    report = run.stderr
    failed = re.findall(r"^(?:FAIL|ERROR): (\S+)", report, re.MULTILINE)
    assert failed == [], report[-3000:]
    assert re.search(r"^Ran 41 tests", report, re.MULTILINE), report[-3000:]
    assert "skipped" not in report.rsplit("Ran ", 1)[-1], report[-3000:]
    assert run.returncode == 0, report[-3000:]
