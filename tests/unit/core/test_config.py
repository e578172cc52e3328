"""Settings resolution: paste section > config file > environment > built-in default."""

from __future__ import annotations

import logging

import pytest
from oslo_config import cfg

from tracing_middleware import config, tracer
from tracing_middleware.config import ConfigError, load_settings, parse_exporter_url


@pytest.fixture
def conf(tmp_path):
    def make(text: str = "") -> cfg.ConfigOpts:
        path = tmp_path / "service.conf"
        path.write_text(text)
        opts = cfg.ConfigOpts()
        opts([], project="nova", default_config_files=[str(path)])
        return opts
    return make


def test_builtin_defaults(conf):
    """With nothing configured: W3C formats, parent-based always-on, the embedded store."""
    settings = load_settings(conf(), environ={"OS_TRACING_STORE": "sqlite:////tmp/x.db"})
    assert settings.propagators == ("tracecontext", "baggage")
    assert settings.sampler == "parentbased_always_on"
    assert settings.tracer == "opentelemetry"
    assert [e.scheme for e in settings.exporters] == ["sqlite"]
    assert settings.exporters[0].url == "sqlite:////tmp/x.db"
    assert settings.service_name == "nova"


@pytest.mark.parametrize(("argv0", "expected"), [
    ("/usr/local/bin/nova-conductor", "nova-conductor"),
    ("/usr/local/bin/nova-scheduler", "nova-scheduler"),
    ("/usr/local/bin/uwsgi", "nova"),
    ("/usr/local/bin/novacomputex", "nova"),
])
def test_default_name_is_the_program_when_it_is_one_of_the_projects(conf, argv0, expected):
    """One nova.conf serves every nova process: each is named by its own program, and a
    server that runs any API (uwsgi) by the project."""
    assert config._default_service_name(conf(), [argv0]) == expected


def test_environment_beats_default():
    """OTEL_* variables apply when the file leaves an option unset."""
    env = {"OTEL_SERVICE_NAME": "api", "OTEL_PROPAGATORS": "b3,jaeger",
           "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25",
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
           "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,region=r%201"}
    settings = load_settings(None, environ=env)
    assert settings.service_name == "api"
    assert settings.propagators == ("b3", "jaeger")
    assert (settings.sampler, settings.sampler_arg) == ("traceidratio", "0.25")
    assert settings.exporters[0].url == "http://collector:4318/v1/traces"
    assert dict(settings.resource_attributes) == {"deployment.environment": "prod",
                                                  "region": "r 1"}


def test_otel_sdk_disabled_turns_tracing_off():
    """OTEL_SDK_DISABLED=true disables tracing like every OpenTelemetry SDK."""
    assert load_settings(None, environ={"OTEL_SDK_DISABLED": "true"}).enabled is False


def test_grpc_protocol_from_environment():
    """OTEL_EXPORTER_OTLP_PROTOCOL=grpc selects the OTLP/gRPC exporter URL."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
           "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    settings = load_settings(None, environ=env)
    assert settings.exporters[0].scheme == "otlp+grpc"
    assert settings.exporters[0].url == "collector:4317"


def test_file_beats_environment(conf):
    """A value written in the config file wins over the environment."""
    settings = load_settings(conf("[tracing]\nsampler = always_off\n"),
                             environ={"OTEL_TRACES_SAMPLER": "always_on"})
    assert settings.sampler == "always_off"


def test_paste_section_beats_file(conf):
    """A key in the paste filter section overrides the config file for that pipeline."""
    settings = load_settings(conf("[tracing]\nservice_name = from-file\n"),
                             {"service_name": "from-paste", "propagators": "b3multi,baggage"})
    assert settings.service_name == "from-paste"
    assert settings.propagators == ("b3multi", "baggage")


def test_every_problem_is_reported_with_option_and_value(conf):
    """All bad values are listed at once, each naming the option, the value and choices."""
    with pytest.raises(ConfigError) as info:
        load_settings(conf("[tracing]\nsampler = sometimes\n"),
                      {"propagators": "w3c", "scope_manager": "fibers",
                       "exporters": "ftp://x", "excluded_paths": "(unclosed"})
    text = "\n".join(info.value.problems)
    assert len(info.value.problems) == 5
    assert "[tracing] sampler = 'sometimes'" in text and "parentbased_always_on" in text
    assert "[tracing] propagators = 'w3c'" in text and "b3multi" in text
    assert "[tracing] scope_manager = 'fibers'" in text
    assert "[tracing] exporters = 'ftp://x'" in text
    assert "[tracing] excluded_paths = '(unclosed'" in text


def test_unknown_tracer_is_a_config_error():
    """tracer names come from the os_tracing.tracers entry point namespace."""
    with pytest.raises(ConfigError, match=r"tracer = 'zipkin'.*jaeger, noop, opentelemetry"):
        load_settings(None, {"tracer": "zipkin"}, environ={})


def test_bad_typed_paste_value_names_option():
    """A paste value of the wrong type is reported, not raised as a bare ValueError."""
    with pytest.raises(ConfigError, match=r"\[tracing\] traceresponse = 'maybe'"):
        load_settings(None, {"traceresponse": "maybe"}, environ={})


def test_secret_values_are_not_echoed():
    """hmac_keys never appear in a problem report or in repr(Settings)."""
    settings = load_settings(None, {"hmac_keys": "s3cr3t-key", "propagators": "osprofiler"},
                             environ={})
    assert "s3cr3t-key" not in repr(settings)
    assert settings.hmac_keys == ("s3cr3t-key",)


def test_osprofiler_without_keys_is_reported():
    """The osprofiler format cannot verify or sign anything without a key."""
    with pytest.raises(ConfigError, match="hmac_keys is empty"):
        load_settings(None, {"propagators": "osprofiler"}, environ={})


@pytest.mark.parametrize(("raw", "scheme", "url"), [
    ("otlp+http://h:4318", "otlp+http", "http://h:4318/v1/traces"),
    ("otlp+https://h/custom/path", "otlp+https", "https://h/custom/path"),
    ("otlp+grpc://h", "otlp+grpc", "h:4317"),
    ("sqlite:////var/lib/t.db", "sqlite", "sqlite:////var/lib/t.db"),
    ("console://", "console", ""),
    ("jaeger+udp://agent", "jaeger+udp", "agent:6831"),
])
def test_exporter_urls(raw, scheme, url):
    """Each documented exporter URL form maps to the endpoint its exporter uses."""
    parsed = parse_exporter_url(raw)
    assert (parsed.scheme, parsed.url) == (scheme, url)


def test_exporter_url_password_is_redacted():
    """A password inside an exporter URL is masked wherever the URL is shown."""
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"exporters": "zipkin://user:hunter2@h:9411"}, environ={})
    assert "hunter2" not in str(info.value)
    assert parse_exporter_url("otlp+http://u:hunter2@h:4318").display.count("hunter2") == 0


def test_bad_config_disables_tracing_with_one_error_per_problem(caplog):
    """A misconfigured service keeps running untraced; each problem is logged once."""
    caplog.set_level(logging.ERROR, logger="tracing_middleware")
    for _ in range(3):
        assert tracer.from_config(None, {"sampler": "bogus"}) is None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "[tracing] sampler = 'bogus'" in errors[0].getMessage()
    assert "disabled" in errors[0].getMessage()


def test_default_integrations_are_the_documented_ones():
    """The default set matches the documentation of the integrations option."""
    assert config.DEFAULT_INTEGRATIONS == (
        "requests", "urllib3", "keystoneauth1", "sqlalchemy", "threading", "futurist",
        "logging")


REGISTRIES = [
    ("propagators", "tracing_middleware.propagation", "PROPAGATORS"),
    ("sampler", "tracing_middleware.sampling", "SAMPLERS"),
    ("scope_manager", "tracing_middleware.scope", "SCOPE_MANAGERS"),
    ("integrations", "tracing_middleware.integrations", "INTEGRATIONS"),
]


@pytest.mark.parametrize(("option", "module", "attribute"), REGISTRIES)
def test_configuration_accepts_exactly_the_registry_keys(option, module, attribute,
                                                         monkeypatch):
    """Each name in the registry is accepted and a name the registry does not hold is
    refused naming the option; a name added to the registry alone is then accepted, so a
    new format, sampler, scope manager or integration is one entry in one place."""
    import importlib

    registry = getattr(importlib.import_module(module), attribute)
    hmac = {"hmac_keys": "k"}  # osprofiler needs a key
    for name in registry:
        assert load_settings(None, {option: name, **hmac}, environ={})
    with pytest.raises(ConfigError, match=rf"\[tracing\] {option} = 'brand_new'"):
        load_settings(None, {option: "brand_new"}, environ={})
    if isinstance(registry, dict):
        monkeypatch.setitem(registry, "brand_new", registry[next(iter(registry))])
    else:
        monkeypatch.setattr(importlib.import_module(module), attribute,
                            (*registry, "brand_new"))
    assert load_settings(None, {option: "brand_new"}, environ={})


def test_option_help_lists_the_registry_keys():
    """The generated sample configuration names every value the registries hold."""
    from tracing_middleware import integrations, opts, propagation, sampling, scope

    helps = {opt.dest: opt.help for opt in opts.OPTS}
    for option, names in (("propagators", propagation.PROPAGATORS),
                          ("sampler", sampling.SAMPLERS),
                          ("scope_manager", scope.SCOPE_MANAGERS),
                          ("integrations", integrations.INTEGRATIONS)):
        assert all(name in helps[option] for name in names), option
