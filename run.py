#!/usr/bin/env python3
"""Quick start on a machine that has only Python 3 and pip: ``python3 run.py demo|test``.

Creates ``.venv`` with tox in it on first use, then delegates to ``tox -e demo`` or
``tox -e py3`` (any further arguments go to tox), so the two README commands are all a
newcomer types and CI runs exactly the same thing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
ENVS = {"demo": "demo", "test": "py3", "pep8": "pep8", "bench": "bench",
        "stress": "stress", "genconfig": "genconfig", "docs": "docs"}


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
    command = [*_tox(), "-e", ENVS[argv[0]], *argv[1:]]
    return subprocess.call(command, cwd=HERE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
