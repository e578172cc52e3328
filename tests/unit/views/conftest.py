"""What the CLI tests share: running a command in-process."""

from __future__ import annotations

from tracing_middleware.cmd import main as main_cmd


def run(*argv: str) -> int:
    """``os-tracing ARGV`` through the real parser, so each command's registration is
    tested too; its exit status."""
    args = main_cmd.build_parser().parse_args(list(argv))
    return args.func(args)
