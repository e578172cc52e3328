"""The devstack plugin: shellcheck-clean, and each phase run against a temporary tree."""

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
    env = dict(os.environ, PATH=path, DEST=str(tree), DATA_DIR=str(tree / "data"),
               OS_TRACING_ETC=str(tree / "etc"), STUB_LOG=str(tree / "stub.log"),
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
    _phase(tree, "stack", "post-config", extra_env={
        "OS_TRACING_SAMPLING_STRATEGIES": "/etc/os-tracing/strategies.json"})
    paste = (tree / "etc/nova/api-paste.ini").read_text()
    assert "osprofiler tracing authtoken keystonecontext" in paste
    assert "use = egg:os-tracing#tracing" in paste
    nova = (tree / "etc/nova/nova.conf").read_text()
    assert "transport_url = traced+rabbit://nova:s3cret%40pw@rabbit1:5672," in nova
    assert "service_name = nova-api" in nova
    assert f"exporters = sqlite:///{tree}/data/os-tracing/traces.db" in nova
    assert "sampler = parentbased_jaeger_remote" in nova
    assert "sampler_arg = endpoint=http://127.0.0.1:5778/sampling" in nova
    glance = (tree / "etc/glance/glance-api-paste.ini").read_text()
    assert "tracing authtoken" in glance
    keystone = (tree / "etc/keystone/keystone.conf").read_text()
    assert "transport_url = traced+rabbit://keystone:pw@192.0.2.10:5672/" in keystone
    log = _phase(tree, "stack", "extra", extra_env={
        "OS_TRACING_UI": "True", "OS_TRACING_SAMPLING_STRATEGIES": "/tmp/s.json"})
    assert f"run_process os-tracing-ui :: os-tracing serve --store sqlite:///{tree}" in log
    assert "run_process os-tracing-sampling :: os-tracing sampling serve --strategies " \
           "/tmp/s.json --port 5778" in log
    log = _phase(tree, "unstack")
    assert "stop_process os-tracing-ui" in log
    _phase(tree, "clean")
    for path, content in originals.items():
        after = path.read_bytes()
        if path.suffix == ".ini":
            assert after == content, path  # paste files: byte for byte
        else:
            assert b"traced+" not in after, path  # iniset-set options remain, as devstack
