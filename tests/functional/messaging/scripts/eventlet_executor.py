"""The traced+ driver under oslo.messaging's eventlet executor (argv[1] = bus URL).

Prints JSON: for each call, the trace id the endpoint saw (None when untraced) and the trace
id that was active at the caller.
"""

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402

warnings.simplefilter("ignore")

import oslo_messaging  # noqa: E402
from oslo_config import cfg  # noqa: E402

from messaging_driver.compat import register_oslo_messaging_opts  # noqa: E402
from tracing_middleware import opts, tracer  # noqa: E402

base = sys.argv[1]
conf = cfg.ConfigOpts()
conf([], project="eventlet-svc")
opts.register_opts(conf)
register_oslo_messaging_opts(conf)
conf.set_override("exporters", [f"sqlite:///{tempfile.mkdtemp()}/e.db"], group="tracing")
conf.set_override("integrations", ["eventlet"], group="tracing")
conf.set_override("scope_manager", "auto", group="tracing")
conf.set_override("sampler", "always_on", group="tracing")
transport = oslo_messaging.get_rpc_transport(conf, "traced+" + base)
seen = []


class Endpoint:
    def probe(self, ctxt, i):
        tracing = tracer.get_tracing()
        span = tracing.active_span()
        seen.append(tracing.span_context_of(span).trace_id_hex if span else None)
        return i


topic = f"ev-{uuid.uuid4().hex[:8]}"
server = oslo_messaging.get_rpc_server(transport, oslo_messaging.Target(topic=topic,
                                                                        server="s"),
                                       [Endpoint()], executor="eventlet")
server.start()
client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=topic),
                                       timeout=30)
tracing = tracer.get_tracing()
expected = []
for i in range(6):
    if i % 2 == 0:
        root = tracing.start_span(f"r{i}", parent=None)
        with tracing.activate(root, finish_on_close=True):
            client.call({}, "probe", i=i)
        expected.append(tracing.span_context_of(root).trace_id_hex)
    else:
        client.call({}, "probe", i=i)
        expected.append(None)
server.stop()
server.wait()
transport.cleanup()
print(json.dumps({"manager": tracing.scope_manager.name, "seen": seen,
                  "expected": expected}))
