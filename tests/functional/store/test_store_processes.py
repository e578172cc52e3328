"""The embedded store with several writer processes, a locked file and the CLI views."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from tracing_middleware.export.records import SpanEvent, SpanRecord
from tracing_middleware.export.store import SpanStore, StoreError


def _record(trace: int, span: int, parent: int | None = None, **kw) -> SpanRecord:
    values = dict(trace_id=f"{trace:032x}", span_id=f"{span:016x}",
                  parent_span_id=f"{parent:016x}" if parent else None, name=f"op{span}",
                  service="svc", kind="server" if parent is None else "internal",
                  start_time_unix_nano=1_700_000_000_000_000_000 + span * 1000,
                  duration_ns=1000 * (10 - span % 10))
    values.update(kw)
    return SpanRecord(**values)


_WRITER = """
import sys
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore
url, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = SpanStore.from_url(url)
batch = []
for i in range(count):
    span = worker * 100_000 + i + 1
    batch.append(SpanRecord(f"{worker * 100_000 + i // 10 + 1:032x}", f"{span:016x}", None,
                            "op", "svc", "server", 1_700_000_000_000_000_000 + i, 1000))
    if len(batch) == 50:
        store.write(batch)
        batch = []
store.write(batch)
store.close()
"""


def test_two_processes_write_at_once(tmp_path):
    """Two processes writing 2000 spans each at once: all stored once, file intact."""
    url = f"sqlite:///{tmp_path}/mp.db"
    SpanStore.from_url(url).write([_record(1, 1)])  # create the schema first
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, str(w), "2000"])
             for w in (1, 2)]
    assert [p.wait(120) for p in procs] == [0, 0]
    conn = sqlite3.connect(str(tmp_path / "mp.db"))
    try:
        assert conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == 4001
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_duplicate_spans_are_stored_once(tmp_path):
    """INSERT OR IGNORE: a span exported twice is one row."""
    store = SpanStore.from_url(f"sqlite:///{tmp_path}/d.db")
    assert store.write([_record(5, 1)]) == 1
    assert store.write([_record(5, 1)]) == 0
    assert len(store.get_trace(f"{5:032x}").spans) == 1
    store.close()


def test_locked_database_raises_store_error_and_stays_intact(tmp_path):
    """Another process holding the write lock: the write fails fast, nothing is corrupted."""
    path = tmp_path / "locked.db"
    store = SpanStore(str(path), busy_timeout_ms=100)
    store.write([_record(1, 1)])
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreError):
        store.write([_record(1, 2)])
    holder.execute("ROLLBACK")
    holder.close()
    assert store.write([_record(1, 3)]) == 1
    assert [s.span_id for s in store.get_trace(f"{1:032x}").spans] == [
        f"{1:016x}", f"{3:016x}"]
    store.close()


def test_round_trip_of_every_field(tmp_path):
    """Attributes, events, status and resource come back as written."""
    store = SpanStore.from_url(f"sqlite:///{tmp_path}/f.db")
    record = _record(9, 1, status="error", status_message="boom",
                     attributes={"a": 1, "b": [1, 2], "c": "x"},
                     events=(SpanEvent("exception", 5, {"exception.type": "E"}),),
                     resource={"service.name": "svc"})
    store.write([record])
    assert store.get_trace(f"{9:032x}").spans == [record]
    assert store.get_trace(f"{9:032x}"[:10]) is not None  # unique prefix
    store.close()


def _cli(*args, store):
    return subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", *args,
                           "--store", store], capture_output=True, text=True, timeout=60)


def test_trace_show_json_and_tree(tmp_path):
    """trace show prints the documented JSON schema and an indented tree."""
    url = f"sqlite:///{tmp_path}/cli.db"
    store = SpanStore.from_url(url)
    store.write([_record(7, 1), _record(7, 2, parent=1), _record(7, 3, parent=2,
                                                                 status="error")])
    store.close()
    trace_id = f"{7:032x}"
    out = _cli("trace", "show", trace_id, "--format", "json", store=url)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["trace_id"] == trace_id
    assert [s["span_id"] for s in doc["spans"]] == [f"{i:016x}" for i in (1, 2, 3)]
    assert set(doc["spans"][0]) >= {"span_id", "parent_span_id", "name", "service", "kind",
                                    "start_time_unix_nano", "duration_ns", "status",
                                    "attributes"}
    tree = _cli("trace", "show", trace_id, store=url).stdout.splitlines()
    assert tree[0].startswith("op1 [svc] server")
    assert tree[1].startswith("└─ op2 [svc] internal")
    assert tree[2].startswith("   └─ op3 [svc] internal") and tree[2].endswith("ERROR")
    listing = _cli("trace", "list", store=url).stdout
    assert trace_id in listing and "ERROR" in listing
    missing = _cli("trace", "show", "f" * 32, store=url)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_check_config_reports_problems(tmp_path):
    """check-config names each bad option and exits non-zero; a good file passes."""
    bad = tmp_path / "bad.conf"
    bad.write_text("[tracing]\nsampler = sometimes\nexporters = ftp://x\n")
    paste = tmp_path / "api-paste.ini"
    paste.write_text("[filter:tracing]\nuse = egg:os-tracing#tracing\nscope_manager = x\n")
    out = subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", "check-config",
                          "--config-file", str(bad), "--paste-config", str(paste)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "[tracing] sampler = 'sometimes'" in out.stderr
    assert "[tracing] exporters = 'ftp://x'" in out.stderr
    assert "[tracing] scope_manager = 'x'" in out.stderr
    good = tmp_path / "good.conf"
    good.write_text("[tracing]\nsampler = parentbased_traceidratio\nsampler_arg = 0.1\n")
    out = subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", "check-config",
                          "--config-file", str(good)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
