"""Every engine draws trace and span ids from the one generator in spancontext."""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import pytest

from tracing_middleware import spancontext, tracer
from tracing_middleware.config import load_settings

ENGINES = sorted(ep.name for ep in entry_points(group="os_tracing.tracers"))


@pytest.fixture(params=ENGINES)
def tracing(request, tmp_path):
    return tracer.setup(load_settings(None, {
        "tracer": request.param, "sampler": "always_on", "integrations": "",
        "exporters": f"sqlite:///{tmp_path}/ids.db"}, environ={}))


def test_root_span_ids_come_from_the_shared_generator(tracing, monkeypatch):
    """Root and child ids are what spancontext's generator draws, in every engine."""
    drawn = iter(range(1, 100))
    monkeypatch.setattr(spancontext, "_getrandbits", lambda bits: next(drawn) << (bits - 8))
    root = tracing.start_span("root", parent=None)
    child = tracing.start_span("child", parent=root)
    root_context = tracing.span_context_of(root)
    child_context = tracing.span_context_of(child)
    assert (root_context.trace_id, root_context.span_id) == (1 << 120, 2 << 56)
    assert (child_context.trace_id, child_context.span_id) == (1 << 120, 3 << 56)
    child.finish()
    root.finish()


def test_a_forked_child_does_not_repeat_its_parents_ids(tracing):
    """A worker forked after setup (uwsgi, gunicorn with preload) draws ids of its own."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one root span's ids, then leave without cleanup
        try:
            context = tracing.span_context_of(tracing.start_span("child", parent=None))
            os.write(write_end, f"{context.trace_id} {context.span_id}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_ids = pipe.read().decode().split()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    span = tracing.start_span("parent", parent=None)
    context = tracing.span_context_of(span)
    assert int(child_ids[0]) != context.trace_id
    assert int(child_ids[1]) != context.span_id
    span.finish()
