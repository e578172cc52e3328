"""The span store across processes: concurrent writers, fork after open, a locked file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tracing_middleware.export import store as store_module
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore, StoreError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BASE = 1_700_000_000_000_000_000

# Each writer: open the store, say "ready", wait for "go" on stdin (so all write at
# once), write its own spans plus a block every writer shares, in batches of 50.
_WRITER = """
import sys
from tracing_middleware.export.records import SpanRecord
from tracing_middleware.export.store import SpanStore
url, worker, count, shared = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = SpanStore.from_url(url, busy_timeout_ms=30000)
store.list_traces(limit=1)  # open the connection before the start signal
print("ready", flush=True)
sys.stdin.readline()
def record(n):
    return SpanRecord(f"{n // 10 + 1:032x}", f"{n:016x}", None, "op", f"svc{worker}",
                      "server", 1_700_000_000_000_000_000 + n, 1000)
numbers = [worker * 1_000_000 + i for i in range(count)] + list(range(1, shared + 1))
for i in range(0, len(numbers), 50):
    store.write([record(n) for n in numbers[i:i + 50]])
store.close()
print("done", flush=True)
"""


def _span(trace: int, span_id: int) -> SpanRecord:
    return SpanRecord(f"{trace:032x}", f"{span_id:016x}", None, f"op{span_id}", "svc",
                      "server", BASE + span_id, 1000)


def _check(path: str) -> tuple[int, int, str, str]:
    conn = sqlite3.connect(path)
    try:
        return (conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0],
                conn.execute("SELECT COUNT(DISTINCT trace_id || span_id) FROM spans")
                .fetchone()[0],
                conn.execute("PRAGMA integrity_check").fetchone()[0],
                conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def test_processes_writing_at_once_store_every_span_exactly_once(tmp_path):
    """Three processes write 3000 own + 500 shared spans at once: all there, once each."""
    path = str(tmp_path / "mp.db")
    writers, count, shared = 3, 3000, 500
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, f"sqlite:///{path}", str(w),
                               str(count), str(shared)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
             for w in range(1, writers + 1)]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["ready"] * writers
        for p in procs:  # every writer is connected: release them together
            p.stdin.write("go\n")
            p.stdin.flush()
        assert [p.stdout.readline().strip() for p in procs] == ["done"] * writers
        assert [p.wait(120) for p in procs] == [0] * writers
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdin.close()
            p.stdout.close()
    expected = writers * count + shared
    assert _check(path) == (expected, expected, "ok", "wal")
    store = SpanStore(path)
    try:
        assert len(store.all_spans()) == expected
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_child_after_fork_opens_its_own_connection(tmp_path):
    """A child forked after the parent opened the store writes through a new connection,
    leaves the parent's one untouched, and the parent keeps working."""
    path = str(tmp_path / "fork.db")
    store = SpanStore(path)
    assert store.write([_span(1, 1)]) == 1
    parent_conn = store._conn
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report through the pipe, never return into pytest
        status = 1
        try:
            ok = (store.write([_span(1, 2)]) == 1 and store._conn is not parent_conn
                  and parent_conn in store_module._INHERITED)
            os.write(write_fd, b"ok" if ok else b"bad")
            status = 0
        except BaseException as exc:
            os.write(write_fd, repr(exc).encode()[:200])
        finally:
            os._exit(status)
    os.close(write_fd)
    try:
        report = os.read(read_fd, 256)
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert report == b"ok" and os.waitstatus_to_exitcode(status) == 0
    assert store._conn is parent_conn  # the parent's connection is still its own
    assert store.write([_span(1, 3)]) == 1
    assert [s.span_id for s in store.get_trace(f"{1:032x}").spans] == [
        f"{i:016x}" for i in (1, 2, 3)]
    store.close()
    assert _check(path)[2] == "ok"


def test_locked_database_raises_store_error_and_stays_intact(tmp_path):
    """Another connection holding BEGIN EXCLUSIVE: write raises StoreError once the busy
    timeout passes, nothing of the batch is stored, and later writes succeed."""
    path = str(tmp_path / "locked.db")
    store = SpanStore(path, busy_timeout_ms=50)
    store.write([_span(1, 1)])
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="locked"):
            store.write([_span(1, 2), _span(1, 3)])
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    assert store.write([_span(1, 4)]) == 1
    assert [s.span_id for s in store.get_trace(f"{1:032x}").spans] == [
        f"{1:016x}", f"{4:016x}"]
    store.close()
    assert _check(path) == (2, 2, "ok", "wal")


def test_open_reader_does_not_block_writers(tmp_path):
    """WAL: a reader in the middle of a read transaction does not stop a write."""
    path = str(tmp_path / "wal.db")
    store = SpanStore(path, busy_timeout_ms=50)
    store.write([_span(1, 1)])
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == 1
        assert store.write([_span(1, 2)]) == 1
        assert reader.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == 1  # snapshot
        reader.execute("COMMIT")
    finally:
        reader.close()
    store.close()
