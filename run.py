#!/usr/bin/env python3
"""Quick start on a machine that has only Python 3 and pip: ``python3 run.py demo|test``.

Creates ``.venv`` with tox in it on first use, then delegates to ``tox -e demo`` or
``tox -e py3`` (any further arguments go to tox), so the two README commands are all a
newcomer types and CI runs exactly the same thing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
ENVS = {"demo": "demo", "test": "py3", "pep8": "pep8", "bench": "bench",
        "stress": "stress", "genconfig": "genconfig", "docs": "docs",
        "openstack": "openstack", "devstack": "devstack"}

#: Programs the tests drive, by the Debian package that provides each: headless Chromium
#: for the web UI, shellcheck for the devstack plugin, wrk for the benchmark smoke test,
#: and Apache with its development files (the PyPI mod_wsgi package compiles against
#: them) for the mod_wsgi tests.
SYSTEM_TOOLS = {"chromium": "chromium", "chromedriver": "chromium-driver",
                "shellcheck": "shellcheck", "wrk": "wrk", "apxs": "apache2-dev",
                "apache2": "apache2-bin"}
NEEDS_TOOLS = {"test", "openstack", "bench"}


def _missing_tools() -> list[str]:
    # apache2 lives in /usr/sbin, which a non-root PATH may not hold.
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    return sorted({package for tool, package in SYSTEM_TOOLS.items()
                   if shutil.which(tool, path=path) is None})


def _install_tools() -> str | None:
    """Install missing system tools with apt-get when we may; else say what to install."""
    missing = _missing_tools()
    if not missing:
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        ok = (subprocess.call(["apt-get", "update", "-qq"], env=env) == 0
              and subprocess.call(["apt-get", "install", "-y", "-qq", *missing],
                                  env=env) == 0)
        if ok and not _missing_tools():
            return None
    return ("run.py: the tests need these system packages, install them first: "
            f"sudo apt-get install {' '.join(_missing_tools())}")


def _tox() -> list[str]:
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        venv.EnvBuilder(with_pip=True).create(VENV)
    probe = subprocess.run([python, "-c", "import tox"], capture_output=True)
    if probe.returncode != 0:
        subprocess.check_call([python, "-m", "pip", "install", "--quiet", "tox>=4.11"])
    return [python, "-m", "tox"]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ENVS:
        print(f"usage: python3 run.py {{{'|'.join(ENVS)}}} [tox args...]", file=sys.stderr)
        return 2
    if argv[0] in NEEDS_TOOLS:
        problem = _install_tools()
        if problem:
            print(problem, file=sys.stderr)
            return 1
    command = [*_tox(), "-e", ENVS[argv[0]], *argv[1:]]
    return subprocess.call(command, cwd=HERE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
