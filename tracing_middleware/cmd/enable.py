"""``os-tracing enable|disable``: turn tracing on in the files an operator already has."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

__all__ = ["register", "write_atomically"]


def register(subparsers: Any) -> None:
    for name, help_text in (("enable", "add the tracing filter and traced+ transport URLs"),
                            ("disable", "remove exactly what enable added")):
        parser = subparsers.add_parser(name, help=help_text)
        parser.add_argument("--paste-config", action="append", default=[],
                            help="api-paste.ini (or swift proxy-server.conf); repeatable")
        parser.add_argument("--config-file", action="append", default=[],
                            help="the service's oslo.config file; repeatable")
        if name == "enable":
            parser.add_argument("--service-name", help="[tracing] service_name to set")
        parser.add_argument("--dry-run", action="store_true",
                            help="print a unified diff and write nothing")
        parser.set_defaults(func=_run, action=name)


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory, keeping the
    mode and (when permitted) the owner; readers see the old or the new file, never half."""
    info = os.stat(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".os-tracing-", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, info.st_mode & 0o7777)
        try:
            os.chown(tmp, info.st_uid, info.st_gid)
        except PermissionError:
            pass
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _edit(path: str, change: Callable[[str], str], dry_run: bool) -> bool:
    with open(path, newline="") as f:
        original = f.read()
    updated = change(original)
    if updated == original:
        print(f"{path}: unchanged")
        return False
    if dry_run:
        sys.stdout.writelines(difflib.unified_diff(
            original.splitlines(keepends=True), updated.splitlines(keepends=True),
            fromfile=path, tofile=path))
        return True
    write_atomically(path, updated)
    print(f"{path}: updated")
    return True


def _run(args: argparse.Namespace) -> int:
    from tracing_middleware.enable import conf, paste
    from tracing_middleware.enable.ini import IniError

    if not args.paste_config and not args.config_file:
        print("nothing to do: give --paste-config and/or --config-file", file=sys.stderr)
        return 2
    enabling = args.action == "enable"
    try:
        for path in args.paste_config:
            _edit(path, (lambda t, p=path: paste.enable(t, p)) if enabling
                  else (lambda t, p=path: paste.disable(t, p)), args.dry_run)
        for path in args.config_file:
            _edit(path, (lambda t, p=path: conf.enable(t, args.service_name, p)) if enabling
                  else (lambda t, p=path: conf.disable(t, p)), args.dry_run)
    except IniError as exc:
        print(f"error: {exc}; the file was left untouched", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
