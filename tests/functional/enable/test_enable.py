"""``os-tracing enable/disable`` on the real files of eight OpenStack projects."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request

import pytest
from paste import deploy

from tracing_middleware.enable import conf, paste
from tracing_middleware.enable.ini import IniError, parse
from tracing_middleware.testing import serve_wsgi

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "data", "openstack")

# project, paste file, app to load, a path through a traced pipeline
PASTE = [
    ("nova", "api-paste.ini", "osapi_compute", "/v2.1/servers"),
    ("cinder", "api-paste.ini", "osapi_volume", "/v3/volumes"),
    ("glance", "glance-api-paste.ini", "glance-api-keystone", "/v2/images"),
    ("neutron", "api-paste.ini", "neutron", "/v2.0/networks"),
    ("heat", "api-paste.ini", "heat-api", "/v1/stacks"),
    ("swift", "proxy-server.conf-sample", "main", "/v1/AUTH_test"),
]
CONFS = [("nova", "nova.conf"), ("neutron", "neutron.conf"), ("glance", "glance-api.conf"),
         ("keystone", "keystone.conf"), ("placement", "placement.conf")]


def _read(project, name):
    with open(os.path.join(DATA, project, name), newline="") as f:
        return f.read()


@pytest.mark.parametrize(("project", "name"), [(p, n) for p, n, _, _ in PASTE])
def test_paste_round_trip(project, name):
    """enable is idempotent and disable gives back the original bytes."""
    original = _read(project, name)
    enabled = paste.enable(original)
    assert enabled != original
    assert paste.enable(enabled) == enabled
    assert paste.disable(enabled) == original


@pytest.mark.parametrize(("project", "name"), [(p, n) for p, n, _, _ in PASTE])
def test_filter_goes_before_authentication(project, name):
    """In every pipeline: before the first auth/context filter, after request id/CORS."""
    enabled = paste.enable(_read(project, name))
    for entry in paste.pipelines(enabled):
        names = entry.value(enabled).split()
        assert names.count("tracing") == 1, names
        index = names.index("tracing")
        assert not any(re.search("auth|context|keystone", n) for n in names[:index]), names
        for early in ("request_id", "cors", "http_proxy_to_wsgi", "compute_req_id"):
            if early in names and names.index(early) < names.index(names[-1]):
                before_auth = [n for n in names if re.search("auth|context", n)]
                if not before_auth or names.index(early) < names.index(before_auth[0]):
                    assert names.index(early) < index, names


def test_filter_goes_before_glance_version_negotiation():
    """glance answers version discovery (GET /) in versionnegotiation: trace it too."""
    enabled = paste.enable(_read("glance", "glance-api-paste.ini"))
    for entry in paste.pipelines(enabled):
        names = entry.value(enabled).split()
        assert names[:3] == ["cors", "http_proxy_to_wsgi", "tracing"], names
        assert names[3] == "versionnegotiation", names


def _stand_ins(text):
    """Point factories of the (absent) services at small stand-ins; keep ours real."""
    out = []
    for line in text.splitlines(keepends=True):
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if sep and key in ("use", "paste.composite_factory", "paste.filter_factory",
                           "paste.app_factory") and "os-tracing" not in value \
                and "Paste#urlmap" not in value:
            if "pipeline_factory" in value:
                line = "use = call:tracing_middleware.testing:pipeline_composite_factory\n"
            elif key == "paste.composite_factory":
                line = "use = call:tracing_middleware.testing:urlmap_composite_factory\n"
            elif key == "paste.app_factory" or value.endswith("#proxy"):
                line = "paste.app_factory = tracing_middleware.testing:ok_app_factory\n"
            elif key == "use" and value.startswith("call:"):
                line = "use = call:tracing_middleware.testing:urlmap_composite_factory\n"
            else:
                line = ("paste.filter_factory = tracing_middleware.testing:"
                        "passthrough_filter_factory\n")
        out.append(line)
    return "".join(out)


@pytest.mark.parametrize(("project", "name", "app", "path"), PASTE)
def test_enabled_file_loads_and_traces_a_request(tmp_path, project, name, app, path):
    """The edited file loads with PasteDeploy and a request runs through our filter."""
    enabled = paste.enable(_read(project, name)).replace(
        "use = egg:os-tracing#tracing\n",
        f"use = egg:os-tracing#tracing\ntraceresponse = true\nintegrations =\n"
        f"exporters = sqlite:///{tmp_path}/e.db\n")
    ini = tmp_path / "paste.ini"
    ini.write_text(_stand_ins(enabled))
    wsgi_app = deploy.loadapp(f"config:{ini}", name=app)
    with serve_wsgi(wsgi_app) as server:
        with urllib.request.urlopen(f"{server.url}{path}", timeout=10) as response:
            assert response.status == 200
            # sampled, and the trace id is ours, so random (W3C Level 2)
            assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-03",
                                response.headers["traceresponse"] or "")


@pytest.mark.parametrize(("project", "name"), CONFS)
def test_config_round_trip_keeps_urls_exactly(project, name):
    """transport_url gains traced+ and nothing else changes; disable restores the bytes."""
    original = _read(project, name)
    enabled = conf.enable(original, service_name=f"{project}-api")
    assert conf.enable(enabled, service_name=f"{project}-api") == enabled
    assert conf.disable(enabled) == original
    before = [v for v in re.findall(r"(?m)^transport_url = (.*)$", original)]
    after = [v for v in re.findall(r"(?m)^transport_url = (.*)$", enabled)]
    assert after == ["traced+" + v for v in before]
    assert f"service_name = {project}-api" in enabled
    assert "#transport_url = rabbit://" in enabled or "#transport_url" not in original


def test_cli_dry_run_writes_nothing_and_shows_a_diff(tmp_path):
    """--dry-run prints a unified diff and leaves the files alone."""
    ini = tmp_path / "api-paste.ini"
    shutil.copy(os.path.join(DATA, "nova", "api-paste.ini"), ini)
    before = ini.read_bytes()
    out = subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", "enable",
                          "--paste-config", str(ini), "--dry-run"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "+use = egg:os-tracing#tracing" in out.stdout
    assert ini.read_bytes() == before


def test_cli_enable_then_disable_restores_files(tmp_path):
    """The commands themselves, atomically, both files, mode kept."""
    ini, cfg_file = tmp_path / "api-paste.ini", tmp_path / "nova.conf"
    shutil.copy(os.path.join(DATA, "nova", "api-paste.ini"), ini)
    shutil.copy(os.path.join(DATA, "nova", "nova.conf"), cfg_file)
    os.chmod(cfg_file, 0o640)
    originals = (ini.read_bytes(), cfg_file.read_bytes())
    base = [sys.executable, "-m", "tracing_middleware.cmd.main"]
    args = ["--paste-config", str(ini), "--config-file", str(cfg_file)]
    assert subprocess.run([*base, "enable", *args, "--service-name", "nova-api"],
                          capture_output=True, timeout=60).returncode == 0
    assert b"traced+rabbit://" in cfg_file.read_bytes()
    assert os.stat(cfg_file).st_mode & 0o777 == 0o640
    assert subprocess.run([*base, "disable", *args], capture_output=True,
                          timeout=60).returncode == 0
    assert (ini.read_bytes(), cfg_file.read_bytes()) == originals


def test_unparsable_file_is_left_untouched(tmp_path):
    """A file that is not INI: clear error naming file and line, no change."""
    ini = tmp_path / "broken.ini"
    ini.write_text("[pipeline:main]\npipeline = a b\nthis is not ini\n")
    before = ini.read_bytes()
    out = subprocess.run([sys.executable, "-m", "tracing_middleware.cmd.main", "enable",
                          "--paste-config", str(ini)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1
    assert f"{ini}:3" in out.stderr and "untouched" in out.stderr
    assert ini.read_bytes() == before
    with pytest.raises(IniError):
        parse(ini.read_text())


def test_disable_keeps_sections_appended_after_the_block():
    """A section devstack or an operator appends after [tracing] survives disable."""
    original = "[DEFAULT]\ntransport_url = rabbit://u:p@h:5672/\n"
    enabled = conf.enable(original, "nova-api")
    appended = enabled + "\n[placement]\nregion_name = RegionOne\n"
    assert conf.disable(appended) == original + "\n[placement]\nregion_name = RegionOne\n"


def test_disable_removes_options_set_inside_the_block():
    """iniset puts options under the [tracing] header, before our marker: removed too."""
    for original in ("[DEFAULT]\nx = 1\n", "[DEFAULT]\nx = 1"):
        enabled = conf.enable(original)
        header = "[tracing]\n"
        at = enabled.index(header) + len(header)
        edited = enabled[:at] + "exporters = sqlite:////tmp/t.db\n" + enabled[at:]
        edited = edited + "sampler = always_on\n"
        assert conf.disable(edited) == original
