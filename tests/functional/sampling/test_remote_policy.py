"""Central sampling over real HTTP: a policy endpoint serving recorded Jaeger and
OpenTelemetry Collector answers, ``os-tracing sampling serve``, and real peer clients."""

from __future__ import annotations

import http.server
import json
import logging
import os
import shutil
import subprocess
import sys
import threading

import pytest

from tracing_middleware.sampling.jaeger_remote import JaegerRemoteSampler
from tracing_middleware.sampling.server import SamplingServer

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


def _fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


class PolicyEndpoint:
    """A stand-alone HTTP endpoint whose answer the test switches between bodies/states."""

    def __init__(self) -> None:
        self.body = "{}"
        self.status = 200
        self.services: list[str] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                return None

            def do_GET(self):
                endpoint.services.append(self.path)
                data = endpoint.body.encode()
                self.send_response(endpoint.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/sampling"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    e = PolicyEndpoint()
    yield e
    e.close()


def _sampler(url, **kw):
    return JaegerRemoteSampler(url, "nova-api", start=False, **kw)


@pytest.mark.parametrize(("fixture", "describe"), [
    ("jaeger_string.json", "probabilistic (0.25)"),
    ("jaeger_legacy_numeric.json", "rate limiting (5.0 traces/s)"),
    ("otel_collector.json", "probabilistic (0.5)"),
    ("operations.json", "per-operation (default probability 0.01, lower bound 2.0/s, "
                        "2 operations)"),
])
def test_recorded_answers_are_applied(endpoint, fixture, describe):
    """Each recorded server answer becomes the policy; the service name is sent."""
    endpoint.body = _fixture(fixture)
    sampler = _sampler(endpoint.url, initial_rate=0.001)
    assert sampler.policy.describe() == "probabilistic (0.001)"  # before the first answer
    assert sampler.poll_once()
    assert sampler.policy.describe() == describe
    assert endpoint.services[-1] == "/sampling?service=nova-api"


def test_last_good_policy_survives_garbage_and_outage(endpoint, caplog):
    """Bad JSON, wrong shape, 500 and a dead server keep the last good policy; one log line
    per change of state."""
    caplog.set_level(logging.INFO, logger="tracing_middleware")
    endpoint.body = _fixture("jaeger_string.json")
    sampler = _sampler(endpoint.url, timeout_s=1)
    assert sampler.poll_once()
    for body, status in (("not json", 200), ('{"strategyType": "ADAPTIVE"}', 200),
                         ("{}", 500)):
        endpoint.body, endpoint.status = body, status
        assert not sampler.poll_once()
        assert sampler.policy.describe() == "probabilistic (0.25)"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and endpoint.url in warnings[0].getMessage()
    endpoint.body, endpoint.status = _fixture("otel_collector.json"), 200
    assert sampler.poll_once()
    assert sampler.policy.describe() == "probabilistic (0.5)"
    infos = [r for r in caplog.records if "available again" in r.getMessage()]
    assert len(infos) == 1
    endpoint.close()
    assert not sampler.poll_once()
    assert sampler.policy.describe() == "probabilistic (0.5)"


def test_policy_change_reaches_a_running_sampler_within_one_interval(endpoint):
    """With a 50 ms interval the background poller picks up a new answer."""
    endpoint.body = _fixture("jaeger_string.json")
    sampler = JaegerRemoteSampler(endpoint.url, "nova-api", interval_s=0.05)
    try:
        assert sampler.polled.wait(10)
        endpoint.body = _fixture("otel_collector.json")
        for _ in range(3):  # at most a poll in flight plus the next one
            sampler.polled.clear()
            assert sampler.polled.wait(10)
            if sampler.policy.rate == 0.5:
                break
        assert sampler.policy.describe() == "probabilistic (0.5)"
    finally:
        sampler.shutdown()


def test_forked_child_polls_on_its_own(endpoint):
    """After fork() the child's sampler keeps polling (its own thread)."""
    endpoint.body = _fixture("jaeger_string.json")
    sampler = JaegerRemoteSampler(endpoint.url, "nova-api", interval_s=0.05)
    try:
        assert sampler.polled.wait(10)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                before = len(endpoint.services)
                sampler.polled.clear()
                ok = sampler.polled.wait(10)
                os.write(write_fd, b"1" if ok and sampler._thread.is_alive() else b"0")
                del before
            finally:
                os._exit(0)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            assert pipe.read() == b"1"
        os.waitpid(pid, 0)
    finally:
        sampler.shutdown()


def test_strategies_file_edits_are_picked_up(tmp_path):
    """endpoint=file://: Jaeger's strategies format, re-read when the file changes."""
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps({"default_strategy": {"type": "probabilistic", "param": 0.1},
                                "service_strategies": [
                                    {"service": "nova-api", "type": "probabilistic",
                                     "param": 0.2}]}))
    sampler = _sampler(f"file://{path}")
    assert sampler.poll_once() and sampler.policy.rate == 0.2
    path.write_text(json.dumps({"default_strategy": {"type": "ratelimiting", "param": 5}}))
    os.utime(path, (1, 1))
    assert sampler.poll_once()
    assert sampler.policy.describe() == "rate limiting (5.0 traces/s)"


def test_default_operation_strategies_merge_into_services(tmp_path):
    """As Jaeger's static store: default operations apply unless the service overrides."""
    from tracing_middleware.sampling.strategies import response_for_service

    strategies = {"default_strategy": {"type": "probabilistic", "param": 0.5,
                                       "operation_strategies": [
                                           {"operation": "GET /", "type": "probabilistic",
                                            "param": 0.0},
                                           {"operation": "POST /", "type": "probabilistic",
                                            "param": 0.3}]},
                  "service_strategies": [{"service": "svc", "type": "probabilistic",
                                          "param": 0.8, "operation_strategies": [
                                              {"operation": "POST /",
                                               "type": "probabilistic", "param": 1.0}]}]}
    body = response_for_service(strategies, "svc")
    ops = {o["operation"]: o["probabilisticSampling"]["samplingRate"]
           for o in body["operationSampling"]["perOperationStrategies"]}
    assert ops == {"GET /": 0.0, "POST /": 1.0}
    assert body["operationSampling"]["defaultSamplingProbability"] == 0.8


@pytest.fixture
def policy_server(tmp_path):
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps({
        "default_strategy": {"type": "probabilistic", "param": 0.001},
        "service_strategies": [
            {"service": "nova-api", "type": "probabilistic", "param": 0.5},
            {"service": "neutron-server", "type": "ratelimiting", "param": 5},
            {"service": "glance-api", "type": "probabilistic", "param": 0.0,
             "operation_strategies": [{"operation": "POST /v2/images",
                                       "type": "probabilistic", "param": 1.0}]}]}))
    server = SamplingServer(str(path), "127.0.0.1", 0).start()
    yield server, path
    server.stop()


def test_sampling_serve_answers_and_reloads(policy_server):
    """sampling serve answers per service, 400 without one, and reloads the file."""
    server, path = policy_server
    sampler = JaegerRemoteSampler(server.url, "neutron-server", start=False)
    assert sampler.poll_once()
    assert sampler.policy.describe() == "rate limiting (5.0 traces/s)"
    status, _ = server.answer("/sampling")
    assert status == 400
    path.write_text(json.dumps({"default_strategy": {"type": "probabilistic",
                                                     "param": 0.3}}))
    os.utime(path, (2, 2))
    assert sampler.poll_once()
    assert sampler.policy.describe() == "probabilistic (0.3)"


def test_jaeger_client_applies_what_sampling_serve_says(policy_server):
    """A real jaeger-client RemoteControlledSampler fetches /sampling and applies it."""
    from jaeger_client.local_agent_net import LocalAgentSender
    from jaeger_client.sampler import ProbabilisticSampler, RemoteControlledSampler
    from threadloop import ThreadLoop

    server, _ = policy_server
    port = int(server.url.split(":")[-1].split("/")[0])
    loop = ThreadLoop()
    loop.start()
    try:
        channel = LocalAgentSender("127.0.0.1", port, 6831, io_loop=loop._io_loop)
        sampler = RemoteControlledSampler(channel=channel, service_name="nova-api",
                                          sampling_refresh_interval=0.1,
                                          init_sampler=ProbabilisticSampler(0.001))
        applied = threading.Event()

        def check():
            if isinstance(sampler.sampler, ProbabilisticSampler) and \
                    sampler.sampler.rate == 0.5:
                applied.set()

        for _ in range(100):
            loop.submit(sampler._poll_sampling_manager).result(10)
            check()
            if applied.wait(0.1):
                break
        assert applied.is_set(), sampler.sampler
        sampler.close()
    finally:
        loop.stop()


@pytest.mark.node
def test_opentelemetry_js_sampler_applies_what_sampling_serve_says(policy_server):
    """@opentelemetry/sampler-jaeger-remote fetches from sampling serve and applies it."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed")
    node_dir = os.path.join(HERE, "node")
    if not os.path.isdir(os.path.join(node_dir, "node_modules", "@opentelemetry",
                                      "sampler-jaeger-remote")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=node_dir,
                       check=True, capture_output=True, timeout=300)
    server, _ = policy_server
    base = server.url.rsplit("/sampling", 1)[0]
    out = subprocess.run([node, "fetch_policy.js", base, "glance-api", "POST /v2/images",
                          "GET /v2/images"], cwd=node_dir, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "ParentBased" in report["description"]  # no longer the initial AlwaysOff
    assert report["decisions"] == {"POST /v2/images": 200, "GET /v2/images": 0}


def test_sampling_show_command(policy_server):
    """os-tracing sampling show prints the policy and an operation's probability."""
    server, _ = policy_server
    out = subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", "sampling",
                          "show", "--service", "glance-api", "--sampler-arg",
                          f"endpoint={server.url}", "--operation", "POST /v2/images"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "operation 'POST /v2/images': 1.0" in out.stdout
