"""Run under eventlet or gevent monkey patching (argv[1]); print what each unit of work saw.

Prints one JSON object: the scope manager 'auto' chose, the root span id, the parent ids of
spans created inside spawned work, and what untraced work saw afterwards.
"""

import json
import sys

MODEL = sys.argv[1]
if MODEL == "eventlet":
    import eventlet

    eventlet.monkey_patch()
else:
    from gevent import monkey

    monkey.patch_all()

import concurrent.futures  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402

from tracing_middleware import tracer  # noqa: E402
from tracing_middleware.config import load_settings  # noqa: E402

store = tempfile.mkdtemp()
integrations = "eventlet,threading" if MODEL == "eventlet" else "threading"
tracing = tracer.setup(load_settings(None, {
    "scope_manager": "auto", "integrations": integrations, "sampler": "always_on",
    "exporters": f"sqlite:///{store}/g.db"}, environ={}))
parents = []
untraced = []


def work(i=0):
    span = tracing.start_span(f"work-{i}")
    parents.append(f"{span.parent_id:016x}" if span.parent_id else None)
    span.finish()


def untraced_work(i=0):
    untraced.append(tracing.active_span() is None)


root = tracing.start_span("request", parent=None, kind="server")
with tracing.activate(root, finish_on_close=True):
    if MODEL == "eventlet":
        pool = eventlet.GreenPool(4)
        for i in range(4):
            pool.spawn(work, i)
        pool.waitall()
        list(pool.imap(work, range(2)))
        eventlet.spawn(work, 9).wait()
    else:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(work, range(2)))
if MODEL == "eventlet":
    pool = eventlet.GreenPool(4)
    for i in range(4):
        pool.spawn(untraced_work, i)
    pool.waitall()
else:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(untraced_work, range(4)))
print(json.dumps({"manager": tracing.scope_manager.name,
                  "root": tracing.span_context_of(root).span_id_hex,
                  "parents": parents, "untraced": untraced}))
