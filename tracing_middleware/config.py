"""One frozen :class:`Settings` per pipeline, from paste ``local_conf``, oslo.config,
the environment and the built-in defaults, in that order of precedence.

Every value is checked here, at load time, and every problem is reported with the option
name, the bad value and what is accepted. The caller decides what a bad value costs: the
edges disable tracing for the process (one ERROR line per problem) and carry on;
``os-tracing check-config`` prints the problems and exits non-zero.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from oslo_config import cfg, types

from tracing_middleware import integrations, opts, propagation, sampling, scope
from tracing_middleware.errors import ConfigError
from tracing_middleware.export.store_url import default_store_url
from tracing_middleware.integrations import DEFAULT_INTEGRATIONS

__all__ = [
    "ConfigError",
    "ExporterURL",
    "DEFAULT_INTEGRATIONS",
    "default_store_url",
    "Settings",
    "load_settings",
    "otlp_env",
    "parse_exporter_url",
    "parse_key_values",
]

EXPORTER_SCHEMES = ("otlp+http", "otlp+https", "otlp+grpc", "sqlite", "console", "jaeger+udp")


@dataclasses.dataclass(frozen=True)
class ExporterURL:
    """A parsed ``exporters`` entry. ``url`` is what the exporter connects to."""

    scheme: str
    url: str
    raw: str

    @property
    def display(self) -> str:
        """The URL with any password removed, safe to log."""
        return _redact_url(self.raw)


@dataclasses.dataclass(frozen=True)
class Settings:
    enabled: bool = True
    service_name: str = "unknown_service"
    tracer: str = "opentelemetry"
    propagators: tuple[str, ...] = ("tracecontext", "baggage")
    sampler: str = "parentbased_always_on"
    sampler_arg: str | None = None
    upstream_sampling_rate_limit: float = 100.0
    exporters: tuple[ExporterURL, ...] = ()
    scope_manager: str = "contextvars"
    hmac_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    integrations: tuple[str, ...] | None = None
    excluded_paths: tuple[re.Pattern[str], ...] = ()
    traceresponse: bool = False
    propagation_targets: tuple[re.Pattern[str], ...] = ()
    rpc_context_fields: bool = False
    resource_attributes: tuple[tuple[str, str], ...] = ()
    sensitive_query_keys: frozenset[str] = frozenset()
    max_spans_per_unit: int = 1000
    sql_transaction_spans: bool = False
    sql_fold_repeats: bool = True
    max_queue_size: int = 2048
    export_batch_size: int = 512
    export_interval_ms: int = 1000
    export_timeout_ms: int = 10000
    metrics: bool = True
    metrics_exporters: tuple[ExporterURL, ...] = ()
    metrics_interval: int = 60
    metrics_temporality: str = "cumulative"
    metrics_max_series: int = 1000
    metrics_histogram_buckets: tuple[int, ...] = ()

    def engine_key(self) -> tuple[Any, ...]:
        """What must be equal for two pipelines to share one tracer engine."""
        return (self.service_name, self.tracer, self.propagators, self.sampler,
                self.sampler_arg, self.upstream_sampling_rate_limit, self.exporters,
                self.scope_manager, self.hmac_keys, self.resource_attributes,
                self.max_spans_per_unit, self.sql_transaction_spans, self.sql_fold_repeats,
                self.max_queue_size, self.export_batch_size, self.export_interval_ms,
                self.export_timeout_ms)


def _redact_url(raw: str) -> str:
    try:
        parts = urllib.parse.urlsplit(raw)
    except ValueError:
        return "<unparsable>"
    if parts.password is None:
        return raw
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def parse_exporter_url(raw: str) -> ExporterURL:
    """``otlp+http://h:4318`` -> the OTLP/HTTP traces endpoint, and so on.

    Raises ``ValueError`` naming what is accepted. An OTLP/HTTP URL without a path gets
    ``/v1/traces`` appended, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` does.
    """
    value = raw.strip()
    if "://" not in value:
        raise ValueError(f"expected a URL with one of the schemes {', '.join(EXPORTER_SCHEMES)}")
    scheme, rest = value.split("://", 1)
    scheme = scheme.lower()
    if scheme not in EXPORTER_SCHEMES:
        raise ValueError(
            f"unknown scheme {scheme!r}; expected one of {', '.join(EXPORTER_SCHEMES)}")
    if scheme == "console":
        return ExporterURL(scheme, "", raw)
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ValueError("expected sqlite:///relative/path or sqlite:////absolute/path")
        return ExporterURL(scheme, value, raw)
    parts = urllib.parse.urlsplit("x://" + rest)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("invalid port")
    if not parts.hostname:
        raise ValueError("missing host")
    if scheme in ("otlp+http", "otlp+https"):
        path = parts.path if parts.path not in ("", "/") else "/v1/traces"
        http = scheme.split("+", 1)[1]
        netloc = parts.netloc
        return ExporterURL(scheme, urllib.parse.urlunsplit(
            (http, netloc, path, parts.query, "")), raw)
    if scheme == "otlp+grpc":
        return ExporterURL(scheme, f"{parts.hostname}:{port or 4317}", raw)
    return ExporterURL(scheme, f"{parts.hostname}:{port or 6831}", raw)


def _env_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def otlp_env(name: str, environ: Mapping[str, str] | None = None) -> str:
    """``OTEL_EXPORTER_OTLP_TRACES_<name>``, else ``OTEL_EXPORTER_OTLP_<name>``, else ''."""
    environ = os.environ if environ is None else environ
    return (environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}")
            or environ.get(f"OTEL_EXPORTER_OTLP_{name}") or "").strip()


def parse_key_values(value: str) -> dict[str, str]:
    """``k1=v1,k2=v2``, percent-encoded, as OpenTelemetry's ``OTEL_RESOURCE_ATTRIBUTES``
    and ``OTEL_EXPORTER_OTLP_HEADERS`` are written; items without a key are skipped."""
    found: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        if sep and key.strip():
            found[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(val.strip())
    return found


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Option values implied by OpenTelemetry's environment variables."""
    values: dict[str, Any] = {}
    if "OTEL_SDK_DISABLED" in environ:
        values["enabled"] = not _env_bool(environ["OTEL_SDK_DISABLED"])
    if environ.get("OTEL_SERVICE_NAME"):
        values["service_name"] = environ["OTEL_SERVICE_NAME"]
    if environ.get("OTEL_PROPAGATORS"):
        values["propagators"] = [p.strip() for p in environ["OTEL_PROPAGATORS"].split(",")
                                 if p.strip()]
    if environ.get("OTEL_TRACES_SAMPLER"):
        values["sampler"] = environ["OTEL_TRACES_SAMPLER"].strip()
    if environ.get("OTEL_TRACES_SAMPLER_ARG"):
        values["sampler_arg"] = environ["OTEL_TRACES_SAMPLER_ARG"].strip()
    endpoint = otlp_env("ENDPOINT", environ)
    if endpoint:
        if (otlp_env("PROTOCOL", environ) or "http/protobuf") == "grpc":
            hostport = endpoint.split("://", 1)[-1].rstrip("/")
            values["exporters"] = ["otlp+grpc://" + hostport]
        else:
            values["exporters"] = ["otlp+" + endpoint]
    if environ.get("OTEL_RESOURCE_ATTRIBUTES"):
        values["resource_attributes"] = parse_key_values(environ["OTEL_RESOURCE_ATTRIBUTES"])
    return values


def _is_user_set(conf: cfg.ConfigOpts, name: str) -> bool:
    """True when ``[tracing] name`` came from a file, the CLI or an override."""
    try:
        location = conf.get_location(name, opts.GROUP)
    except Exception:  # oslo.config too old, or not parsed yet
        return True
    if location is None:
        return False
    return location.location not in (cfg.Locations.opt_default, cfg.Locations.set_default)


def _default_service_name(conf: cfg.ConfigOpts | None,
                          argv: list[str] | None = None) -> str:
    """The program's name when it is one of the project's (``nova-conductor`` for
    project ``nova``: one ``nova.conf`` serves every nova process), else the project,
    else the program (``uwsgi`` runs every API: its name says nothing)."""
    argv = sys.argv if argv is None else argv
    project = getattr(conf, "project", None) if conf is not None else None
    prog = os.path.basename(argv[0]) if argv and argv[0] else ""
    if project and prog.startswith(f"{project}-"):
        return prog
    if project:
        return str(project)
    if prog and prog not in ("-c", "python", "python3") and not prog.endswith(".py"):
        return prog
    return "unknown_service"


def _check_choice(name: str, value: str, choices: Iterable[str]) -> str | None:
    if value in choices:
        return None
    return (f"[tracing] {name} = {value!r} is not valid; expected one of "
            f"{', '.join(choices)}")


def _compile_all(name: str, patterns: list[str], problems: list[str]) -> tuple[
        re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            problems.append(f"[tracing] {name} = {pattern!r} is not a valid regular "
                            f"expression ({exc})")
    return tuple(compiled)


def load_settings(conf: cfg.ConfigOpts | None = None,
                  local_conf: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every option: paste ``local_conf`` > config file > environment > default.

    Raises :class:`ConfigError` listing every problem (not only the first), so one
    ``check-config`` run shows all of them.
    """
    environ = os.environ if environ is None else environ
    local_conf = local_conf or {}
    if conf is not None:
        opts.register_opts(conf)
    env_values = _from_env(environ)
    problems: list[str] = []
    raw: dict[str, Any] = {}
    for opt in opts.OPTS:
        name = opt.dest
        if name in local_conf:
            try:
                # the option's type checks strings and values alike (ranges included)
                raw[name] = None if local_conf[name] is None else opt.type(local_conf[name])
            except (ValueError, TypeError) as exc:
                shown = "***" if opt.secret else repr(local_conf[name])
                problems.append(f"[tracing] {name} = {shown} (paste filter section) is not "
                                f"valid: {exc}")
                raw[name] = opt.default
            continue
        if conf is not None and _is_user_set(conf, name):
            try:
                raw[name] = getattr(conf[opts.GROUP], name)
            except (ValueError, cfg.ConfigFileValueError) as exc:
                problems.append(f"[tracing] {name} in the configuration file is not "
                                f"valid: {exc}")
                raw[name] = opt.default
            continue
        if name in env_values:
            raw[name] = env_values[name]
            continue
        raw[name] = opt.default
    return _build(raw, conf, problems, environ)


def _build(raw: dict[str, Any], conf: cfg.ConfigOpts | None, problems: list[str],
           environ: Mapping[str, str]) -> Settings:
    lower = _lower_list
    propagators = tuple(dict.fromkeys(lower(raw["propagators"]) or ["none"]))
    for name in propagators:
        problem = _check_choice("propagators", name, propagation.PROPAGATORS)
        if problem:
            problems.append(problem)
    sampler = (raw["sampler"] or "").strip().lower()
    problem = _check_choice("sampler", sampler, sampling.SAMPLERS)
    if problem:
        problems.append(problem)
    scope_manager = (raw["scope_manager"] or "").strip().lower()
    problem = _check_choice("scope_manager", scope_manager, scope.SCOPE_MANAGERS)
    if problem:
        problems.append(problem)
    enabled_integrations: tuple[str, ...] | None = None
    if raw["integrations"] is not None:
        enabled_integrations = tuple(dict.fromkeys(lower(raw["integrations"])))
        for name in enabled_integrations:
            problem = _check_choice("integrations", name, integrations.INTEGRATIONS)
            if problem:
                problems.append(problem)
    exporters: list[ExporterURL] = []
    for entry in raw["exporters"] if raw["exporters"] else [default_store_url(environ)]:
        try:
            exporters.append(parse_exporter_url(entry))
        except ValueError as exc:
            problems.append(f"[tracing] exporters = {_redact_url(entry)!r} is not valid: {exc}")
    tracer = (raw["tracer"] or "").strip().lower()
    available = _available_tracers()
    if available is not None and tracer not in available:
        problems.append(f"[tracing] tracer = {tracer!r} is not valid; expected one of "
                        f"{', '.join(sorted(available))}")
    hmac_keys = tuple(k for k in (raw["hmac_keys"] or []) if k)
    if "osprofiler" in propagators and not hmac_keys:
        problems.append("[tracing] propagators includes 'osprofiler' but [tracing] hmac_keys "
                        "is empty; osprofiler headers cannot be verified or signed")
    for opt in opts.OPTS:  # ranges are the options' own; an empty number is not caught
        if raw[opt.dest] is None and isinstance(opt.type, (types.Integer, types.Float)):
            problems.append(f"[tracing] {opt.dest} is empty; expected a number "
                            f"(default {opt.default})")
    excluded = _compile_all("excluded_paths", list(raw["excluded_paths"] or []), problems)
    targets = _compile_all("propagation_targets", list(raw["propagation_targets"] or []),
                           problems)
    metrics_exporters = _metrics_exporters(raw, exporters, problems)
    buckets = _histogram_buckets(raw["metrics_histogram_buckets"], problems)
    service_name = (raw["service_name"] or "").strip() or _default_service_name(conf)
    if problems:
        raise ConfigError(problems)
    return Settings(
        enabled=bool(raw["enabled"]),
        service_name=service_name,
        tracer=tracer,
        propagators=tuple(p for p in propagators if p != "none"),
        sampler=sampler,
        sampler_arg=raw["sampler_arg"],
        upstream_sampling_rate_limit=float(raw["upstream_sampling_rate_limit"]),
        exporters=tuple(exporters),
        scope_manager=scope_manager,
        hmac_keys=hmac_keys,
        integrations=enabled_integrations,
        excluded_paths=excluded,
        traceresponse=bool(raw["traceresponse"]),
        propagation_targets=targets,
        rpc_context_fields=bool(raw["rpc_context_fields"]),
        resource_attributes=tuple(sorted(dict(raw["resource_attributes"] or {}).items())),
        sensitive_query_keys=frozenset(k.lower() for k in raw["sensitive_query_keys"] or []),
        sql_transaction_spans=bool(raw["sql_transaction_spans"]),
        sql_fold_repeats=bool(raw["sql_fold_repeats"]),
        max_spans_per_unit=raw["max_spans_per_unit"],
        max_queue_size=raw["max_queue_size"],
        export_batch_size=raw["export_batch_size"],
        export_interval_ms=raw["export_interval_ms"],
        export_timeout_ms=raw["export_timeout_ms"],
        metrics=bool(raw["metrics"]),
        metrics_exporters=metrics_exporters,
        metrics_interval=raw["metrics_interval"],
        metrics_temporality=(raw["metrics_temporality"] or "cumulative"),
        metrics_max_series=raw["metrics_max_series"],
        metrics_histogram_buckets=buckets,
    )


_METRICS_SCHEMES = ("otlp+http", "otlp+https", "otlp+grpc", "sqlite")


def _metrics_exporters(raw: dict[str, Any], exporters: list[ExporterURL],
                       problems: list[str]) -> tuple[ExporterURL, ...]:
    """``metrics_exporters``, or by default the embedded store the spans go to."""
    if not raw["metrics_exporters"]:
        return tuple(e for e in exporters if e.scheme == "sqlite")
    found = []
    for entry in raw["metrics_exporters"]:
        try:
            parsed = parse_exporter_url(entry)
        except ValueError as exc:
            problems.append(f"[tracing] metrics_exporters = {_redact_url(entry)!r} is not "
                            f"valid: {exc}")
            continue
        if parsed.scheme not in _METRICS_SCHEMES:
            problems.append(f"[tracing] metrics_exporters = {parsed.display!r} is not "
                            f"valid: metrics go to {', '.join(_METRICS_SCHEMES)} URLs")
            continue
        found.append(parsed)
    return tuple(found)


def _histogram_buckets(values: Any, problems: list[str]) -> tuple[int, ...]:
    """Bucket bounds in ms as ascending whole nanoseconds."""
    bounds: list[int] = []
    for value in _lower_list(values):
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not number > 0 or number == float("inf"):
            problems.append(f"[tracing] metrics_histogram_buckets = {value!r} is not "
                            "valid; expected positive numbers of milliseconds")
            return ()
        bounds.append(round(number * 1_000_000))
    if bounds != sorted(set(bounds)):
        problems.append(f"[tracing] metrics_histogram_buckets = {','.join(values)!r} is "
                        "not valid; the bounds must be ascending and distinct")
        return ()
    return tuple(bounds)


def _lower_list(values: Any) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    return [str(v).strip().lower() for v in values if str(v).strip()]


def _available_tracers() -> frozenset[str] | None:
    """Names registered under ``os_tracing.tracers``; ``None`` if metadata is unreadable."""
    try:
        from importlib.metadata import entry_points

        names = frozenset(ep.name for ep in entry_points(group="os_tracing.tracers"))
    except Exception:
        return None
    return names or None
