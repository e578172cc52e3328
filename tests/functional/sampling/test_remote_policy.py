"""``jaeger_remote`` over real HTTP on loopback: an endpoint the test controls serves
recorded Jaeger and OpenTelemetry Collector answers, garbage, errors, or hangs.

Synchronisation is by poll count (``wait_for_polls``), never by sleeping; intervals are
short and timeouts generous, and no assertion depends on how long anything took."""

from __future__ import annotations

import http.server
import json
import logging
import os
import threading
import urllib.parse

import pytest

from tracing_middleware.sampling import ParentBased, build_sampler
from tracing_middleware.sampling.jaeger_remote import JaegerRemoteSampler
from tracing_middleware.spancontext import SpanContext

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "unit", "sampling", "fixtures")
LOW64 = (1 << 64) - 1
WAIT = 10.0  # generous upper bound for any wait; never reached when things work


def _fixture(name: str) -> str:
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


class PolicyEndpoint:
    """A loopback HTTP endpoint whose answer the test switches: body, status or hang."""

    def __init__(self) -> None:
        self.body = _fixture("jaeger_sampling_string.json")
        self.status = 200
        self.hang = threading.Event()  # set: requests block until released
        self.release = threading.Event()
        self.requests: list[str] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                return None

            def do_GET(self):
                endpoint.requests.append(self.path)
                if endpoint.hang.is_set():
                    endpoint.release.wait(WAIT)
                data = endpoint.body.encode()
                try:
                    self.send_response(endpoint.status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sampling"

    def close(self) -> None:
        self.release.set()
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(WAIT)
        self.server.server_close()


@pytest.fixture
def endpoint():
    e = PolicyEndpoint()
    yield e
    e.close()


@pytest.fixture
def samplers():
    """Running samplers made by a test, shut down even when the test fails."""
    made: list[JaegerRemoteSampler] = []
    yield made
    for sampler in made:
        sampler.shutdown()


def _sampler(url: str, **kw) -> JaegerRemoteSampler:
    return JaegerRemoteSampler(url, "nova-api", start=False, **kw)


@pytest.mark.parametrize(("fixture", "describe"), [
    ("jaeger_sampling_string.json", "probabilistic (0.25)"),
    ("jaeger_legacy_numeric.json", "rate limiting (5.0 traces/s)"),
    ("otel_collector.json", "probabilistic (0.5)"),
    ("jaeger_operations.json", "per-operation (default probability 0.01, lower bound "
                               "2.0/s, 2 operations)"),
    ("jaeger_agent_snake_case.json", "per-operation (default probability 0.1, lower bound "
                                     "0.5/s, 1 operations)"),
])
def test_recorded_answers_are_applied(endpoint, fixture, describe):
    """Each recorded answer becomes the policy; the service name goes in ?service=."""
    endpoint.body = _fixture(fixture)
    sampler = _sampler(endpoint.url, initial_rate=0.001)
    assert sampler.policy.describe() == "probabilistic (0.001)"  # before the first answer
    assert sampler.poll_once()
    assert sampler.policy.describe() == describe
    assert endpoint.requests[-1] == "/sampling?service=nova-api"


def test_service_name_is_url_encoded_and_existing_query_kept(endpoint):
    """Service names with spaces/ampersands survive; an endpoint's own query is kept."""
    sampler = JaegerRemoteSampler(endpoint.url + "?tenant=a", "nova api&x", start=False)
    assert sampler.poll_once()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(endpoint.requests[-1]).query)
    assert query == {"tenant": ["a"], "service": ["nova api&x"]}


def test_operations_reach_should_sample_by_span_name(endpoint):
    """Per-operation answer end to end: span names pick their probability; the lower
    bound lets a 0-probability operation through twice (its initial credit) and no more."""
    endpoint.body = _fixture("jaeger_operations.json")
    sampler = _sampler(endpoint.url)
    assert sampler.poll_once()
    assert all(sampler.should_sample(None, LOW64, "POST /v2.1/servers").is_sampled
               for _ in range(100))
    kept = sum(sampler.should_sample(None, LOW64, "GET /v2.1/servers/{id}").is_sampled
               for _ in range(100))
    assert kept == 2
    assert "PerOperationSampler{default=TraceIdRatioBased{0.01}" in sampler.get_description()


def test_initial_rate_applies_until_the_first_answer(endpoint, samplers, caplog):
    """A hanging endpoint: the poller times out, the initial rate applies, one WARNING."""
    caplog.set_level(logging.INFO, logger="tracing_middleware")
    endpoint.hang.set()
    sampler = JaegerRemoteSampler(endpoint.url, "nova-api", interval_s=0.05,
                                  initial_rate=0.0, timeout_s=0.2)
    samplers.append(sampler)
    assert sampler.wait_for_polls(3, WAIT)
    assert sampler.failing
    assert sampler.policy.describe() == "probabilistic (0.0)"
    assert not sampler.should_sample(None, 1, "x").is_sampled
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert endpoint.url in warnings[0].getMessage()
    assert "timed out" in warnings[0].getMessage()


def test_last_good_policy_survives_garbage_errors_hangs_and_outage(endpoint, caplog):
    """Bad JSON, wrong shapes, out-of-range values, 500, a hang and a dead server keep the
    last good policy; one log line per change of state, never one per poll."""
    caplog.set_level(logging.INFO, logger="tracing_middleware")
    sampler = _sampler(endpoint.url, timeout_s=1.0)
    assert sampler.poll_once()
    assert not caplog.records  # ok from the start: nothing to report
    for body, status in (("not json", 200), ('{"strategyType": "ADAPTIVE"}', 200),
                         ('{"probabilisticSampling": {"samplingRate": 1.5}}', 200),
                         ("[1, 2]", 200), ("{}", 500), ("{}", 404)):
        endpoint.body, endpoint.status = body, status
        assert not sampler.poll_once()
        assert sampler.policy.describe() == "probabilistic (0.25)"
    endpoint.hang.set()
    assert not sampler.poll_once()
    assert sampler.policy.describe() == "probabilistic (0.25)"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert endpoint.url in warnings[0].getMessage()
    assert "not JSON" in warnings[0].getMessage()  # the reason of the first failure

    endpoint.hang.clear()
    endpoint.release.set()
    endpoint.body, endpoint.status = _fixture("otel_collector.json"), 200
    assert sampler.poll_once() and sampler.poll_once()
    assert sampler.policy.describe() == "probabilistic (0.5)"
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1 and "available again" in infos[0].getMessage()

    endpoint.close()
    assert not sampler.poll_once() and not sampler.poll_once()
    assert sampler.policy.describe() == "probabilistic (0.5)"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "refused" in warnings[1].getMessage().lower()


def test_policy_change_reaches_a_running_sampler_within_one_interval(endpoint, samplers):
    """A poll that starts after the change applies it: at most the poll in flight plus the
    next one, i.e. within one polling interval."""
    sampler = JaegerRemoteSampler(endpoint.url, "nova-api", interval_s=0.05)
    samplers.append(sampler)
    assert sampler.wait_for_polls(1, WAIT)
    assert sampler.policy.rate == 0.25
    endpoint.body = _fixture("jaeger_legacy_numeric.json")
    seen = sampler.polls
    assert sampler.wait_for_polls(seen + 2, WAIT)
    assert sampler.policy.describe() == "rate limiting (5.0 traces/s)"
    assert sampler.get_description().endswith("sampler=RateLimitingSampler{5.0}}")


def test_shutdown_stops_the_poller_even_mid_request(endpoint):
    """shutdown() joins the thread (a hanging request ends at the timeout), is idempotent,
    and the last policy keeps applying; after_fork() does not resurrect it."""
    sampler = JaegerRemoteSampler(endpoint.url, "nova-api", interval_s=0.05, timeout_s=0.3)
    assert sampler.wait_for_polls(1, WAIT)
    endpoint.hang.set()
    sampler.shutdown()
    sampler.shutdown()
    thread = sampler._thread
    assert thread is not None and not thread.is_alive()
    count = len(endpoint.requests)
    assert sampler.should_sample(None, LOW64, "x").is_sampled  # 0.25 policy: kept
    sampler.after_fork()
    assert sampler._thread is thread and not thread.is_alive()
    assert len(endpoint.requests) == count


def test_parent_based_shutdown_reaches_the_poller(endpoint):
    """build_sampler('parentbased_jaeger_remote') -> shutdown() stops its poller."""
    sampler = build_sampler("parentbased_jaeger_remote",
                            f"endpoint={endpoint.url},pollingIntervalMs=50", "nova-api")
    assert isinstance(sampler, ParentBased)
    remote = sampler.root
    assert isinstance(remote, JaegerRemoteSampler)
    assert remote.wait_for_polls(1, WAIT)
    sampler.shutdown()
    assert remote._thread is not None and not remote._thread.is_alive()
    # a sampled remote parent is honoured; a root span follows the served 0.25
    assert sampler.should_sample(SpanContext(1, 2, True), 1, "x").is_sampled
    assert not sampler.should_sample(None, 1, "x").is_sampled


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_polls_on_its_own(endpoint, samplers):
    """After fork() the child runs its own poller thread (via os.register_at_fork) and
    applies answers itself; the result comes back through a pipe."""
    sampler = JaegerRemoteSampler(endpoint.url, "nova-api", interval_s=0.05)
    samplers.append(sampler)
    assert sampler.wait_for_polls(1, WAIT)
    parent_thread = sampler._thread
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report, then leave without running pytest's teardown
        status = 1
        try:
            os.close(read_fd)
            child_thread = sampler._thread
            start = sampler.polls
            ok = sampler.wait_for_polls(start + 2, WAIT)
            sampler.after_fork()  # the tracer calls it too: must not start a second one
            report = {"ok": ok, "alive": bool(child_thread and child_thread.is_alive()),
                      "new_thread": child_thread is not parent_thread,
                      "same_after_second_call": sampler._thread is child_thread,
                      "policy": sampler.policy.describe(), "pid": os.getpid()}
            os.write(write_fd, json.dumps(report).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == {"ok": True, "alive": True, "new_thread": True,
                      "same_after_second_call": True, "policy": "probabilistic (0.25)",
                      "pid": pid}
    assert sampler._thread is parent_thread and parent_thread.is_alive()


def test_strategies_file_edits_are_picked_up(tmp_path, samplers):
    """endpoint=file://: Jaeger's strategies format, re-read when the file changes; a
    deleted or broken file keeps the last good policy."""
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps({"default_strategy": {"type": "probabilistic", "param": 0.1},
                                "service_strategies": [
                                    {"service": "nova-api", "type": "probabilistic",
                                     "param": 0.2}]}))
    sampler = JaegerRemoteSampler(f"file://{path}", "nova-api", interval_s=0.05)
    samplers.append(sampler)
    assert sampler.wait_for_polls(1, WAIT)
    assert sampler.policy.rate == 0.2
    path.write_text(json.dumps({"default_strategy": {"type": "ratelimiting", "param": 5}}))
    seen = sampler.polls
    assert sampler.wait_for_polls(seen + 2, WAIT)
    assert sampler.policy.describe() == "rate limiting (5.0 traces/s)"
    path.write_text("{broken")
    seen = sampler.polls
    assert sampler.wait_for_polls(seen + 2, WAIT)
    assert sampler.failing and sampler.policy.describe() == "rate limiting (5.0 traces/s)"
    path.unlink()
    seen = sampler.polls
    assert sampler.wait_for_polls(seen + 2, WAIT)
    assert sampler.failing and sampler.policy.describe() == "rate limiting (5.0 traces/s)"


def test_strategies_file_unchanged_is_not_reparsed(tmp_path):
    """An unchanged file is not re-read: buckets (rate limit credit) carry on."""
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps({"default_strategy": {"type": "ratelimiting", "param": 1}}))
    sampler = _sampler(f"file://{path}")
    assert sampler.poll_once()
    state = sampler._state
    assert sampler.poll_once()
    assert sampler._state is state
