"""A fork that runs no Python fork hooks (uwsgi forks its workers in C) loses no span."""

from __future__ import annotations

import ctypes
import json
import os

import pytest

from tracing_middleware.export.batch import BatchProcessor


def _c_fork() -> int:
    """fork(2) straight from libc: no ``os.register_at_fork`` hook runs, as in uwsgi."""
    return ctypes.CDLL(None, use_errno=True).fork()


def _in_c_forked_child(emit_in_child, parent_items=()) -> list:
    """Run ``emit_in_child(processor)`` in a C-forked child; what the child exported."""
    exported: list = []

    def export(batch):
        exported.extend(batch)
        return True

    processor = BatchProcessor(export, name="t", max_queue_size=10_000,
                               max_batch_size=10_000, interval_s=3600)
    for item in parent_items:
        processor.emit(item)
    read_end, write_end = os.pipe()
    pid = _c_fork()
    if pid == 0:  # the child: report what it exported, then leave without cleanup
        try:
            os.close(read_end)
            emit_in_child(processor)
            processor.shutdown(5)
            os.write(write_end, json.dumps(exported).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        return json.loads(data)
    finally:
        processor.shutdown(1)


@pytest.mark.parametrize("count", [1, 3, 300])
def test_every_span_a_c_forked_child_queues_is_exported(count):
    """The child's first span and every later one is exported by the child itself."""
    def emit(processor):
        for i in range(count):
            processor.emit(i)

    assert _in_c_forked_child(emit) == list(range(count))


def test_parent_leftovers_never_cost_the_child_its_spans():
    """Spans the parent still had queued may be sent again; the child's are never lost."""
    def emit(processor):
        for i in range(100):
            processor.emit(i)

    exported = _in_c_forked_child(emit, parent_items=["parent"] * 5)
    assert [item for item in exported if item != "parent"] == list(range(100))


def test_check_fork_restarts_export_before_any_span():
    """check_fork() (uwsgi's post-fork hook) gives the child its own export thread."""
    def emit(processor):
        old = processor._thread
        processor.check_fork()
        assert processor._thread is not old and processor._pid == os.getpid()
        processor.emit("first")

    assert _in_c_forked_child(emit) == ["first"]
