"""The embedded store under a full disk and a crash mid-write: requests carry on, spans
are dropped and counted, and the database is never corrupted."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time

FULL_DISK = """
import json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
from tracing_middleware import tracer
from tracing_middleware.config import load_settings
t = tracer.setup(load_settings(None, {"exporters": sys.argv[1], "integrations": "",
    "sampler": "always_on", "export_batch_size": "50", "max_queue_size": "50"},
    environ={}))
t.start_span("before", parent=None).finish()
assert t.force_flush(10)
# From here on the process may not grow any file: the disk is "full".
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
ok = 0
for i in range(300):
    span = t.start_span(f"req-{i}", parent=None, tags={"pad": "x" * 2000})
    span.finish()
    ok += 1
flushed = t.force_flush(5)
print(json.dumps({"requests": ok, "flushed": flushed,
                  "dropped": t.plugin.dropped_spans()}), flush=True)
"""

CRASH = """
import sys
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore
store = SpanStore.from_url(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    store.write([SpanRecord(f"{i + 1:032x}", f"{i * 100 + j + 1:016x}", None, "op", "svc",
                            "server", i, 1) for j in range(100)])
    i += 1
"""


def test_full_disk_costs_spans_not_requests(tmp_path):
    """Every request-side span call succeeds; the failed writes are counted as dropped."""
    import json

    path = tmp_path / "full.db"
    out = subprocess.run([sys.executable, "-c", FULL_DISK, f"sqlite:///{path}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["requests"] == 300
    assert report["flushed"] is False
    assert report["dropped"] > 0
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT name FROM spans").fetchall() == [("before",)]
    finally:
        conn.close()


def test_crash_mid_write_loses_at_most_the_batch_in_flight(tmp_path):
    """SIGKILL during writes: the file is intact and holds only whole batches."""
    path = tmp_path / "crash.db"
    proc = subprocess.Popen([sys.executable, "-c", CRASH, f"sqlite:///{path}"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    conn = sqlite3.connect(path, timeout=30)
    try:
        deadline = time.monotonic() + 60  # readiness poll: some batches have landed
        pause = threading.Event()
        while time.monotonic() < deadline:
            try:
                if conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0] >= 500:
                    break
            except sqlite3.OperationalError:
                pass
            pause.wait(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    finally:
        conn.close()
    assert count >= 500 and count % 100 == 0
