"""RabbitMQ restarted while a traced call is in flight: the same outcome as the plain
driver (tox -e stress: it restarts the shared broker)."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import uuid

import oslo_messaging
import pytest
from oslo_config import cfg

from messaging_driver.compat import register_oslo_messaging_opts
from tracing_middleware import opts, tracer

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"


def _restart_broker():
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("rabbitmqctl not found")
    subprocess.run([ctl, "stop_app"], check=True, capture_output=True, timeout=120)
    subprocess.run([ctl, "start_app"], check=True, capture_output=True, timeout=120)


def _outcome(tmp_path, traced: bool):
    conf = cfg.ConfigOpts()
    conf([], project="restart")
    opts.register_opts(conf)
    register_oslo_messaging_opts(conf)
    conf.set_override("exporters", [f"sqlite:///{tmp_path}/r.db"], group="tracing")
    conf.set_override("integrations", [], group="tracing")
    transport = oslo_messaging.get_rpc_transport(conf, ("traced+" if traced else "") + RABBIT)
    entered, release = threading.Event(), threading.Event()

    class Endpoint:
        def slow(self, ctxt):
            entered.set()
            release.wait(120)
            return "done"

    topic = f"restart-{uuid.uuid4().hex[:8]}"
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=topic, server="s"), [Endpoint()],
        executor="threading")
    server.start()
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=topic),
                                           timeout=90)
    results: queue.Queue = queue.Queue()

    def call():
        tracing = tracer.from_config(conf) if traced else None
        try:
            if tracing is not None:
                with tracing.activate(tracing.start_span("root", parent=None),
                                      finish_on_close=True):
                    results.put(("ok", client.call({}, "slow")))
            else:
                results.put(("ok", client.call({}, "slow")))
        except Exception as exc:
            results.put(("error", type(exc).__name__))

    thread = threading.Thread(target=call)
    thread.start()
    assert entered.wait(60)
    _restart_broker()
    release.set()
    outcome = results.get(timeout=180)
    thread.join(10)
    server.stop()
    server.wait()
    transport.cleanup()
    return outcome


@pytest.mark.stress
@pytest.mark.rabbit
def test_broker_restart_outcome_matches_the_plain_driver(tmp_path):
    """Whatever the plain driver does across a restart, the traced one does too."""
    plain = _outcome(tmp_path, traced=False)
    traced = _outcome(tmp_path, traced=True)
    assert traced == plain
