"""The devstack plugin: shellcheck-clean, and each phase run against a temporary tree
with stand-ins for devstack's helpers (test_devstack.py runs it in devstack's own code)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
DATA = os.path.join(ROOT, "tests", "data", "openstack")
PLUGIN = os.path.join(ROOT, "devstack", "plugin.sh")
SETTINGS = os.path.join(ROOT, "devstack", "settings")


def test_shellcheck_is_clean():
    """plugin.sh and settings pass shellcheck."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed (.ci/run installs it: apt-get install "
                    "shellcheck)")
    out = subprocess.run([shellcheck, "-s", "bash", PLUGIN, SETTINGS], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout


@pytest.fixture
def tree(tmp_path):
    etc = tmp_path / "etc"
    for project, files in {"nova": ["api-paste.ini", "nova.conf"],
                           "glance": ["glance-api-paste.ini", "glance-api.conf"],
                           "keystone": ["keystone.conf"]}.items():
        (etc / project).mkdir(parents=True)
        for name in files:
            shutil.copy(os.path.join(DATA, project, name), etc / project / name)
    return tmp_path


def _phase(tree, *args, extra_env=None):
    script = (f"set -euo pipefail\nsource {HERE}/stubs.sh\nsource {SETTINGS}\n"
              f"source {PLUGIN} {' '.join(args)}\n")
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    etc = tree / "etc"
    env = dict(os.environ, PATH=path, DEST=str(tree), DATA_DIR=str(tree / "data"),
               OS_TRACING_TEST_BIN=os.path.dirname(sys.executable),
               NOVA_CONF_DIR=str(etc / "nova"), NOVA_CONF=str(etc / "nova/nova.conf"),
               NOVA_API_PASTE_INI=str(etc / "nova/api-paste.ini"),
               GLANCE_API_CONF=str(etc / "glance/glance-api.conf"),
               GLANCE_API_PASTE_INI=str(etc / "glance/glance-api-paste.ini"),
               KEYSTONE_CONF=str(etc / "keystone/keystone.conf"),
               KEYSTONE_PUBLIC_UWSGI_CONF=str(etc / "keystone/keystone-uwsgi-public.ini"),
               STUB_LOG=str(tree / "stub.log"),
               ENABLED_SERVICES="nova,glance,keystone",
               OS_TRACING_SERVICES="nova glance keystone cinder", **(extra_env or {}))
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return (tree / "stub.log").read_text() if (tree / "stub.log").exists() else ""


def test_every_phase(tree):
    """install -> post-config -> extra -> unstack -> clean, checked file by file."""
    originals = {p: p.read_bytes() for p in (tree / "etc").rglob("*") if p.is_file()}
    log = _phase(tree, "stack", "install")
    assert f"setup_develop {tree}/os-tracing" in log
    keystone = (tree / "etc/keystone/keystone.conf").read_text()
    assert "transport_url = traced+rabbit://keystone:pw@192.0.2.10:5672/" in keystone
    _phase(tree, "stack", "post-config", extra_env={
        "OS_TRACING_SAMPLING_STRATEGIES": "/etc/os-tracing/strategies.json"})
    paste = (tree / "etc/nova/api-paste.ini").read_text()
    assert "osprofiler tracing authtoken keystonecontext" in paste
    assert "use = egg:os-tracing#tracing" in paste
    nova = (tree / "etc/nova/nova.conf").read_text()
    assert "transport_url = traced+rabbit://nova:s3cret%40pw@rabbit1:5672," in nova
    assert "service_name" not in nova  # shared by several processes: named per process
    assert f"exporters = sqlite:///{tree}/data/os-tracing/traces.db" in nova
    assert "sampler = parentbased_jaeger_remote" in nova
    assert "sampler_arg = endpoint=http://127.0.0.1:5778/sampling" in nova
    glance = (tree / "etc/glance/glance-api-paste.ini").read_text()
    assert "tracing versionnegotiation" in glance  # version discovery is traced too
    log = _phase(tree, "stack", "install", extra_env={
        "OS_TRACING_UI": "True", "OS_TRACING_SAMPLING_STRATEGIES": "/tmp/s.json"})
    cli = os.path.join(os.path.dirname(sys.executable), "os-tracing")
    assert f"run_process os-tracing-ui :: {cli} serve --store sqlite:///{tree}" in log
    assert f"run_process os-tracing-sampling :: {cli} sampling serve --strategies " \
           "/tmp/s.json --port 5778" in log
    log = _phase(tree, "unstack")
    assert "stop_process os-tracing-ui" in log
    _phase(tree, "clean")
    for path, content in originals.items():
        assert path.read_bytes() == content, path
