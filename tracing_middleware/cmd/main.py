"""``os-tracing``: look at traces, check configuration, run the demo and the policy server.

Subcommands live in their own modules, each exposing ``register(subparsers)``; a
subcommand whose optional dependencies are missing is simply absent from ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

LOG = logging.getLogger(__name__)

_SUBCOMMANDS = (
    "tracing_middleware.cmd.trace",
    "tracing_middleware.cmd.deps",
    "tracing_middleware.cmd.metrics",
    "tracing_middleware.cmd.check_config",
    "tracing_middleware.cmd.sampling",
    "tracing_middleware.cmd.demo",
    "tracing_middleware.cmd.serve",
    "tracing_middleware.cmd.enable",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="os-tracing",
        description="Distributed tracing for OpenStack services: views, checks, demo.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            LOG.debug("os-tracing: %s unavailable: %s", module_name, exc)
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
