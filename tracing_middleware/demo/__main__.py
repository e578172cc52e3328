"""``python -m tracing_middleware.demo`` is ``os-tracing demo``."""

import sys

from tracing_middleware.cmd.main import main

sys.exit(main(["demo", *sys.argv[1:]]))
