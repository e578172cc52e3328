"""Entry points, generated sample configuration and the exported surface."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from importlib.metadata import distribution

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


@pytest.mark.parametrize(("group", "name", "target"), [
    ("paste.filter_factory", "tracing", "tracing_middleware.filter:TracingFilter.factory"),
    ("oslo.messaging.drivers", "traced", "messaging_driver.driver:TracedDriver"),
    ("oslo.config.opts", "os_tracing", "tracing_middleware.opts:list_opts"),
    ("os_tracing.tracers", "opentelemetry",
     "tracing_middleware.plugins.opentelemetry:OpenTelemetryPlugin"),
    ("os_tracing.tracers", "opentelemetry-sdk",
     "tracing_middleware.plugins.opentelemetry_sdk:OpenTelemetrySDKPlugin"),
    ("os_tracing.tracers", "jaeger", "tracing_middleware.plugins.jaeger:JaegerPlugin"),
    ("os_tracing.tracers", "noop", "tracing_middleware.plugins.noop:NoopPlugin"),
    ("console_scripts", "os-tracing", "tracing_middleware.cmd.main:main"),
])
def test_entry_point_is_registered_and_loads(group, name, target):
    """Each public entry point is declared and resolves to an importable object.

    Looked up in os-tracing's own distribution, as ``egg:os-tracing#tracing`` is: other
    packages register names of their own in the same groups (oslo.middleware 8.2 has a
    ``tracing`` paste filter too).
    """
    found = {ep.name: ep for ep in distribution("os-tracing").entry_points
             if ep.group == group}
    assert name in found
    assert found[name].value == target
    assert found[name].load() is not None


def test_sample_config_is_current(tmp_path):
    """etc/os-tracing.conf.sample is what oslo-config-generator produces today."""
    out = tmp_path / "sample.conf"
    subprocess.run(
        [sys.executable, "-m", "oslo_config.generator", "--namespace", "os_tracing",
         "--wrap-width", "79", "--output-file", str(out)], check=True)
    with open(os.path.join(ROOT, "etc", "os-tracing.conf.sample")) as f:
        committed = f.read()
    assert out.read_text() == committed, "run: tox -e genconfig"


def test_list_opts_returns_copies():
    """list_opts hands out deep copies, so generators cannot mutate our options."""
    from tracing_middleware import opts

    (group, listed), = opts.list_opts()
    assert group == "tracing"
    assert [o.name for o in listed] == [o.name for o in opts.OPTS]
    assert all(a is not b for a, b in zip(listed, opts.OPTS, strict=True))


def test_hmac_keys_is_secret():
    """oslo.config masks hmac_keys in logs (secret=True)."""
    from tracing_middleware import opts

    assert {o.name for o in opts.OPTS if o.secret} == {"hmac_keys"}


@pytest.mark.parametrize("module", ["tracing_middleware", "messaging_driver"])
def test_exported_members_exist(module):
    """Every name in a package's __all__ is importable from it."""
    mod = importlib.import_module(module)
    for name in getattr(mod, "__all__", ()):
        assert hasattr(mod, name), name
