"""A fork the at-fork hook cannot see (one made from C) is still noticed by emit()."""

from __future__ import annotations

import os

from tracing_middleware.export.batch import BatchProcessor


def test_unseen_fork_is_noticed_within_256_spans_and_export_resumes():
    exported: list[object] = []

    def export(batch):
        exported.extend(batch)
        return True

    processor = BatchProcessor(export, name="t", max_queue_size=10_000, max_batch_size=10_000,
                               interval_s=3600)
    try:
        old_thread = processor._thread
        processor._pid = -1  # as a child made by a raw fork() would see it
        for i in range(256):
            processor.emit(i)
        assert processor._pid == os.getpid()
        assert processor._thread is not old_thread  # a worker of this process now
        # what was queued before is the parent's: dropped here, never sent twice; the span
        # whose emit noticed the fork is the child's own
        assert processor.queued == 1
        processor.emit("after")
        assert processor.force_flush(5)
        assert exported == [255, "after"]
    finally:
        processor.shutdown(1)
