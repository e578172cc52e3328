"""The plugin inside devstack's real shell code: the files devstack's own configure_*
functions write, the plugin's phases in stack.sh's order, devstack's run_process writing
the systemd units, then unstack and clean. The devstack tree is never part of this
repository: OS_TRACING_DEVSTACK_DIR names a checkout or a bare git directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.devstack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
HARNESS = os.path.join(HERE, "harness.sh")
VENV = os.path.dirname(os.path.dirname(os.path.abspath(sys.executable)))
CELL1 = "5b5ba2f4-7a44-4a0e-9d1e-bd5cbd1b1ad3"  # what harness.sh's nova-manage prints


@pytest.fixture(scope="module")
def devstack(tmp_path_factory):
    source = os.environ.get("OS_TRACING_DEVSTACK_DIR")
    if not source:
        pytest.fail("OS_TRACING_DEVSTACK_DIR is not set: point it at a devstack checkout "
                    "or bare git directory (github:openstack/devstack)", pytrace=False)
    tree = tmp_path_factory.mktemp("devstack") / "devstack"
    if os.path.isfile(os.path.join(source, "functions")):
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns(".git"))
    else:
        tree.mkdir()
        archive = subprocess.run(["git", "--git-dir", source, "archive", "HEAD"],
                                 capture_output=True, check=True, timeout=120)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True,
                       timeout=120)
    return tree


def _localrc(devstack, root, extra):
    (devstack / "localrc").write_text("\n".join([
        f"DEST={root}/opt/stack", f"DATA_DIR={root}/opt/stack/data", "HOST_IP=127.0.0.1",
        "SERVICE_HOST=127.0.0.1", "ADMIN_PASSWORD=secret", "DATABASE_PASSWORD=secret",
        "RABBIT_PASSWORD=secret", "SERVICE_PASSWORD=secret", "STACK_USER=$(whoami)",
        f"KEYSTONE_CONF_DIR={root}/etc/keystone", "GLOBAL_VENV=True",
        f"DEVSTACK_VENV={VENV}", "ENABLED_SERVICES=key,n-api,n-api-meta,n-cond,n-sch,"
        "n-cpu,placement-api,placement-client,g-api,rabbit,mysql",
        f"enable_plugin os-tracing file://{ROOT}", *extra, ""]))


def _run(devstack, root, command):
    env = dict(os.environ, DS=str(devstack), ROOT=str(root), REPO=ROOT, VENV=VENV)
    out = subprocess.run(["bash", HARNESS, command], env=env, capture_output=True,
                         text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and f"harness: {command} done" in out.stdout, \
        out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def _ini(path):
    """uwsgi ini lines as (key, value), in order (keys repeat: env)."""
    pairs = []
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(" = ")
        if sep and not key.startswith("#"):
            pairs.append((key.strip(), value.strip()))
    return pairs


def _files(directory):
    return {p.relative_to(directory): p.read_bytes()
            for p in directory.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def stacked(devstack, tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    (root / "opt/stack").mkdir(parents=True)
    os.symlink(ROOT, root / "opt/stack/os-tracing")
    strategies = root / "strategies.json"
    strategies.write_text('{"default_strategy": {"type": "probabilistic", "param": 1}}')
    _localrc(devstack, root, ["OS_TRACING_UI=True",
                              f"OS_TRACING_SAMPLING_STRATEGIES={strategies}"])
    _run(devstack, root, "stack")
    return root


def test_keystone_and_placement_load_the_wrapper(stacked):
    """devstack's uwsgi inis load tracing_middleware.wsgi with the original module."""
    etc = stacked / "etc"
    for ini, target, conf, name in (
            ("keystone/keystone-uwsgi-public.ini", "keystone.wsgi.api:application",
             "keystone/keystone.conf", "keystone"),
            ("placement/placement-uwsgi.ini", "placement.wsgi.api:application",
             "placement/placement.conf", "placement-api")):
        pairs = _ini(etc / ini)
        assert ("module", "tracing_middleware.wsgi:application") in pairs, ini
        assert [k for k, _ in pairs].count("module") == 1
        assert not any(k == "wsgi-file" for k, _ in pairs)
        assert ("env", f"OS_TRACING_WSGI_APP={target}") in pairs
        assert ("env", f"OS_TRACING_CONFIG_FILE={etc / conf}") in pairs
        assert ("env", f"OTEL_SERVICE_NAME={name}") in pairs
        # the snapshot devstack wrote had the module itself
        assert ("module", target) in _ini(stacked / "snap-install" / ini)


def test_keystone_is_traced_before_it_starts(stacked):
    """keystone.conf and its ini were edited at 'stack install', before start_keystone."""
    calls = (stacked / "calls.log").read_text()
    assert calls.index("setup_develop") < calls.index("devstack@keystone.service")
    keystone = (stacked / "etc/keystone/keystone.conf").read_text()
    assert "transport_url = traced+rabbit://stackrabbit:secret@127.0.0.1:5672/" in keystone
    assert "sampler = parentbased_jaeger_remote" in keystone


def test_nova_processes_are_named_and_cells_traced(stacked):
    """Distinct names per uwsgi app; cell confs, the cell mapping and nova-cpu.conf."""
    etc = stacked / "etc/nova"
    assert ("env", "OTEL_SERVICE_NAME=nova-api") in _ini(etc / "nova-api-uwsgi.ini")
    meta = _ini(etc / "nova-metadata-uwsgi.ini")
    assert ("env", "OTEL_SERVICE_NAME=nova-metadata") in meta
    assert ("module", "nova.wsgi.metadata:application") in meta  # paste pipeline: no wrap
    cell = "traced+rabbit://stackrabbit:secret@127.0.0.1:5672/nova_cell1"
    assert f"transport_url = {cell}" in (etc / "nova_cell1.conf").read_text()
    assert "rabbit://" in (stacked / "snap-post-config/nova/nova_cell1.conf").read_text()
    calls = (stacked / "calls.log").read_text()
    assert f"cell_v2 update_cell --cell_uuid {CELL1} --transport-url {cell}" in calls
    cpu = (etc / "nova-cpu.conf").read_text()
    assert f"transport_url = {cell}" in cpu  # superconductor: the cell's vhost
    assert "transport_url = rabbit://" in (stacked / "snap-extra/nova/nova-cpu.conf"
                                           ).read_text()
    assert calls.index("systemctl restart devstack@n-cpu.service") > calls.index(
        "devstack@n-cpu.service")
    paste = (etc / "api-paste.ini").read_text()
    assert "use = egg:os-tracing#tracing" in paste
    assert "service_name" not in (etc / "nova.conf").read_text()


def test_servers_start_with_absolute_paths(stacked):
    """devstack's run_process accepted the commands and wrote their systemd units."""
    cli = os.path.join(VENV, "bin", "os-tracing")
    ui = (stacked / "systemd/devstack@os-tracing-ui.service").read_text()
    assert f"ExecStart = {cli} serve --store sqlite:///{stacked}/opt/stack/data/" in ui
    sampling = (stacked / "systemd/devstack@os-tracing-sampling.service").read_text()
    assert f"ExecStart = {cli} sampling serve --strategies {stacked}/strategies.json" \
        in sampling
    assert (stacked / "opt/stack/data/os-tracing").is_dir()


def test_the_real_cli_accepts_what_the_plugin_wrote(stacked):
    """os-tracing check-config loads each traced conf and paste file."""
    cli = os.path.join(VENV, "bin", "os-tracing")
    etc = stacked / "etc"
    for args in (["--config-file", str(etc / "keystone/keystone.conf")],
                 ["--config-file", str(etc / "nova/nova.conf"),
                  "--paste-config", str(etc / "nova/api-paste.ini")]):
        out = subprocess.run([cli, "check-config", *args], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr


def test_unstack_and_clean_restore_every_file(devstack, stacked):
    """Byte for byte: what devstack wrote before each phase that edited it."""
    _run(devstack, stacked, "unstack")
    after_unstack = _files(stacked / "etc")
    _run(devstack, stacked, "clean")
    after = _files(stacked / "etc")
    assert after == after_unstack  # clean after unstack changes nothing
    install, post = _files(stacked / "snap-install"), _files(stacked / "snap-post-config")
    for path, content in post.items():
        expected = install[path] if path.parts[0] == "keystone" else content
        assert after[path] == expected, path
    cpu = after[next(p for p in after if p.name == "nova-cpu.conf")]
    assert b"traced+" not in cpu and b"[tracing]" not in cpu
    cell = "rabbit://stackrabbit:secret@127.0.0.1:5672/nova_cell1"
    calls = (stacked / "calls.log").read_text()
    last_update = calls.rsplit("update_cell", 1)[-1]
    assert f" --cell_uuid {CELL1} --transport-url {cell}\n" in last_update
    assert "systemctl stop devstack@os-tracing-ui.service" in calls
    assert not any((stacked / "opt/stack/data/os-tracing/devstack").iterdir())
