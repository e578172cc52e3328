"""``os-tracing check-config``: find the problems a service would log, before deploy.

It loads options exactly as the edges do (config files, then each paste ``[filter:...]``
section that uses our filter) and also builds the propagator, the sampler and the engine,
so an unknown engine or a bad ``sampler_arg`` is reported here rather than in production.
"""

from __future__ import annotations

import argparse
import configparser
import sys
from typing import Any

__all__ = ["check", "register"]

_FILTER_USES = ("egg:os-tracing#tracing", "egg:os_tracing#tracing")
_FACTORY = "tracing_middleware.filter:TracingFilter.factory"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-config", help="validate [tracing] options in config and paste files",
        description=__doc__)
    parser.add_argument("--config-file", action="append", default=[],
                        help="oslo.config file (repeatable)")
    parser.add_argument("--config-dir", action="append", default=[],
                        help="oslo.config directory (repeatable)")
    parser.add_argument("--paste-config", action="append", default=[],
                        help="paste deploy ini with [filter:...] sections (repeatable)")
    parser.set_defaults(func=_run)


def _tracing_filter_sections(path: str) -> list[tuple[str, dict[str, str]]]:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    if not parser.read(path):
        raise OSError(f"cannot read {path}")
    found = []
    for section in parser.sections():
        if not section.startswith("filter:"):
            continue
        items = dict(parser.items(section))
        use = items.get("use", "").strip()
        factory = items.get("paste.filter_factory", "").strip()
        if use in _FILTER_USES or factory == _FACTORY:
            found.append((section, items))
    return found


def check(config_files: list[str], config_dirs: list[str] | None = None,
          paste_files: list[str] | None = None) -> list[str]:
    """Every problem found, as sentences naming the file, option and value."""
    from oslo_config import cfg

    from tracing_middleware.config import ConfigError, load_settings

    problems: list[str] = []
    conf = cfg.ConfigOpts()
    try:
        conf([], project="os-tracing-check", default_config_files=config_files,
             default_config_dirs=config_dirs or [], validate_default_values=True)
    except (cfg.Error, OSError) as exc:
        return [f"cannot load configuration: {exc}"]
    targets: list[tuple[str, dict[str, str]]] = [("configuration files", {})]
    for paste in paste_files or []:
        try:
            sections = _tracing_filter_sections(paste)
        except (OSError, configparser.Error) as exc:
            problems.append(f"{paste}: {exc}")
            continue
        if not sections:
            problems.append(f"{paste}: no [filter:...] section uses egg:os-tracing#tracing")
        targets.extend((f"{paste} [{name}]", items) for name, items in sections)
    for where, local_conf in targets:
        try:
            settings = load_settings(conf, local_conf)
        except ConfigError as exc:
            problems.extend(f"{where}: {p}" for p in exc.problems)
            continue
        problems.extend(f"{where}: {p}" for p in _build_problems(settings))
    import os

    from tracing_middleware.plugins.opentelemetry import span_limits

    problems.extend(f"environment: {p}" for p in span_limits(os.environ)[1])
    return problems


def _build_problems(settings: Any) -> list[str]:
    """Build what the service would build (without exporting anything) and report failures."""
    from tracing_middleware.errors import ConfigError
    from tracing_middleware.facade import build_parts

    problems = []
    try:
        _, sampler = build_parts(settings)
    except ConfigError as exc:
        problems.extend(exc.problems)
    else:
        sampler.shutdown()
    if settings.tracer == "jaeger":
        try:
            import jaeger_client  # noqa: F401
        except ImportError:
            problems.append("[tracing] tracer = 'jaeger' needs jaeger-client: "
                            "pip install 'os-tracing[jaeger]'")
    for url in settings.exporters:
        if url.scheme == "otlp+grpc":
            try:
                if settings.tracer == "opentelemetry-sdk":
                    import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
                else:
                    import grpc  # noqa: F401
            except ImportError:
                problems.append(f"[tracing] exporters = {url.display!r} needs "
                                "pip install 'os-tracing[grpc]'")
        if url.scheme == "jaeger+udp" and settings.tracer != "jaeger":
            problems.append(f"[tracing] exporters = {url.display!r} is only supported by "
                            "[tracing] tracer = jaeger")
        if url.scheme.startswith("otlp") and settings.tracer == "jaeger":
            problems.append(f"[tracing] exporters = {url.display!r} is not supported by "
                            "[tracing] tracer = jaeger")
    if settings.integrations is not None:
        import importlib.util

        # Every integration is named after the library it instruments.
        for name in settings.integrations:
            if importlib.util.find_spec(name) is None:
                problems.append(f"[tracing] integrations = {name!r} cannot be enabled: "
                                f"{name} is not installed")
    return problems


def _run(args: argparse.Namespace) -> int:
    problems = check(args.config_file, args.config_dir, args.paste_config)
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print("configuration OK")
    return 0
